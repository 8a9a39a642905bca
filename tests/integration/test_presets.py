"""Presets: each one builds, trains and prunes at its rates, also from the CLI (the table and
precedence: tests/unit/test_presets.py)."""

import mlflow
import numpy as np
import pytest

from conftest import invoke
from lth_tf import settings as config
from lth_tf.pruning import counts as pruning
from lth_tf.tracking import store as tracking
from lth_tf.data.splits import Splits
from lth_tf.settings.presets import PRESETS
from pipelines.experiments import lottery, trial


FAST = {"iterations": 4, "eval_interval": 2, "batch_size": 8, "rounds": 1, "jit_compile": False,
        "steps_per_execution": 2, "log_models": "none"}


def _random_splits(shape, augment):
    rng = np.random.default_rng(0)
    make = lambda n: (rng.random((n, *shape), dtype=np.float32), rng.integers(0, 10, n).astype("int64"))  # noqa: E731
    return Splits("random", make(48), make(16), make(16), 10, augment=augment)


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_builds_trains_and_prunes_at_its_rates(store, name):
    cfg = config.build_config({"preset": name, **FAST})
    splits = _random_splits((28, 28, 1) if name == "lenet" else (16, 16, 3), cfg.dataset.augment)
    result = lottery.run(cfg, splits=splits, echo=lambda _: None)

    assert all(r.early_stop_iteration in (2, 4) and np.isfinite(r.final_test_accuracy) for r in result.rounds)
    dense, ticket = result.masks
    assert all(m.all() for m in dense.values())
    if cfg.pruning.strategy == "global":
        total = sum(m.size for m in dense.values())
        assert sum(m.sum() for m in ticket.values()) == pruning.surviving_count(total, cfg.pruning.global_rate, 1)
    else:
        model = lottery.build_masked_model(cfg, splits)
        rates = trial.layer_rates(model, cfg)
        assert set(rates.values()) <= {cfg.pruning.conv_rate, cfg.pruning.fc_rate, cfg.pruning.fc_rate / 2}
        for key, mask in ticket.items():
            assert mask.sum() == pruning.surviving_count(mask.size, rates[key], 1), key
    for unpruned in cfg.model.unpruned_layers:
        assert not any(key.endswith(unpruned.lstrip("*")) for key in ticket)
    parent = mlflow.get_run(result.run_id)
    assert parent.data.params["preset"] == name and parent.data.params["model"] == cfg.model.model


def test_cli_runs_a_preset_on_tfds_cifar10_under_mock_data(store, capsys):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=40):
        code, out, err = invoke(["run", "--preset", "conv2", "--validation-size", "10", "--iterations", "4",
                                 "--eval-interval", "2", "--batch-size", "10", "--rounds", "1", "--no-jit-compile",
                                 "--log-models", "none"], capsys)
    assert code == 0, err
    assert "lth-tf: conv2 on tfds:cifar10 (30 training examples)" in out and "ticket round 1 " in out
    mlflow.set_tracking_uri(tracking.default_tracking_uri())
    parent = mlflow.search_runs(search_all_experiments=True, filter_string="tags.kind = 'experiment'",
                                output_format="list")[0]
    assert parent.data.params["preset"] == "conv2" and parent.data.params["learning_rate"] == "0.0002"
    assert parent.data.params["prunable_weights"] == str(1728 + 36864 + 16 * 16 * 64 * 256 + 256 * 256 + 2560)
