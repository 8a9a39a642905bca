"""The pipeline runs each control from what it claims, replicates and fine-tune (what controls
build: tests/unit/test_controls.py)."""

import mlflow
import numpy as np
import pytest

from conftest import small_model
from lth_tf import masking
from lth_tf.tracking import artifacts
from lth_tf.training import weights
from lth_tf.tfkeras import keras
from pipelines.runs import network_run as child_runs
from pipelines.experiments import lottery


def test_pipeline_trains_each_control_from_what_it_claims(store, tiny_config, tiny_splits, monkeypatch):
    """End to end: every control's fit begins where its definition says, and lands tagged in MLflow."""
    tiny_config.controls.controls = ("reinit", "random_prune", "fine_tune", "noise", "rewind", "prune_at_init")
    tiny_config.controls.control_rounds = (2,)
    tiny_config.controls.rewind_to = 20
    starts, ends, theta_k = {}, {}, {}

    class Watch(keras.callbacks.Callback):
        def __init__(self, key):
            super().__init__()
            self.key = key

        def on_train_begin(self, logs=None):
            starts[self.key] = weights.take(self.model)

        def on_train_batch_end(self, batch, logs=None):
            if self.key == ("ticket", "0") and int(self.model.optimizer.iterations.numpy()) == 20:
                theta_k["value"] = weights.take(self.model)

        def on_train_end(self, logs=None):
            ends[self.key] = weights.take(self.model)

    real = child_runs.train_round

    def watched(model, splits, hp, seed, callbacks, align_to, *args):
        tags = mlflow.active_run().data.tags
        return real(model, splits, hp, seed, [*callbacks, Watch((tags["kind"], tags["round"]))], align_to, *args)

    monkeypatch.setattr(child_runs, "train_round", watched)
    keras.utils.set_random_seed(0)
    result = lottery.run(tiny_config, splits=tiny_splits, model=masking.mask_model(small_model()),
                         echo=lambda _: None)

    kinds = [(r.kind, r.round) for r in result.rounds]
    assert kinds == [("ticket", 0), ("ticket", 1), ("ticket", 2), ("reinit", 2), ("random_prune", 2),
                     ("noise", 2), ("rewind", 2), ("prune_at_init", 2), ("fine_tune", 1), ("fine_tune", 2)]
    model_keys = ["fc1/kernel", "fc1/bias", "fc2/kernel", "fc2/bias", "output/kernel", "output/bias"]
    theta0 = artifacts.load_arrays(result.run_id, "initial_weights/seed_0.npz")
    theta0 = [theta0[k] for k in model_keys]
    ticket_mask = result.trials[0][("ticket", 2)]
    kernels = {"fc1": 0, "fc2": 2, "output": 4}

    def masked(snapshot, masks):
        return {k: np.where(masks[k], snapshot[i], 0.0) for k, i in kernels.items()}

    def assert_start(kind, expected_snapshot, masks):
        start = starts[(kind, "2")]
        for key, index in kernels.items():
            np.testing.assert_array_equal(start[index], masked(expected_snapshot, masks)[key], err_msg=kind)

    assert_start("ticket", theta0, ticket_mask)
    assert_start("rewind", theta_k["value"], ticket_mask)
    reinit = starts[("reinit", "2")]
    assert (reinit[0] != 0).sum() == ticket_mask["fc1"].sum()
    assert not np.isclose(reinit[0][ticket_mask["fc1"]], theta0[0][ticket_mask["fc1"]]).any()

    runs = mlflow.search_runs([result.experiment_id], output_format="list")
    by_kind = {r.data.tags.get("kind"): r for r in runs if r.data.tags.get("round") == "2"}

    def mask_of(kind, round_):
        run = next(r for r in runs if r.data.tags.get("kind") == kind and r.data.tags.get("round") == str(round_))
        return artifacts.load_arrays(run.info.run_id, f"masks/round_{round_:02d}.npz")

    # The fine-tune chain never resets: each round starts from the previous chain network's end, pruned.
    for round_, previous in ((1, ("ticket", "0")), (2, ("fine_tune", "1"))):
        start, mask = starts[("fine_tune", str(round_))], mask_of("fine_tune", round_)
        for key, index in kernels.items():
            np.testing.assert_array_equal(start[index], np.where(mask[key], ends[previous][index], 0.0))
            assert not np.array_equal(start[index][mask[key]], theta0[index][mask[key]])
    assert {k: m.sum() for k, m in mask_of("fine_tune", 2).items()} == {k: m.sum() for k, m in ticket_mask.items()}
    assert_start("prune_at_init", theta0, mask_of("prune_at_init", 2))
    random_mask = artifacts.load_arrays(by_kind["random_prune"].info.run_id, "masks/round_02.npz")
    for key in ticket_mask:
        assert random_mask[key].sum() == ticket_mask[key].sum()
    assert (random_mask["fc1"] != ticket_mask["fc1"]).any()
    assert_start("random_prune", theta0, random_mask)
    note = by_kind["reinit"].data.tags["mlflow.note.content"]  # each network's run says what it is
    assert note.startswith("Reinit control of round 2: the ticket's mask on weights drawn afresh") and "seed 0" in note
    noise_start = starts[("noise", "2")][0][ticket_mask["fc1"]] - theta0[0][ticket_mask["fc1"]]
    assert np.std(noise_start) == pytest.approx(0.5 * np.std(theta0[0]), rel=0.15)
    assert all(r.info.status == "FINISHED" for r in runs)
    parent = next(r for r in runs if r.info.run_id == result.run_id)
    assert {f"rounds/{kind}/early_stop_test_accuracy" for kind in ("ticket", "reinit", "rewind")} <= set(parent.data.metrics)


