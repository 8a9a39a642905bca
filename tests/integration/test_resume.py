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
from lth_tf import masking, naming
from lth_tf.tracking import artifacts, fingerprints, store as tracking
from lth_tf.training import weights
from lth_tf.tracking.hook import COMPLETE_TAG
from lth_tf.errors import UserError
from pipelines.experiments import lottery
from pipelines.runs import resume, run_index


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


def assert_no_checkpoint_copies(parent_run_id):
    """No FINISHED network of the parent holds a checkpoint copy, nor its tags."""
    client = MlflowClient()
    for network in run_index.child_runs(client.get_run(parent_run_id)).values():
        if network.info.status == "FINISHED":
            assert not client.list_artifacts(network.info.run_id, "checkpoint"), network.data.tags["kind"]
            assert not [k for k in network.data.tags if "checkpoint" in k], network.data.tags["kind"]


def as_an_earlier_version_killed_before_logging_theta0(reference_dir):
    """The interrupted run's θ0 only as its dense network's `state/initial.npz`, as a run of an earlier version
    killed between its dense network's end and the parent's θ0 (θ0 is now the parent's only: checked here)."""
    reference = MlflowClient(f"sqlite:///{reference_dir}/mlruns/mlflow.db")
    parent = next(r for r in reference.search_runs(["1"]) if r.data.tags.get("kind") == "experiment")
    dense = run_index.child_runs(parent, reference)[("ticket", 0, 0)]
    assert "state/initial.npz" not in {a.path for a in reference.list_artifacts(dense.info.run_id, "state")}
    mlflow.set_tracking_uri(reference.tracking_uri)
    theta0 = artifacts.load_arrays(parent.info.run_id, naming.initial_weights_artifact(0))
    mlflow.set_tracking_uri(tracking.default_tracking_uri())
    parent = next(r for r in MlflowClient().search_runs(["1"]) if r.data.tags.get("kind") == "experiment")
    artifacts.delete(parent.info.run_id, ["initial_weights"], [naming.initial_weights_artifact(0)])
    dense = run_index.child_runs(parent)[("ticket", 0, 0)]
    paths = weights.weight_paths(masking.mask_model(small_model()))
    artifacts.log_arrays(weights.as_arrays([theta0[path] for path in paths]), "state/initial.npz", dense.info.run_id)
    return theta0


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
    theta0 = as_an_earlier_version_killed_before_logging_theta0(reference_dir)
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
    latest = {"checkpoint/callbacks-60.npz", "checkpoint/ckpt-60.index", "checkpoint/ckpt-60.data-00000-of-00001",
              "checkpoint/ckpt-60.state"}
    assert copied == latest  # the copies at 40 and 50 were removed once the next one was complete
    assert interrupted.data.tags[COMPLETE_TAG] == "60"
    assert {k for k in interrupted.data.tags if k.startswith("sha256/checkpoint/")} == {f"sha256/{f}" for f in latest}
    assert_no_checkpoint_copies(run_id)  # the networks that finished hold none
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
    assert_no_checkpoint_copies(run_id)
    logged = artifacts.load_arrays(run_id, naming.initial_weights_artifact(0))  # θ0 back where it belongs
    assert logged.keys() == theta0.keys() and all(np.array_equal(logged[k], theta0[k]) for k in theta0)

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
    assert_no_checkpoint_copies(parent.info.run_id)


# ---------------------------------------------------------------------------- who owns a run

def test_resume_of_a_run_another_process_runs_is_refused_before_touching_it(tmp_path):
    # long enough to outlast the refused process on any machine (it is killed once checked: no cost)
    args = ["--iterations", "5000", "--eval-interval", "100", "--rounds", "3", "--log-models", "none"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    owner = subprocess.Popen([sys.executable, "-m", "lth_tf", "run", *args], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        while owner.poll() is None and not list(tmp_path.glob("mlruns/checkpoints/*/owner.lock")):
            time.sleep(0.05)
        run_id = next(tmp_path.glob("mlruns/checkpoints/*/owner.lock")).parent.name
        refused = subprocess.run([sys.executable, "-m", "lth_tf", "run", *args, "--resume", run_id], cwd=tmp_path,
                                 env=env, capture_output=True, text=True)
        assert owner.poll() is None, "the owner finished before the check: make its experiment longer"
        client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
        run = client.get_run(run_id)
        assert run.info.status == "RUNNING" and run.info.end_time is None  # not marked FAILED by the refusal
        assert run.data.tags[resume.PID_TAG] == str(owner.pid)
    finally:
        owner.kill()
        owner.communicate()
    assert refused.returncode == 2, refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and f"run {run_id} is being run by another process (pid {owner.pid})" in lines[0], lines
    assert len(client.search_runs([run.info.experiment_id], "tags.kind = 'experiment'")) == 1  # nothing started
    with filelock.FileLock(str(tmp_path / "mlruns" / "checkpoints" / run_id / "owner.lock"), timeout=0):
        pass  # the owner is dead (kill -9): a rerun may continue its run


def test_a_run_ends_before_its_owner_lock_is_released(store, tiny_config, tiny_splits, monkeypatch):
    """Another process probes the lock as the parent run is marked FINISHED: it must still be held."""
    probe = ("import filelock, sys\n"
             "try:\n    filelock.FileLock(sys.argv[1], timeout=0).acquire()\n    print('free')\n"
             "except filelock.Timeout:\n    print('held')\n")
    seen, real_end_run = [], mlflow.end_run

    def end_run(status="FINISHED"):
        run = mlflow.active_run()
        if run is not None and run.data.tags.get("kind") == "experiment":
            lock = store / "mlruns" / "checkpoints" / run.info.run_id / "owner.lock"
            seen.append((status, subprocess.run([sys.executable, "-c", probe, str(lock)], capture_output=True,
                                                text=True, check=True).stdout.strip()))
        real_end_run(status)

    monkeypatch.setattr(mlflow, "end_run", end_run)
    tiny_config.pruning.rounds = 1
    run_tiny(tiny_config, tiny_splits)
    assert seen == [("FINISHED", "held")]
