"""The executor interface (`pipelines.execution`): the settings choose it; the local one runs a trial
exactly as a direct `run_trial` call does (the Ray one against the sequential run: tests/integration/test_fanout.py)."""

import numpy as np

from lth_tf import masking
from lth_tf.settings import build_config
from lth_tf.tfkeras import keras
from lth_tf.tracking import store as tracking
from pipelines import execution
from pipelines.execution.base import Executor
from pipelines.execution.local import LocalExecutor
from pipelines.execution.ray import RayExecutor
from pipelines.experiments.trial import run_trial
from pipelines.runs.network_run import ChildRuns
from conftest import small_model

TINY = {"iterations": 10, "eval_interval": 5, "rounds": 1, "batch_size": 30, "steps_per_execution": 5,
        "jit_compile": False, "log_models": "none", "controls": "reinit", "control_rounds": ""}


def test_the_settings_choose_the_executor():
    assert type(execution.for_settings(build_config({}))) is LocalExecutor
    assert type(execution.for_settings(build_config({"workers": 2}))) is RayExecutor
    assert type(execution.for_settings(build_config({"ray_address": "auto"}))) is RayExecutor
    assert all(issubclass(kind, Executor) for kind in (LocalExecutor, RayExecutor))
    assert LocalExecutor().resumes and not RayExecutor(build_config({"workers": 2}).engine).resumes


def test_the_local_executor_runs_a_trial_as_a_direct_call_does(store, tiny_splits):
    cfg = build_config(TINY)
    experiment = tracking.open_experiment(None, "executors")

    def network():
        keras.utils.set_random_seed(0)
        return masking.mask_model(small_model())

    def trial(how):
        with tracking.run_scope(experiment_id=experiment, run_name=how) as parent:
            runs = ChildRuns(cfg, tiny_splits, parent.info.run_id, echo=lambda _: None)
            if how == "direct":
                tickets = run_trial(network(), cfg, runs, 0, 0)
            else:
                [tickets] = LocalExecutor().run_trials(runs, [(0, 0, network())], experiment)
        return tickets, runs.summaries

    direct, executed = trial("direct"), trial("executor")
    assert direct[0].keys() == executed[0].keys() == {("ticket", 0), ("ticket", 1)}
    for key, masks in direct[0].items():
        assert masks.keys() == executed[0][key].keys()
        assert all(np.array_equal(masks[layer], executed[0][key][layer]) for layer in masks)
    assert [(s.kind, s.round) for s in direct[1]] == [(s.kind, s.round) for s in executed[1]] == [
        ("ticket", 0), ("ticket", 1), ("reinit", 1)]
    assert [s.metrics() for s in direct[1]] == [s.metrics() for s in executed[1]]
