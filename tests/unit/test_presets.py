"""Presets: the paper's table by name, overridable, and each one builds, trains and prunes at its rates."""

from pathlib import Path

import mlflow
import numpy as np
import pytest

from conftest import invoke
from lth_tf import config, pruning, tracking
from lth_tf.data.splits import Splits
from lth_tf.errors import UserError
from lth_tf.presets import PRESETS, markdown_table, supermask_table
from pipelines import lottery, trial

FAST = {"iterations": 4, "eval_interval": 2, "batch_size": 8, "rounds": 1, "jit_compile": False,
        "steps_per_execution": 2, "log_models": "none"}


def test_presets_set_the_papers_table():
    lenet, conv6, resnet, vgg = (config.build_config({"preset": p}) for p in ("lenet", "conv6", "resnet18", "vgg19"))
    assert (lenet.model.model, lenet.dataset.dataset, lenet.training.iterations, lenet.training.batch_size,
            lenet.training.optimizer, lenet.training.learning_rate, lenet.pruning.fc_rate, lenet.output_rate) == (
        "lenet_300_100", "tfds:mnist", 50_000, 60, "adam", 1.2e-3, 0.2, 0.1)
    assert (conv6.model.model, conv6.dataset.dataset, conv6.training.iterations, conv6.training.learning_rate,
            conv6.pruning.conv_rate, conv6.pruning.fc_rate, conv6.pruning.strategy) == (
        "conv6", "tfds:cifar10", 30_000, 3e-4, 0.15, 0.2, "layerwise")
    t = resnet.training
    assert (resnet.model.model, t.iterations, t.batch_size, t.optimizer, t.momentum, t.learning_rate,
            t.warmup_iterations, t.lr_drops, t.weight_decay) == (
        "resnet20", 30_000, 128, "sgd", 0.9, 0.03, 20_000, (20_000, 25_000), 1e-4)
    assert (resnet.pruning.strategy, resnet.pruning.global_rate, resnet.model.unpruned_layers,
            resnet.dataset.augment) == ("global", 0.2, ("*_shortcut", "output"), True)
    assert (vgg.training.iterations, vgg.training.batch_size, vgg.training.learning_rate, vgg.training.lr_drops,
            vgg.training.warmup_iterations, vgg.model.unpruned_layers) == (
        112_000, 64, 0.1, (56_000, 84_000), 10_000, ("output",))


def test_precedence_is_defaults_then_preset_then_yaml_then_flags(tmp_path):
    (tmp_path / "exp.yaml").write_text("preset: conv4\nlearning_rate: 0.001\niterations: 1000\n")
    yaml_settings = config.read_yaml(str(tmp_path / "exp.yaml"))
    cfg = config.build_config({**yaml_settings, "iterations": 500})  # how `lth-tf run` merges flags over YAML
    assert cfg.preset == "conv4" and cfg.model.model == "conv4"  # from the preset
    assert cfg.training.learning_rate == 0.001 and cfg.training.iterations == 500  # YAML, then the flag
    assert cfg.pruning.rounds == 15  # untouched by all: the default
    assert config.build_config({"preset": "conv4", "conv_rate": 0.3}).pruning.conv_rate == 0.3
    assert cfg.flat()["preset"] == "conv4"
    ran = config.Subject("lottery")
    assert config.build_config({"preset": "conv2"}).identity(ran) == config.build_config(
        {k: v for k, v in PRESETS["conv2"].items()}).identity(ran)  # the identity follows the settings
    with pytest.raises(UserError, match="unknown preset 'conv9'; choose from lenet, conv2"):
        config.build_config({"preset": "conv9"})


def test_readme_shows_the_preset_table():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert markdown_table() in readme and supermask_table() in readme


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


def test_presets_command_lists_the_table(capsys):
    code, out, _ = invoke(["presets"], capsys)
    assert code == 0 and out.startswith(markdown_table()) and out.strip().endswith(supermask_table())
