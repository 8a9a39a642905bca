"""Ticket transfer: the source's masks and θ0, bit for bit, trained on other data with another optimizer."""

import mlflow
import numpy as np
from mlflow.tracking import MlflowClient

from conftest import invoke
from lth_tf.tracking import artifacts, store as tracking
from lth_tf.training import weights
from lth_tf.settings import build_config
from lth_tf.data.splits import Splits
from lth_tf.tfkeras import keras
from pipelines.experiments import lottery, transfer
from pipelines.runs import tickets


def three_class_splits():
    """Other 8x8 'images' (darker, 3 classes): another dataset of the same input shape."""
    rng = np.random.default_rng(7)

    def make(n):
        x = rng.random((n, 8, 8, 1), dtype=np.float32) * 0.5
        return x, np.digitize(x.mean(axis=(1, 2, 3)), [0.245, 0.255]).astype("int64")

    return Splits("other", make(300), make(60), make(60), num_classes=3)


def test_transferred_masks_and_theta0_are_the_sources_and_the_output_layer_is_redrawn(
        store, tiny_config, tiny_splits, starts):
    tiny_config.pruning.rounds, tiny_config.model.model = 1, "conftest:small_model"
    keras.utils.set_random_seed(0)
    source = lottery.run(tiny_config, splits=tiny_splits, echo=lambda _: None)
    starts.clear()
    target = tiny_config
    target.training.optimizer, target.training.learning_rate, target.controls.controls = "sgd", 0.05, ("reinit",)
    target.controls.control_rounds = ()
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


def test_cli_refuses_an_unknown_source_run_in_one_line(store, capsys):
    tracking.open_experiment(None, "empty")
    code, _, err = invoke(["transfer", "--ticket", "f" * 32, "--iterations", "40", "--eval-interval", "10"], capsys)
    assert code == 2
    assert err.strip().splitlines()[-1].startswith(f"Error: no experiment or run '{'f' * 32}'")


def bn_model(input_shape=(8, 8, 1), classes=4, nonaffine_batchnorm=False):
    """A builder that takes --nonaffine-batchnorm, as the zoo's VGG and ResNet do."""
    from lth_tf.models.registry import batch_norm

    inputs = keras.Input(input_shape)
    x = keras.layers.Dense(24, name="fc1")(keras.layers.Flatten()(inputs))
    x = keras.layers.ReLU()(batch_norm("bn", nonaffine_batchnorm)(x))
    return keras.Model(inputs, keras.layers.Dense(classes, name="output")(x))


def _source(tiny_config, tiny_splits, **settings):
    """A finished tiny experiment (XLA off: faster for networks this small) to transfer from."""
    tiny_config.training.jit_compile = False
    for name, value in settings.items():
        groups = (tiny_config.model, tiny_config.training, tiny_config.controls, tiny_config.pruning, tiny_config)
        setattr(next(g for g in groups if hasattr(g, name)), name, value)
    keras.utils.set_random_seed(0)
    return lottery.run(tiny_config, splits=tiny_splits, echo=lambda _: None)


def test_every_network_of_a_transfer_starts_from_one_fresh_output_layer(store, tiny_config, tiny_splits, starts):
    """Other class count: the ticket of every round and each control start from the same untrained head,
    the target network as built from the seed (before, later tickets started from a trained one)."""
    source = _source(tiny_config, tiny_splits, model="conftest:small_model")
    starts.clear()
    tiny_config.controls.controls, tiny_config.controls.control_rounds = ("reinit", "random_prune", "noise"), ()
    result = transfer.run(tiny_config, f"{source.run_id}:all", echo=lambda _: None, splits=three_class_splits())

    assert sorted(starts) == sorted([("transfer", "0"), *[(k, r) for r in "12"
                                     for k in ("transfer", "reinit", "random_prune", "noise")]])
    head = lottery.build_masked_model(tiny_config, three_class_splits(), None, 0)
    head = weights.take(head)[4:]  # output/kernel, output/bias as built from seed 0 for 3 classes
    for key, (start, _) in starts.items():
        for got, expected in zip(start[4:], head, strict=True):
            np.testing.assert_array_equal(got, expected, err_msg=str(key))
    theta0 = artifacts.load_arrays(source.run_id, "initial_weights/seed_0.npz")
    mask = source.trials[0][("ticket", 2)]["fc1"]
    reinit = starts[("reinit", "2")][0][0]
    assert (reinit != 0).sum() == mask.sum() and not np.isclose(reinit[mask], theta0["fc1/kernel"][mask]).any()
    stored = artifacts.load_arrays(result.run_id, "initial_weights/seed_0.npz")  # what export --untrained reads
    np.testing.assert_array_equal(stored["fc1/kernel"], theta0["fc1/kernel"])
    np.testing.assert_array_equal(stored["output/kernel"], head[0])
    children = mlflow.search_runs([result.experiment_id], f"tags.`mlflow.parentRunId` = '{result.run_id}'",
                                  output_format="list")
    assert len(children) == len(starts)
    for child in children:  # exported untrained, each network is the weights it started from
        network = tickets.locate(MlflowClient(), child.info.run_id)
        exported = tickets.untrained_model(network, three_class_splits()).get_weights()
        for got, expected in zip(exported, starts[(network.row.kind, str(network.row.round))][0], strict=True):
            np.testing.assert_array_equal(got, expected, err_msg=network.label)


