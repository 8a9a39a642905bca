"""`--early-bird EPS` in a lottery run: networks pruned later stop once their mask settles; tickets train in full."""

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from conftest import invoke
from lth_tf.training import weights
from lth_tf.tracking import artifacts, store as tracking
from lth_tf.errors import UserError
from lth_tf.tfkeras import keras
from pipelines.experiments import lottery
from pipelines.experiments.trial import next_masks, pruning_rng

INTERVAL, BUDGET = 5, 40


def networks(run_id):
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list",
                              filter_string=f"tags.`mlflow.parentRunId` = '{run_id}'")
    return {(r.data.tags["kind"], int(r.data.tags["round"])): r for r in runs}


def last_step(run):
    return max(m.step for m in MlflowClient().get_metric_history(run.info.run_id, "val/loss"))


def early_bird_run(tiny_config, tiny_splits, mode, learning_rate, epsilon=0.1):
    cfg = tiny_config
    cfg.model.model, cfg.controls.controls, cfg.pruning.mode = "conftest:small_model", (), mode
    cfg.training.eval_interval, cfg.training.steps_per_execution = INTERVAL, 5
    cfg.training.learning_rate, cfg.pruning.early_bird = learning_rate, epsilon
    keras.utils.set_random_seed(0)
    return cfg, lottery.run(cfg, splits=tiny_splits, echo=lambda _: None)


def test_a_settled_mask_stops_the_round_at_the_first_full_window_and_the_next_mask_comes_from_there(
        store, tiny_config, tiny_splits):
    # learning rate 1e-9: the weights' ranking never changes, so every draw is the same mask and the
    # FIFO of 5 passes as soon as it is full: at the fifth evaluation, not before
    cfg, result = early_bird_run(tiny_config, tiny_splits, "iterative", 1e-9)
    found = 5 * INTERVAL
    runs = networks(result.run_id)
    for round_ in (0, 1):  # pruned from by a later round: stopped
        run = runs[("ticket", round_)]
        assert run.data.metrics["early_bird/iteration"] == found
        assert run.data.metrics["early_bird/iterations_saved"] == BUDGET - found
        assert run.data.tags["stopped_by"] == "early_bird" and last_step(run) == found
    last = runs[("ticket", 2)]  # the last ticket is pruned from by no one: it trains in full
    assert "early_bird/iteration" not in last.data.metrics and "stopped_by" not in last.data.tags
    assert last_step(last) == BUDGET
    # round 1's mask is what pruning draws from the dense network's weights at the early-bird point
    model = lottery.build_masked_model(cfg, tiny_splits, None, 0)
    dense_run = runs[("ticket", 0)].info.run_id
    stopped = weights.from_arrays(artifacts.load_arrays(dense_run, "state/trained.npz"))
    initial = weights.from_named(model, artifacts.load_arrays(result.run_id, "initial_weights/seed_0.npz"))
    dense_masks = result.trials[0][("ticket", 0)]
    expected = next_masks(model, cfg, stopped, initial, dense_masks, 1, pruning_rng(0, "ticket", 1))
    for key, mask in result.trials[0][("ticket", 1)].items():
        np.testing.assert_array_equal(mask, expected[key])


def test_masks_that_keep_changing_never_stop_a_round(store, tiny_config, tiny_splits):
    # ε = 0: only identical draws pass; at learning rate 0.05 every evaluation moves some weight across
    cfg, result = early_bird_run(tiny_config, tiny_splits, "one_shot", 0.05, epsilon=0.0)
    runs = networks(result.run_id)
    dense = runs[("ticket", 0)]
    distances = [m.value for m in MlflowClient().get_metric_history(dense.info.run_id, "early_bird/distance")]
    assert distances and min(distances) > 0, "the constructed case must keep changing its masks"
    assert "stopped_by" not in dense.data.tags and last_step(dense) == BUDGET
    assert all(last_step(runs[("one_shot", r)]) == BUDGET for r in (1, 2))


@pytest.mark.parametrize("args, message", [
    (["--early-bird", "-0.1"], "--early-bird must be a distance of at least 0, got -0.1"),
    (["--early-bird", "0.1", "--criterion", "random"], "--early-bird: not with --criterion random"),
    (["--early-bird", "0.1", "--early-bird-window", "1"], "--early-bird-window must be at least 2"),
])
def test_bad_early_bird_settings_are_one_line_exit_2_and_no_run(store, capsys, args, message):
    code, _, err = invoke(["run", "--iterations", "40", "--eval-interval", "10", *args], capsys)
    errors = [line for line in err.splitlines() if not line.startswith("20")]  # MLflow's own INFO lines aside
    assert code == 2 and len(errors) == 1 and message in errors[0], err
    try:
        client = tracking.open_store(None)  # this test's ./mlruns (an earlier test may have set another store)
    except UserError:  # no store at all: no run either
        return
    assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []
