"""End to end: what a lottery-ticket experiment leaves in MLflow, and how failures end."""

import dataclasses
import json

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from conftest import small_model
from lth_tf import masking
from lth_tf.tracking import artifacts, fingerprints
from lth_tf.pruning import counts as pruning
from pipelines.runs import network_run as child_runs
from pipelines.experiments import lottery


def run_tiny(cfg, splits, **kwargs):
    from lth_tf.tfkeras import keras

    keras.utils.set_random_seed(cfg.seed)
    return lottery.run(cfg, splits=splits, model=masking.mask_model(small_model()), echo=lambda _: None, **kwargs)


def test_experiment_lands_in_mlflow_with_parent_rounds_metrics_and_masks(store, tiny_config, tiny_splits):
    result = run_tiny(tiny_config, tiny_splits)
    assert (store / "mlruns" / "mlflow.db").is_file()

    runs = mlflow.search_runs([result.experiment_id], output_format="list")
    parent = next(r for r in runs if r.info.run_id == result.run_id)
    children = sorted((r for r in runs if r.data.tags.get("mlflow.parentRunId") == result.run_id),
                      key=lambda r: int(r.data.tags["round"]))
    assert len(runs) == 4 and len(children) == 3
    assert parent.info.status == "FINISHED" and all(c.info.status == "FINISHED" for c in children)
    assert parent.data.params["fc_rate"] == "0.2" and parent.data.params["rounds"] == "2"
    # The identity is that of what ran: --jit-compile auto is resolved (and logged) first.
    ran = lottery.with_resolved_jit_compile(tiny_config, small_model())
    assert parent.data.params["jit_compile"] == str(ran.training.jit_compile)
    model = masking.mask_model(small_model())
    subject = fingerprints.subject("lottery", ran, tiny_splits, model, given=model)
    assert parent.data.tags["identity"] == ran.identity(subject) != tiny_config.identity(subject)
    assert parent.data.tags["family"] == ran.family(subject) == dataclasses.replace(ran, seed=1).family(subject)

    client = MlflowClient()
    for round_, child in enumerate(children):
        assert child.data.tags["kind"] == "ticket"
        assert (child.data.tags["replicate"], child.data.tags["seed"]) == ("0", "0")
        expected = pruning.remaining_fractions(result.trials[0][("ticket", round_)])["total"]
        assert float(child.data.tags["remaining_fraction"]) == pytest.approx(expected, abs=1e-6)
        assert child.data.params["round"] == f"{round_:02d}" and child.data.params["seed"] == "0"
        assert child.info.run_name == f"ticket {expected:.1%} r{round_:02d} s0"
        val_loss = client.get_metric_history(child.info.run_id, "val/loss")
        assert [m.step for m in val_loss] == [10, 20, 30, 40]
        best = min(val_loss, key=lambda m: (m.value, m.step))
        assert child.data.metrics["summary/early_stop_iteration"] == best.step
        test_acc = {m.step: m.value for m in client.get_metric_history(child.info.run_id, "test/accuracy")}
        assert child.data.metrics["summary/early_stop_test_accuracy"] == pytest.approx(test_acc[best.step])
        assert all(float(f"{v:.7g}") == v for v in child.data.metrics.values())  # no float32 noise
        masks = artifacts.load_arrays(child.info.run_id, f"masks/round_{round_:02d}.npz")
        assert set(masks) == {"fc1", "fc2", "output"} and all(m.dtype == bool for m in masks.values())
        for key in masks:
            np.testing.assert_array_equal(masks[key], result.trials[0][("ticket", round_)][key])
        assert masks["fc1"].sum() == pruning.surviving_count(64 * 32, 0.2, round_)

    # The parent charts each summary against the round.
    history = client.get_metric_history(result.run_id, "rounds/ticket/early_stop_test_accuracy")
    assert [m.step for m in history] == [0, 1, 2]
    assert [m.value for m in history] == pytest.approx([r.early_stop_test_accuracy for r in result.rounds])
    theta0 = artifacts.load_arrays(result.run_id, "initial_weights/seed_0.npz")
    assert theta0["fc1/kernel"].shape == (64, 32)
    listed = {a.path for a in client.list_artifacts(result.run_id, "summary")}
    assert listed == {"summary/networks.csv", "summary/networks.md"}
    csv_text = open(mlflow.artifacts.download_artifacts(run_id=result.run_id, artifact_path="summary/networks.csv")).read()
    assert len(csv_text.strip().splitlines()) == 4 and "early_stop_iteration" in csv_text
    report = {a.path for a in client.list_artifacts(result.run_id, "report")}
    assert {"report/accuracy_vs_remaining.png", "report/mean_std.csv", "report/mean_std.md"} <= report

    # Descriptions and the Datasets panel.
    assert "rounds/ticket/early_stop_test_accuracy" in parent.data.tags["mlflow.note.content"]
    experiment_tags = client.get_experiment(result.experiment_id).tags
    assert "report/" in experiment_tags["mlflow.note.content"]
    for key in ("lth-tf", "lth-tf-levels"):  # saved-view envelopes, listed by name under Views in MLflow
        envelope = json.loads(experiment_tags[f"mlflow.sharedViewState.{key}"])
        assert envelope["name"].startswith("lth-tf: ")
        view = json.loads(envelope["state"])
        assert "metrics.`summary/early_stop_test_accuracy`" in view["selectedColumns"]
        assert {f"metrics.`{c.split('`')[1]}`" for c in view["selectedColumns"] if c.startswith("metrics.")} <= {
            f"metrics.`{k}`" for k in children[1].data.metrics}
        charted = {c["yaxis"]["key"] for c in view["compareRunCharts"] if c["type"] == "SCATTER"}
        assert {"summary/early_stop_test_accuracy", "summary/early_stop_iteration"} <= charted
    # The per-round charts end at the sparsest level (x reversed: dense on the left).
    networks_view = json.loads(json.loads(experiment_tags["mlflow.sharedViewState.lth-tf"])["state"])
    rounds_chart = next(c for c in networks_view["compareRunCharts"] if c["uuid"] == "lth-rounds-early_stop_test_accuracy")
    assert rounds_chart["range"]["xMax"] < children[2].data.metrics["summary/remaining_fraction"] < 1

    # What each network saves, coloured by kind; the verdict on the parent (one seed: never winning).
    dense_macs = 64 * 32 + 32 * 16 + 16 * 4  # Dense layers: one multiply-add per weight
    for child in children:
        metrics = child.data.metrics
        kept = sum(int(m.sum()) for m in result.trials[0][("ticket", int(child.data.tags["round"]))].values())
        assert metrics["summary/nonzero_weights"] == kept
        assert metrics["summary/flops"] == 2 * kept and metrics["summary/dense_flops"] == 2 * dense_macs
        assert child.data.tags["mlflow.runColor"] == "#1f77b4"
    assert [m.value for m in client.get_metric_history(result.run_id, "rounds/ticket/winning")] == [0.0, 0.0]
    assert "rounds/dense/difference_low" not in parent.data.metrics  # 1 replicate: no interval
    parent = client.get_run(result.run_id)
    assert "1 replicate: no interval" in parent.data.tags["mlflow.note.content"]
    assert children[0].data.tags["mlflow.note.content"].startswith("The dense network (round 0)")
    assert children[2].data.tags["mlflow.note.content"].startswith("The ticket of round 2:")
    for run in (parent, children[1]):
        inputs = {i.tags[0].value: i.dataset for i in run.inputs.dataset_inputs}
        assert set(inputs) == {"train", "validation", "test"} and inputs["train"].name == "tiny"
        assert '"targets_shape": [600]' in inputs["train"].profile