def test_theta0_and_masks_go_by_layer_path_in_a_nested_model(store, tiny_config, tiny_splits, starts):
    """encoder/fc and the top-level fc share a variable name; each gets its own θ0 (before, both got fc's)."""
    source = _source(tiny_config, tiny_splits, model="conftest:nested_model")
    starts.clear()
    tiny_config.log_models = "final"
    moved = transfer.run(tiny_config, f"{source.run_id}:1", echo=lambda _: None, splits=tiny_splits)
    network = tickets.locate(MlflowClient(), moved.run_id)  # final logs the sparsest transferred ticket
    assert network.label.startswith("transfer round 1") and tickets.trained_model(network, tiny_splits)
    start, _ = starts[("transfer", "1")]
    theta0 = artifacts.load_arrays(source.run_id, "initial_weights/seed_0.npz")
    masks = source.trials[0][("ticket", 1)]
    paths = weights.weight_paths(lottery.build_masked_model(tiny_config, tiny_splits))
    for layer in ("encoder/fc", "fc"):
        index = paths.index(f"{layer}/kernel")
        np.testing.assert_array_equal(start[index], theta0[f"{layer}/kernel"] * masks[layer], err_msg=layer)
    assert not np.array_equal(theta0["encoder/fc/kernel"], theta0["fc/kernel"])


def test_the_network_is_the_sources_initializer_and_batch_norm_included(store, tiny_config, tiny_splits, starts,
                                                                        capsys):
    """A transfer copies every network setting: reinit draws from the source's initializer, and a
    non-affine batch norm source fits (before: 'θ0 does not fit')."""
    source = _source(tiny_config, tiny_splits, model="integration.test_transfer:bn_model", nonaffine_batchnorm=True,
                     initializer="signed_constant")
    starts.clear()
    (x, y), (xt, yt) = three_class_splits().train, three_class_splits().test
    np.savez(store / "other.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
    code, out, err = invoke(["transfer", "--ticket", f"{source.run_id}:1", "--dataset", "npz:other.npz",
                             "--validation-size", "60", "--iterations", "40", "--eval-interval", "10",
                             "--steps-per-execution", "5", "--control-rounds", "", "--log-models", "none",
                             "--no-jit-compile"], capsys)
    assert code == 0, err
    parent = mlflow.search_runs(search_all_experiments=True, filter_string="tags.transfer = 'true'",
                                output_format="list")[0]
    assert (parent.data.params["initializer"], parent.data.params["nonaffine_batchnorm"]) == ("signed_constant", "True")
    reinit = starts[("reinit", "1")][0][0]  # fc1/kernel: ±sqrt(2 / 64) where kept
    kept = reinit[reinit != 0]
    np.testing.assert_allclose(np.abs(kept), np.sqrt(2 / 64), rtol=1e-6)


REFUSED = [
    (["--controls", "rewind"], "--controls rewind: not in a transfer"),
    (["--controls", "reinit,fine_tune"], "--controls fine_tune: not in a transfer"),
    (["--reset-to", "100"], "--reset-to: a transfer trains every network from the source's θ0"),
    (["--replicates", "2"], "--replicates: a transfer trains the masks and θ0 of the source's first trial"),
    (["--seed", "3"], "--seed is the source's (0) in a transfer"),
    (["--initializer", "he_normal"], "--initializer is the source's (None) in a transfer"),
]


def test_what_a_transfer_cannot_do_is_refused_in_one_line_before_any_run(store, tiny_config, tiny_splits, capsys):
    source = _source(tiny_config, tiny_splits, model="conftest:small_model", rounds=1, iterations=10,
                     eval_interval=10)
    for args, message in REFUSED:
        code, _, err = invoke(["transfer", "--ticket", source.run_id, "--iterations", "1000", "--eval-interval",
                               "100", *args], capsys)
        last = err.strip().splitlines()[-1]
        assert code == 2 and last.startswith("Error: ") and message in last and err.count("Error") == 1, (args, err)
    assert not mlflow.search_runs(search_all_experiments=True, filter_string="tags.transfer = 'true'",
                                  output_format="list")


def test_controls_follow_controls_and_control_rounds_as_in_run(store, tiny_config, tiny_splits):
    source = _source(tiny_config, tiny_splits, model="conftest:small_model", rounds=1, iterations=10,
                     eval_interval=10)

    def kinds(**settings):
        cfg = build_config({"model": "conftest:small_model", "iterations": 10, "eval_interval": 10,
                            "steps_per_execution": 5, "log_models": "none", "jit_compile": False, **settings})
        result = transfer.run(cfg, f"{source.run_id}:1", echo=lambda _: None, splits=tiny_splits)
        return [(r.kind, r.round) for r in result.rounds]

    assert kinds() == [("transfer", 1)]  # the default rounds 3, 7, 12 are past this source's last round
    assert kinds(control_rounds="1", controls="reinit,random_prune") == [("transfer", 1), ("reinit", 1),
                                                                         ("random_prune", 1)]
    assert kinds(control_rounds="", controls="") == [("transfer", 1)]  # '' turns the controls off
