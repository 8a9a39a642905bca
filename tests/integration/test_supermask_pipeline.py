"""End to end: what `lth-tf supermask` leaves in MLflow, and how reports read it back."""

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from conftest import invoke, small_model
from lth_tf import masking, naming
from lth_tf.tracking import artifacts, fingerprints
from lth_tf.settings import build_config
from lth_tf.masking.supermask import keep_count
from lth_tf.tfkeras import keras
from pipelines.experiments import lottery, supermask

TINY = {"iterations": 20, "eval_interval": 10, "batch_size": 30, "steps_per_execution": 5, "model": "python:small",
        "dataset": "python:tiny", "normalization": "unit", "validation_size": 100}


def test_supermask_run_in_mlflow_compared_with_tickets_and_reported(store, tiny_splits, capsys):
    keras.utils.set_random_seed(0)
    tickets = lottery.run(build_config({**TINY, "rounds": 1, "initializer": "he_uniform"}), splits=tiny_splits,
                          model=masking.mask_model(small_model()), echo=lambda _: None)
    theta0 = artifacts.load_arrays(tickets.run_id, "initial_weights/seed_0.npz")["fc1/kernel"]
    assert np.abs(theta0).max() <= np.sqrt(6 / 64) and theta0.std() == pytest.approx(np.sqrt(2 / 64), rel=0.1)
    cfg = build_config({**TINY, "keep_fractions": "0.3,0.5", "initializer": "signed_constant"})
    result = supermask.run(cfg, splits=tiny_splits, model=small_model, compare_to=tickets.run_id, echo=lambda _: None)

    client = MlflowClient()
    parent = client.get_run(result.run_id)
    assert parent.info.status == "FINISHED"
    assert (parent.data.tags["kind"], parent.data.tags["method"]) == ("experiment", "edge_popup")
    assert parent.data.params["weights_seed"] == "0" and parent.data.params["initializer"] == "signed_constant"
    ran = lottery.with_resolved_jit_compile(cfg, small_model())  # --jit-compile auto, decided for this model
    subject = fingerprints.subject("supermask", ran, tiny_splits,
                                   supermask.build_supermask_model(ran, tiny_splits, 0.3, small_model), small_model)
    assert parent.data.tags["identity"] == ran.identity(subject) and parent.data.params["jit_compile"] == "True"
    children = client.search_runs([result.experiment_id], f"tags.`mlflow.parentRunId` = '{result.run_id}'")
    assert sorted((c.data.tags["kind"], c.data.tags["keep_fraction"]) for c in children) == [
        ("supermask", "0.3"), ("supermask", "0.5")]  # the compared run brings the dense network
    for child in children:
        k = float(child.data.tags["keep_fraction"])
        assert [m.step for m in client.get_metric_history(child.info.run_id, naming.curve("test", "accuracy"))] == [10, 20]
        masks = artifacts.load_arrays(child.info.run_id, f"masks/keep_{k:g}.npz")
        np.testing.assert_array_equal(masks["fc1"], result.masks[k]["fc1"])
        assert all(m.sum() == keep_count(m.size, k) for m in masks.values())
        assert child.data.metrics[naming.summary("remaining_fraction")] == pytest.approx(k, abs=0.01)
    listed = {a.path for a in client.list_artifacts(result.run_id, "report")}
    assert "report/supermask_vs_tickets.png" in listed and "report/accuracy_vs_remaining.png" in listed

    # The random weights can be rebuilt from the logged seed: same seed, same weights at every k.
    rebuilt = supermask.build_supermask_model(cfg, tiny_splits, 0.3, small_model)
    again = supermask.build_supermask_model(cfg, tiny_splits, 0.3, small_model)
    np.testing.assert_array_equal(masking.prunable_weights(rebuilt)["fc1"].numpy(),
                                  masking.prunable_weights(again)["fc1"].numpy())

    code, out, err = invoke(["report", result.run_id, "--out", str(store / "r")], capsys)
    assert code == 0, err
    assert "supermask" in out and (store / "r" / "accuracy_vs_remaining.png").is_file()
    code, out, err = invoke(["compare", result.run_id, tickets.run_id, "--kind", "supermask",
                             "--out", str(store / "c.png")], capsys)
    assert code == 2 and "no finished runs of kind 'supermask'" in err  # the lottery run has none
    code, out, err = invoke(["supermask", "--compare-to", result.run_id, "--dataset", "mnist-5k"], capsys)
    assert code == 2 and "its model is python:small, not lenet_300_100" in err