def test_one_shot_prunes_the_dense_network_straight_to_each_iterative_level(store, tiny_config, tiny_splits):
    tiny_config.pruning.mode = "both"
    result = run_tiny(tiny_config, tiny_splits)
    assert [(r.kind, r.round) for r in result.rounds] == [
        ("ticket", 0), ("ticket", 1), ("ticket", 2), ("one_shot", 1), ("one_shot", 2)]
    masks = result.trials[0]
    for round_ in (1, 2):
        for key, n0, rate in (("fc1", 64 * 32, 0.2), ("output", 16 * 4, 0.1)):
            count = pruning.surviving_count(n0, rate, round_)
            assert masks[("one_shot", round_)][key].sum() == masks[("ticket", round_)][key].sum() == count
    # One-shot masks all rank the same dense weights, so they are nested; iterative round 2
    # ranks round 1's retrained ticket instead, so its mask differs from one-shot's.
    assert not (masks[("one_shot", 2)]["fc1"] & ~masks[("one_shot", 1)]["fc1"]).any()
    assert (masks[("one_shot", 2)]["fc1"] != masks[("ticket", 2)]["fc1"]).any()


def test_every_round_starts_from_theta0_times_its_mask(store, tiny_config, tiny_splits, monkeypatch):
    from lth_tf.tfkeras import keras

    starts = []  # the prunable weights as each round's fit begins, after the reset callback

    class RecordStart(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            starts.append({k: v.numpy().copy() for k, v in masking.prunable_weights(self.model).items()})

    real_train_round = child_runs.train_round
    monkeypatch.setattr(child_runs, "train_round",
                        lambda model, splits, hp, seed, callbacks, align_to, *rest: real_train_round(
                            model, splits, hp, seed, [*callbacks, RecordStart()], align_to, *rest))
    result = run_tiny(tiny_config, tiny_splits)
    theta0 = artifacts.load_arrays(result.run_id, "initial_weights/seed_0.npz")
    keras.utils.set_random_seed(tiny_config.seed)
    np.testing.assert_array_equal(small_model().get_layer("fc1").kernel.numpy(), theta0["fc1/kernel"])
    assert len(starts) == 3
    for round_, start in enumerate(starts):
        for key, weights in start.items():
            mask = result.trials[0][("ticket", round_)][key]
            np.testing.assert_array_equal(weights, np.where(mask, theta0[f"{key}/kernel"], 0.0))


@pytest.mark.parametrize("error, status", [(KeyboardInterrupt, "KILLED"), (RuntimeError, "FAILED")])
def test_interrupted_or_crashed_run_keeps_finished_rounds(store, tiny_config, tiny_splits, error, status):
    def explode_in_round_1(line):
        if line.startswith("seed 0 ticket round 1 "):
            raise error("stop")

    with pytest.raises(error):
        run_tiny(tiny_config, tiny_splits, status=explode_in_round_1)
    experiment = mlflow.get_experiment_by_name(tiny_config.resolved_experiment_name)
    runs = mlflow.search_runs([experiment.experiment_id], output_format="list")
    by_round = {r.data.tags.get("round"): r for r in runs}
    parent = by_round.pop(None)
    assert parent.info.status == status
    assert by_round["0"].info.status == "FINISHED" and by_round["1"].info.status == status
    assert "summary/early_stop_iteration" in by_round["0"].data.metrics
    assert artifacts.load_arrays(by_round["0"].info.run_id, "masks/round_00.npz")["fc1"].all()
    summary = mlflow.artifacts.download_artifacts(run_id=parent.info.run_id, artifact_path="summary/networks.csv")
    assert len(open(summary).read().strip().splitlines()) == 2  # header + the finished round
    assert mlflow.active_run() is None
