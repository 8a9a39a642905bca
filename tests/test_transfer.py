"""Ticket transfer: the source's masks and θ0, bit for bit, trained on other data with another optimizer."""

import mlflow
import numpy as np
import pytest

from conftest import invoke
from lth_tf import artifacts, tracking, weights
from lth_tf.data.splits import Splits
from lth_tf.errors import UserError
from lth_tf.tfkeras import keras
from pipelines import child_runs, lottery, transfer


def three_class_splits():
    """Other 8x8 'images' (darker, 3 classes): another dataset of the same input shape."""
    rng = np.random.default_rng(7)

    def make(n):
        x = rng.random((n, 8, 8, 1), dtype=np.float32) * 0.5
        return x, np.digitize(x.mean(axis=(1, 2, 3)), [0.245, 0.255]).astype("int64")

    return Splits("other", make(300), make(60), make(60), num_classes=3)


def test_transferred_masks_and_theta0_are_the_sources_and_the_output_layer_is_redrawn(
        store, tiny_config, tiny_splits, monkeypatch):
    tiny_config.pruning.rounds, tiny_config.model.model = 1, "conftest:small_model"
    keras.utils.set_random_seed(0)
    source = lottery.run(tiny_config, splits=tiny_splits, echo=lambda _: None)

    starts = {}

    class Watch(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            tags = mlflow.active_run().data.tags
            starts[(tags["kind"], tags["round"])] = (weights.take(self.model), tags)

    real = child_runs.train_round
    monkeypatch.setattr(child_runs, "train_round",
                        lambda model, splits, hp, seed, callbacks, *rest: real(model, splits, hp, seed,
                                                                               [*callbacks, Watch()], *rest))
    target = tiny_config
    target.training.optimizer, target.training.learning_rate, target.controls.controls = "sgd", 0.05, ("reinit",)
    result = transfer.run(target, f"{source.run_id}:1", compare_to=source.run_id, echo=lambda _: None,
                          splits=three_class_splits())

    assert [(r.kind, r.round) for r in result.rounds] == [("transfer", 1), ("reinit", 1)]
    source_mask = source.trials[0][("ticket", 1)]
    theta0 = artifacts.load_arrays(source.run_id, "initial_weights/seed_0.npz")
    runs = mlflow.search_runs([result.experiment_id], output_format="list")
    child = next(r for r in runs if r.data.tags.get("kind") == "transfer")
    assert child.data.tags["source_run"] == source.run_id and child.data.tags["source_round"] == "1"
    moved = artifacts.load_arrays(child.info.run_id, "masks/round_01.npz")
    for key in ("fc1", "fc2"):
        np.testing.assert_array_equal(moved[key], source_mask[key])  # bit for bit
    assert moved["output"].shape == (16, 3) and moved["output"].all()  # other class count: unpruned
    start, _ = starts[("transfer", "1")]
    for index, name in enumerate(["fc1/kernel", "fc1/bias", "fc2/kernel", "fc2/bias"]):
        expected = theta0[name] * source_mask[name.split("/")[0]] if name.endswith("kernel") else theta0[name]
        np.testing.assert_array_equal(start[index], expected)
    assert start[4].shape == (16, 3)  # the output layer, drawn afresh for 3 classes
    parent = mlflow.get_run(result.run_id)
    assert parent.data.params["source_run"] == source.run_id
    assert parent.data.params["reinitialized_output"] == "output/kernel,output/bias"
    listed = [a.path for a in mlflow.tracking.MlflowClient().list_artifacts(result.run_id, "transfer")]
    assert listed == [transfer.FIGURE]


@pytest.mark.parametrize("spec, message", [
    ("abc", "32-hex-digit run id"),
    ("0" * 32 + ":x", "the round must be a number or 'all'"),
])
def test_bad_ticket_specs_are_one_line_errors(spec, message):
    with pytest.raises(UserError, match=message):
        transfer.parse_ticket(spec)


def test_cli_refuses_an_unknown_source_run_in_one_line(store, capsys):
    tracking.open_experiment(None, "empty")
    code, _, err = invoke(["transfer", "--ticket", "f" * 32, "--iterations", "40", "--eval-interval", "10"], capsys)
    assert code == 2
    assert err.strip().splitlines()[-1].startswith(f"Error: no experiment or run '{'f' * 32}'")