def test_find_supermasks_on_a_users_model_trains_its_own_dense_network_last(store, tiny_splits):
    import lth_tf

    model = small_model()
    drawn = [w.copy() for w in model.get_weights()]
    settings = {k: v for k, v in TINY.items() if k not in ("model", "dataset", "validation_size")}
    result = lth_tf.find_supermasks(model, tiny_splits.train, tiny_splits.test, tiny_splits.validation,
                                    keep_fractions=[0.5], echo=None, **settings)
    assert [(r.kind, r.round) for r in result.rounds] == [("supermask", 1), ("ticket", 0)]
    assert result.rounds[1].remaining_fraction == 1.0 and set(result.masks) == {0.5}
    runs = mlflow.search_runs([result.experiment_id], output_format="list")
    assert all(r.info.status == "FINISHED" for r in runs) and len(runs) == 3
    # The dense network trained the model's own layers; like find_tickets, it gets its weights back.
    assert all(np.array_equal(a, b) for a, b in zip(drawn, model.get_weights()))


def test_a_supermask_exports_as_its_random_weights_under_its_mask(store, tiny_splits, starts, capsys):
    """No model logged: the weights are drawn again from weights_seed; trained and untrained are the same network."""
    (x, y), (xt, yt) = tiny_splits.train, tiny_splits.test
    np.savez(store / "tiny.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
    code, out, err = invoke(["supermask", "--model", "conftest:small_model", "--dataset", "npz:tiny.npz",
                             "--validation-size", "100", "--keep-fractions", "0.5,0.3", "--iterations", "20",
                             "--eval-interval", "10", "--batch-size", "30", "--steps-per-execution", "5",
                             "--no-jit-compile", "--log-models", "none", "--seed", "3"], capsys)
    assert code == 0, err
    # progress in true words: which keep fraction of how many, not a "round"
    progress = [line for line in out.splitlines() if line.startswith("seed 3 supermask")]
    assert [line.split(" (")[0] + " (" + line.split(" (")[1] for line in progress] == [
        "seed 3 supermask keep fraction 0.5 (1/2)", "seed 3 supermask keep fraction 0.3 (2/2)"], progress
    parent = mlflow.search_runs(search_all_experiments=True, filter_string="tags.method = 'edge_popup'",
                                output_format="list")[0]
    for args, round_ in (([], 2), (["--round", "1", "--untrained"], 1)):  # by default the sparsest, k = 0.3
        code, out, err = invoke(["export", parent.info.run_id, *args, "--format", "keras",
                                 "--out", str(store / f"k{round_}")], capsys)
        assert code == 0 and f"supermask round {round_}" in out and "0 prediction(s) differ" in out, err
        child = mlflow.search_runs([parent.info.experiment_id], f"tags.kind = 'supermask' and tags.round = '{round_}'",
                                   output_format="list")[0]
        masks = artifacts.load_arrays(child.info.run_id, f"masks/keep_{child.data.tags['keep_fraction']}.npz")
        drawn = starts[("supermask", str(round_))][0]  # the frozen weights it trained scores on
        model = keras.models.load_model(store / f"k{round_}" / "ticket.keras")
        for index, layer in ((0, "fc1"), (2, "fc2"), (4, "output")):
            np.testing.assert_array_equal(model.get_layer(layer).kernel.numpy(), drawn[index] * masks[layer])
            np.testing.assert_array_equal(model.get_layer(layer).bias.numpy(), drawn[index + 1])
