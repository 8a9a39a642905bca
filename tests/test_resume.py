"""Resume: a killed or interrupted experiment continues in its parent run to the uninterrupted result."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import filelock
import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from conftest import small_model
from lth_tf import fingerprints, masking, tracking
from lth_tf.errors import UserError
from pipelines import lottery, resume, run_index


def run_tiny(cfg, splits, **kwargs):
    from lth_tf.tfkeras import keras

    keras.utils.set_random_seed(cfg.seed)
    return lottery.run(cfg, splits=splits, model=masking.mask_model(small_model()), echo=lambda _: None, **kwargs)


def chosen(experiment_id, cfg, splits):
    """The parent run that `run_tiny` would continue or report."""
    model = masking.mask_model(small_model())
    ran = lottery.with_resolved_jit_compile(cfg, model)
    subject = fingerprints.subject("lottery", ran, splits, model, given=model)
    return resume.choose_parent(experiment_id, ran, subject, Path("mlruns/checkpoints"))


def store_contents(tracking_uri):
    """The experiment's one parent run, its networks' records and its own metric histories."""
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    parents = [r for r in client.search_runs([e.experiment_id for e in client.search_experiments()])
               if r.data.tags.get("kind") == "experiment"]
    assert len(parents) == 1
    return parents[0], run_index.network_records(parents[0], client), run_index.metric_histories(parents[0], client)


def assert_same_results(resumed_uri, reference_uri):
    reference_parent, reference, reference_metrics = store_contents(reference_uri)
    parent, networks, parent_metrics = store_contents(resumed_uri)  # and leaves MLflow pointed at it
    assert parent.info.status == reference_parent.info.status == "FINISHED"
    assert networks.keys() == reference.keys()
    for key, network in networks.items():
        assert network["status"] == reference[key]["status"] == "FINISHED"
        masks, ref_masks = network["masks"], reference[key]["masks"]
        assert masks.keys() == ref_masks.keys()
        for layer in masks:
            np.testing.assert_array_equal(masks[layer], ref_masks[layer])
        assert network["metrics"] == reference[key]["metrics"], key  # bitwise: every value at every step, once
    assert parent_metrics == reference_metrics
    return parent


def test_interrupted_network_continues_from_its_checkpoint_in_the_same_runs(store, tiny_config, tiny_splits,
                                                                           monkeypatch):
    tiny_config.controls.controls = ("fine_tune", "rewind")
    tiny_config.controls.control_rounds = ()  # every round (the default rounds 3, 7, 12 are past round 1)
    tiny_config.controls.rewind_to = 10
    tiny_config.pruning.rounds = 1
    reference_dir = store / "reference"
    reference_dir.mkdir()
    os.chdir(reference_dir)
    run_tiny(tiny_config, tiny_splits)
    os.chdir(store)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # mlflow.set_tracking_uri sets it

    def interrupt_fine_tune_at_70(line):  # the chain's round 1 trains iterations 40..80
        if line.startswith("seed 0 fine_tune round 1 ") and " it 70/80 " in line:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_tiny(tiny_config, tiny_splits, status=interrupt_fine_tune_at_70)
    checkpoints = list(Path("mlruns/checkpoints").glob("*/fine_tune-round01-replicate0/ckpt-60.index"))
    assert len(checkpoints) == 1  # interrupted at 70 after logging it, before its checkpoint

    # A RUNNING parent whose process holds its lock is alive: a rerun leaves it alone (a fresh parent).
    run_id = checkpoints[0].parent.parent.name
    MlflowClient().update_run(run_id, status="RUNNING")
    experiment_id = MlflowClient().get_run(run_id).info.experiment_id
    with filelock.FileLock(str(checkpoints[0].parent.parent / "owner.lock")):
        assert chosen(experiment_id, tiny_config, tiny_splits) is None

    # The local checkpoints are lost (another machine): the copy in the child run's artifacts serves.
    interrupted = run_index.child_runs(MlflowClient().get_run(run_id))[("fine_tune", 1, 0)]
    copied = {a.path for a in MlflowClient().list_artifacts(interrupted.info.run_id, "checkpoint")}
    assert {"checkpoint/checkpoint", "checkpoint/callbacks-60.npz", "checkpoint/ckpt-60.index"} <= copied
    shutil.rmtree(checkpoints[0].parent)
    lines = []
    result = run_tiny(tiny_config, tiny_splits, status=lines.append)  # the lock is free: the dead run continues
    fine_tune = [line.split(" it ")[1].split()[0] for line in lines if line.startswith("seed 0 fine_tune round 1 ")]
    assert fine_tune == ["70/80", "80/80"]  # from the checkpoint at 60, not from the chain's start at 40
    assert result.run_id == run_id and not result.finished_before
    assert [(r.kind, r.round) for r in result.rounds] == [("ticket", 0), ("ticket", 1), ("rewind", 1), ("fine_tune", 1)]
    parent = assert_same_results(tracking.default_tracking_uri(), f"sqlite:///{reference_dir}/mlruns/mlflow.db")
    assert parent.data.tags[resume.RESUMES_TAG] == "1"
    assert not Path("mlruns/checkpoints", run_id).exists()  # removed once the experiment finished

    again = run_tiny(tiny_config, tiny_splits)  # finished: reported, not run again
    assert again.finished_before and again.run_id == run_id and again.rounds == result.rounds
    for kind_round, masks in result.trials[0].items():
        assert all(np.array_equal(masks[k], again.trials[0][kind_round][k]) for k in masks)
    assert len(mlflow.search_runs([result.experiment_id], output_format="list")) == 5
    tiny_config.durability.restart = True
    assert chosen(result.experiment_id, tiny_config, tiny_splits) is None


def test_resume_names_a_run_of_the_same_experiment(store, tiny_config, tiny_splits):
    tiny_config.durability.resume = "0123456789abcdef0123456789abcdef"
    with pytest.raises(UserError, match="--resume: no run"):
        run_tiny(tiny_config, tiny_splits)


# ---------------------------------------------------------------------------- real SIGKILLs

ARGS = ["--iterations", "100", "--eval-interval", "25", "--rounds", "1", "--controls", "fine_tune,rewind",
        "--control-rounds", "", "--rewind-to", "50", "--log-models", "none"]


def lth_tf(cwd: Path, kill_when=None) -> str:
    """Runs `python -m lth_tf run ARGS` in `cwd`; SIGKILLs it once `kill_when()` is true. Its output."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    process = subprocess.Popen([sys.executable, "-m", "lth_tf", "run", *ARGS], cwd=cwd, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if kill_when is not None:
        while process.poll() is None and not kill_when():
            time.sleep(0.02)
        assert process.poll() is None, "finished before the kill: " + process.stdout.read()
        process.send_signal(signal.SIGKILL)
    out = process.communicate()[0]
    assert process.returncode == (-signal.SIGKILL if kill_when else 0), out
    return out


def test_sigkilled_experiment_resumes_to_the_uninterrupted_result_bitwise(tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    reference.mkdir(), killed.mkdir()
    lth_tf(reference)

    # Mid-training: the second network (ticket round 1) has written its first checkpoint.
    lth_tf(killed, lambda: any(killed.glob("mlruns/checkpoints/*/ticket-round01-*/ckpt-*.index")))
    # During the report: every network finished, the summary is logged, the figures are being made.
    out = lth_tf(killed, lambda: any(killed.glob("mlruns/artifacts/*/artifacts/summary/networks.csv")))
    assert "resuming run" in out
    out = lth_tf(killed)
    assert "seed 0 rewind round 1 (80.0% remaining): finished before, in run" in out
    parent = assert_same_results(f"sqlite:///{killed}/mlruns/mlflow.db", f"sqlite:///{reference}/mlruns/mlflow.db")
    assert parent.data.tags[resume.RESUMES_TAG] == "2"
    assert {a.path for a in MlflowClient().list_artifacts(parent.info.run_id, "report")} >= {"report/mean_std.csv"}
