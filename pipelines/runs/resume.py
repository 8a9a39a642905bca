"""Which parent run an `lth-tf run` continues, and who owns it while it runs.

A rerun of an experiment (same `identity` tag) continues its newest unfinished parent
run (FAILED, KILLED, or RUNNING with no live process), in the same run; a finished one
is reported instead of being run again; `--resume RUN_ID` names the run, `--restart`
forces a fresh one. A run is owned by the process holding the file lock
`<checkpoint root>/<run id>/owner.lock` (the operating system releases it when the
process dies, even by SIGKILL), so "RUNNING with no live process" is a lock that can be
taken. A run that is alive is left alone: starting the same experiment while it runs
gives a separate parent run, and `--resume` naming it is refused before any run starts
or ends. The lock is taken before a continued run starts and released only after the
run has ended, so no rerun ever continues a run that is finishing. A RUNNING run
started on another host cannot be checked from here; it is taken for alive unless named
with `--resume`.

What a run holds must be what these settings give now: a model that changed under the
same identity (a registry model's code, from one lth-tf version to the next) or a mask
that a rerun prunes otherwise is refused in one line (`Changed`), the run left as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from pathlib import Path
from typing import Callable, Dict, Iterator, Optional
from urllib.parse import urlparse

import filelock
from mlflow.entities import Run, RunTag
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from lth_tf import naming
from lth_tf.tracking import artifacts, store as tracking
from lth_tf.settings import ExperimentConfig, Subject
from lth_tf.errors import UserError
from lth_tf.masking import Masks
from lth_tf.tracking.search import search
from pipelines.runs import run_index

HOST_TAG, PID_TAG, RESUMES_TAG = naming.HOST_TAG, naming.PID_TAG, naming.RESUMES_TAG
LEGACY_TAG = naming.LEGACY_IDENTITY_TAG
"""The identity an earlier lth-tf tagged a run with, kept when it is retagged."""


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


def choose_parent(experiment_id: str, cfg: ExperimentConfig, subject: Subject, root: Path,
                  echo: Callable[[str], None] = print) -> Optional[Run]:
    """The parent run to continue or report (None: start a fresh one).

    A run tagged by lth-tf's earlier identity scheme (`ExperimentConfig.legacy`) is found
    too, if what it logged of its data and model agrees (`Subject.earlier`); it is then
    retagged with this scheme's identity and family, and the line saying so is printed once.
    """
    client = MlflowClient()
    identity = cfg.identity(subject)
    named = cfg.durability.resume
    if named:
        try:
            run = client.get_run(named)
        except Exception:  # noqa: BLE001 - MLflow raises its own errors for unknown ids
            raise UserError(f"--resume: no run {named} in the store") from None
        if run.data.tags.get(naming.IDENTITY_TAG) != identity and not _earlier(run, cfg, subject):
            raise UserError(f"--resume: run {named} is another experiment (identity "
                            f"{run.data.tags.get(naming.IDENTITY_TAG)}, these settings give {identity})")
        if run.info.experiment_id != experiment_id:
            raise UserError(f"--resume: run {named} is in MLflow experiment {run.info.experiment_id}; "
                            "pass its --experiment-name")
        return _retagged(run, cfg, subject, client, echo)
    if cfg.durability.restart:
        return None
    runs = search(experiment_id, _experiments_of(identity), client)
    legacy, _ = cfg.legacy()
    if not runs and legacy:
        runs = [r for r in search(experiment_id, _experiments_of(legacy), client) if _earlier(r, cfg, subject)]
    usable = [r for r in runs if not (r.info.status == "RUNNING" and is_alive(r, root))]
    # the newest: finished (reported) or not (continued)
    return _retagged(usable[0], cfg, subject, client, echo) if usable else None


def _experiments_of(identity: str) -> str:
    """The search filter of the experiment runs of `identity`."""
    return (f"{naming.tag_filter(naming.IDENTITY_TAG, identity)} AND "
            f"{naming.tag_filter(naming.KIND_TAG, naming.EXPERIMENT_KIND)}")


def _earlier(run: Run, cfg: ExperimentConfig, subject: Subject) -> bool:
    """Whether `run` is this experiment as the earlier scheme tagged it: a lottery run (`mode` tag)
    of this legacy identity whose logged data digests and prunable weight count agree."""
    tags = run.data.tags
    if subject.command != "lottery" or not tags.get(naming.MODE_TAG) or tags.get(naming.IDENTITY_TAG) != cfg.legacy()[0]:
        return False
    logged = {"prunable_weights": {run.data.params.get("prunable_weights")} - {None}}
    for dataset in run.inputs.dataset_inputs:
        for tag in dataset.tags:
            if tag.key == MLFLOW_DATASET_CONTEXT:
                logged.setdefault(tag.value, set()).add(dataset.dataset.digest)
    return all(value in logged[key] for key, value in subject.earlier.items() if logged.get(key))


def _retagged(run: Run, cfg: ExperimentConfig, subject: Subject, client: MlflowClient, echo) -> Run:
    """`run`, with this scheme's identity and family if it had the earlier scheme's."""
    identity, family = cfg.identity(subject), cfg.family(subject)
    earlier = run.data.tags.get(naming.IDENTITY_TAG)
    if earlier == identity:
        return run
    client.log_batch(run.info.run_id, tags=[RunTag(LEGACY_TAG, earlier), RunTag(naming.IDENTITY_TAG, identity),
                                            RunTag(naming.FAMILY_TAG, family)])
    echo(f"run {run.info.run_id} was tagged by an earlier lth-tf (identity {earlier}); "
         f"retagged as this experiment: identity {identity}, family {family}")
    return client.get_run(run.info.run_id)


class Changed(UserError):
    """What a resumed run holds differs from what these settings give now (changed code or data)."""


def check_unchanged(parent: Run, networks: Dict[run_index.NetworkKey, Run], masks: Masks) -> None:
    """Raises `Changed` unless the parent's first dense network was masked like `masks` (the same
    layers, of the same shapes): its model changed under the same identity (a registry model's code)."""
    dense = networks.get(("ticket", 0, 0))
    if dense is None or naming.mask_artifact(0) not in {
            a.path for a in MlflowClient().list_artifacts(dense.info.run_id, "masks")}:
        return
    before = {k: m.shape for k, m in artifacts.load_arrays(dense.info.run_id, naming.mask_artifact(0)).items()}
    now = {k: m.shape for k, m in masks.items()}
    for key in sorted(set(before) | set(now)):
        if before.get(key) != now.get(key):
            raise Changed(f"run {parent.info.run_id} was made with another model: its weights '{key}' had shape "
                          f"{before.get(key, 'none')}, the model now gives {now.get(key, 'none')}; pass --restart "
                          "for a fresh run")


@contextlib.contextmanager
def as_before(run: Optional[Run]) -> Iterator[None]:
    """On `Changed`, puts the continued `run` back as it was (status, resume count), then re-raises."""
    try:
        yield
    except Changed:
        if run is not None:
            client = MlflowClient()
            client.update_run(run.info.run_id, status=run.info.status)
            if RESUMES_TAG in run.data.tags:
                client.set_tag(run.info.run_id, RESUMES_TAG, run.data.tags[RESUMES_TAG])
            else:
                client.delete_tag(run.info.run_id, RESUMES_TAG)
        raise


@contextlib.contextmanager
def choosing(root: Path) -> Iterator[None]:
    """Holds `<root>/choosing.lock` while this process chooses its parent run and claims it.

    Between starting a fresh run and taking its owner lock, another process could take the
    run for dead and continue it; processes of one store take turns choosing instead.
    """
    root.mkdir(parents=True, exist_ok=True)
    try:
        with filelock.FileLock(str(root / "choosing.lock"), timeout=600):
            yield
    except filelock.Timeout:
        raise UserError(f"{root / 'choosing.lock'} stayed locked by another process for 600 s") from None


@contextlib.contextmanager
def owning(root: Path) -> Iterator[Callable[[str], None]]:
    """`claim(run_id)` takes a parent run's owner lock; the locks are held until the block ends.

    Enter it before the run starts: the run then ends (FINISHED, FAILED, KILLED) before
    its lock is released, so no other process takes it in between. A claim refused
    because another live process runs it raises `UserError` and touches nothing: claim
    a run to continue before starting it. After a clean end, the runs' local
    checkpoints (and the lock files) are removed.
    """
    held = []

    def claim(run_id: str) -> None:
        lock = _lock(root, run_id)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise UserError(f"run {run_id} is being run by another process (pid {_pid(run_id)}); "
                            "it is left alone") from None
        held.append((run_id, lock))
        tracking.retry_locked(MlflowClient().log_batch, run_id,
                              tags=[RunTag(HOST_TAG, socket.gethostname()), RunTag(PID_TAG, str(os.getpid()))])

    try:
        yield claim
    finally:
        for _, lock in held:
            lock.release()
    for run_id, _ in held:
        shutil.rmtree(root / run_id, ignore_errors=True)


def _pid(run_id: str) -> str:
    return MlflowClient().get_run(run_id).data.tags.get(PID_TAG, "unknown")


def resumes(run: Run) -> int:
    """How many times the run was continued after an interruption (its `lth_tf.resumes` tag)."""
    return int(run.data.tags.get(RESUMES_TAG, "0"))
