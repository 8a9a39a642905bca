"""Which parent run an `lth-tf run` continues, and who owns it while it runs.

A rerun of an experiment (same `identity` tag) continues its newest unfinished parent
run (FAILED, KILLED, or RUNNING with no live process), in the same run; a finished one
is reported instead of being run again; `--resume RUN_ID` names the run, `--restart`
forces a fresh one. A run is owned by the process holding the file lock
`<checkpoint root>/<run id>/owner.lock` (the operating system releases it when the
process dies, even by SIGKILL), so "RUNNING with no live process" is a lock that can be
taken. A run that is alive is left alone: starting the same experiment while it runs
gives a separate parent run. A RUNNING run started on another host cannot be checked
from here; it is taken for alive unless named with `--resume`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from pathlib import Path
from typing import Iterator, Optional
from urllib.parse import urlparse

import filelock
from mlflow.entities import Run, RunTag
from mlflow.tracking import MlflowClient

from lth_tf import tracking
from lth_tf.config import ExperimentConfig
from lth_tf.errors import UserError
from pipelines import run_index

HOST_TAG, PID_TAG, RESUMES_TAG = "lth_tf.host", "lth_tf.pid", "lth_tf.resumes"


def checkpoint_root(cfg: ExperimentConfig) -> Path:
    """`--checkpoint-dir`, else `checkpoints` beside a SQLite store, else ./mlruns/checkpoints."""
    if cfg.durability.checkpoint_dir:
        return Path(cfg.durability.checkpoint_dir).resolve()
    uri = tracking.resolve_tracking_uri(cfg.tracking_uri)
    if uri.startswith("sqlite:///"):
        return Path(urlparse(uri).path).resolve().parent / "checkpoints"
    return (tracking.DEFAULT_DIR / "checkpoints").resolve()


def _lock(root: Path, run_id: str) -> filelock.FileLock:
    (root / run_id).mkdir(parents=True, exist_ok=True)
    return filelock.FileLock(str(root / run_id / "owner.lock"), timeout=0)


def is_alive(run: Run, root: Path) -> bool:
    """Whether a RUNNING run's process still runs (see the module's docstring)."""
    host = run.data.tags.get(HOST_TAG)
    if host and host != socket.gethostname():
        return True
    lock = _lock(root, run.info.run_id)
    try:
        lock.acquire()
    except filelock.Timeout:
        return True
    lock.release()
    return False


def choose_parent(experiment_id: str, cfg: ExperimentConfig, root: Path) -> Optional[Run]:
    """The parent run to continue or report (None: start a fresh one)."""
    client = MlflowClient()
    named = cfg.durability.resume
    if named:
        try:
            run = client.get_run(named)
        except Exception:  # noqa: BLE001 - MLflow raises its own errors for unknown ids
            raise UserError(f"--resume: no run {named} in the store") from None
        if run.data.tags.get("identity") != cfg.identity():
            raise UserError(f"--resume: run {named} is another experiment (identity "
                            f"{run.data.tags.get('identity')}, these settings give {cfg.identity()})")
        if run.info.experiment_id != experiment_id:
            raise UserError(f"--resume: run {named} is in MLflow experiment {run.info.experiment_id}; "
                            "pass its --experiment-name")
        return run
    if cfg.durability.restart:
        return None
    runs = run_index.search(experiment_id, f"tags.identity = '{cfg.identity()}' AND tags.kind = 'experiment'", client)
    usable = [r for r in runs if not (r.info.status == "RUNNING" and is_alive(r, root))]
    return usable[0] if usable else None  # the newest: finished (reported) or not (continued)


@contextlib.contextmanager
def owning(run_id: str, root: Path) -> Iterator[None]:
    """Holds the run's owner lock while the block runs; removes its checkpoints after a clean end."""
    lock = _lock(root, run_id)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise UserError(f"run {run_id} is being run by another process") from None
    MlflowClient().log_batch(run_id, tags=[RunTag(HOST_TAG, socket.gethostname()), RunTag(PID_TAG, str(os.getpid()))])
    try:
        yield
    finally:
        lock.release()
    shutil.rmtree(root / run_id, ignore_errors=True)


def resumes(run: Run) -> int:
    """How many times the run was continued after an interruption (its `lth_tf.resumes` tag)."""
    return int(run.data.tags.get(RESUMES_TAG, "0"))