def test_replicates_use_consecutive_seeds_and_average_on_the_parent(store, tiny_config, tiny_splits):
    tiny_config.replicates = 2
    tiny_config.pruning.rounds = 1
    keras.utils.set_random_seed(0)
    result = lottery.run(tiny_config, splits=tiny_splits, model=small_model, echo=lambda _: None)
    assert [(r.replicate, r.seed, r.round) for r in result.rounds] == [(0, 0, 0), (0, 0, 1), (1, 1, 0), (1, 1, 1)]
    theta = [artifacts.load_arrays(result.run_id, f"initial_weights/seed_{s}.npz")["fc1/kernel"] for s in (0, 1)]
    assert not np.array_equal(*theta)
    keras.utils.set_random_seed(1)
    np.testing.assert_array_equal(small_model().get_layer("fc1").kernel.numpy(), theta[1])  # a factory: built per seed
    history = mlflow.tracking.MlflowClient().get_metric_history(result.run_id, "rounds/ticket/early_stop_test_accuracy")
    assert [m.step for m in history] == [0, 1]
    for metric in history:
        expected = np.mean([r.early_stop_test_accuracy for r in result.rounds if r.round == metric.step])
        assert metric.value == pytest.approx(expected)


def test_replicates_of_a_built_model_keep_its_theta0_first_then_redraw(store, tiny_config, tiny_splits):
    tiny_config.replicates = 2
    tiny_config.pruning.rounds = 1
    keras.utils.set_random_seed(5)
    model = small_model()
    own = model.get_layer("fc1").kernel.numpy().copy()
    result = lottery.run(tiny_config, splits=tiny_splits, model=model, echo=lambda _: None)
    theta = [artifacts.load_arrays(result.run_id, f"initial_weights/seed_{s}.npz")["fc1/kernel"] for s in (0, 1)]
    np.testing.assert_array_equal(theta[0], own)
    assert not np.isclose(theta[1], own).any()
    assert np.count_nonzero(theta[1]) == theta[1].size  # drawn dense, not through trial 0's masks
    assert np.std(theta[1]) == pytest.approx(np.std(own), rel=0.1)  # redrawn from the same initializer
    assert len(result.trials) == 2 and [m["fc1"].sum() for m in result.masks] == [64 * 32, 1638]


def test_fine_tune_under_global_pruning_keeps_the_tickets_per_layer_counts(store, tiny_config, tiny_splits):
    """--strategy global: the chain's own global ranking would spread the same total differently."""
    tiny_config.controls.controls, tiny_config.pruning.strategy = ("fine_tune",), "global"
    tiny_config.pruning.global_rate = 0.5
    keras.utils.set_random_seed(0)
    result = lottery.run(tiny_config, splits=tiny_splits, model=masking.mask_model(small_model()),
                         echo=lambda _: None)
    runs = mlflow.search_runs([result.experiment_id], "tags.kind = 'fine_tune'", output_format="list")
    assert len(runs) == 2
    for run in runs:
        round_ = int(run.data.tags["round"])
        chain = artifacts.load_arrays(run.info.run_id, f"masks/round_{round_:02d}.npz")
        ticket = result.trials[0][("ticket", round_)]
        assert {k: int(m.sum()) for k, m in chain.items()} == {k: int(m.sum()) for k, m in ticket.items()}, round_
