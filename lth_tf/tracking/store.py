"""MLflow: where runs are stored, how they end, and what they log (params, metrics, tags).

The default store is SQLite plus an artifact folder inside ./mlruns (MLflow 3 refuses
the plain file store by default). `--tracking-uri` or $MLFLOW_TRACKING_URI point
elsewhere. Runs always end with a status that says what happened: FINISHED, FAILED
(an error) or KILLED (Ctrl-C / SIGTERM), so finished rounds stay intact and readable.
Artifacts (masks, θ0, tables) are `lth_tf.tracking.artifacts`.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple, TypeVar

import filelock
import mlflow
import numpy as np
from mlflow.tracking import MlflowClient

from lth_tf import naming
from lth_tf.errors import UserError

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no bars in a command's output

DEFAULT_DIR = Path("mlruns")
T = TypeVar("T")


def default_tracking_uri() -> str:
    return f"sqlite:///{(DEFAULT_DIR / 'mlflow.db').resolve()}"


def default_artifact_root() -> str:
    return (DEFAULT_DIR / "artifacts").resolve().as_uri()


def resolve_tracking_uri(uri: Optional[str]) -> str:
    """Flag or config first, then $MLFLOW_TRACKING_URI, then the local default store."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def open_experiment(tracking_uri: Optional[str], name: str) -> str:
    """Points MLflow at the store and makes `name` the active experiment; returns its id.

    The default store is created on first use. Several processes may do this at once on
    one SQLite store, even a fresh one: creating (migrating) the store and the
    experiment happen under a file lock beside the database (see `store_lock`).
    Inside `mlflow run` (an MLflow Project), the project's run becomes the experiment's
    parent run, so its experiment is used.
    """
    uri = resolve_tracking_uri(tracking_uri)
    is_default = uri == default_tracking_uri()
    if is_default:
        (DEFAULT_DIR / "artifacts").mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    try:
        project_run = os.environ.get("MLFLOW_RUN_ID")
        if project_run:
            experiment_id = MlflowClient().get_run(project_run).info.experiment_id
            return retry_locked(mlflow.set_experiment, experiment_id=experiment_id).experiment_id
        with store_lock(uri):
            experiment = mlflow.get_experiment_by_name(name)
            if experiment is None:
                mlflow.create_experiment(name, artifact_location=default_artifact_root() if is_default else None)
        return retry_locked(mlflow.set_experiment, name).experiment_id
    except UserError:
        raise
    except Exception as error:  # any store problem is the user's to fix (URI, permissions)
        raise UserError(f"cannot open MLflow store {uri}: {str(error).splitlines()[0]}") from None


def sqlite_path(uri: str) -> Optional[Path]:
    """The database file of a `sqlite:///` URI (None for other stores and in-memory SQLite)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///"):].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


@contextlib.contextmanager
def store_lock(uri: str, timeout: float = 600) -> Iterator[None]:
    """Holds `<database>.lock` while this process first opens a SQLite store.

    MLflow creates and migrates a SQLite schema on first use; two processes doing that at
    once leave a half-migrated database that never opens again. The lock (the `filelock`
    package) makes them take turns; other stores (a tracking server) need no lock.
    """
    path = sqlite_path(uri)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with filelock.FileLock(f"{path}.lock", timeout=timeout):
            yield
    except filelock.Timeout:
        raise UserError(f"MLflow store {uri} stayed locked by another process for {timeout:.0f} s "
                        f"(lock file {path}.lock)") from None


def retry_locked(call: Callable[..., T], *args, attempts: int = 10, **kwargs) -> T:
    """`call(*args, **kwargs)`, retried while SQLite answers `database is locked`.

    MLflow waits 20 s for SQLite's write lock; with many processes logging into one file
    that can run out. Waiting with jittered backoff (up to about two minutes in all) is
    right for a store shared by a handful of runs; beyond that, use a tracking server.
    """
    for attempt in range(attempts):
        try:
            return call(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - only the lock error is retried
            if "database is locked" not in str(error) or attempt == attempts - 1:
                raise
            time.sleep(min(0.25 * 2 ** attempt, 15.0) * (0.5 + random.random()))
    raise AssertionError("unreachable")


ended_unfinished: List[Tuple[str, str]] = []
"""(run id, FAILED or KILLED) of every run this process ended on an error or interrupt: what the CLI reports."""


@contextlib.contextmanager
def run_scope(**start_run_kwargs) -> Iterator[mlflow.ActiveRun]:
    """`mlflow.start_run` whose end status tells an error (FAILED) from an interrupt (KILLED)."""
    run = retry_locked(mlflow.start_run, **start_run_kwargs)
    try:
        yield run
    except BaseException as error:
        status = "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"
        retry_locked(mlflow.end_run, status)
        ended_unfinished.append((run.info.run_id, status))
        raise
    retry_locked(mlflow.end_run, "FINISHED")


def set_tag(key: str, value: str, run_id: Optional[str] = None) -> None:
    run_id = run_id or mlflow.active_run().info.run_id
    retry_locked(MlflowClient().set_tag, run_id, key, value)


def set_experiment_tag(experiment_id: str, key: str, value: str, attempts: int = 5) -> None:
    """Sets an experiment tag even when other processes set it at the same moment.

    Runs of one experiment (a sweep's points on Ray, several `lth-tf run`) describe it as
    they start; MLflow's SQL store inserts a new tag, so two first writers collide on the
    table's unique key. The loser retries, and then updates the tag the winner inserted.
    """
    for attempt in range(attempts):
        try:
            return retry_locked(MlflowClient().set_experiment_tag, experiment_id, key, value)
        except Exception as error:  # noqa: BLE001 - only the concurrent insert is retried
            collided = any(m in str(error) for m in ("UNIQUE constraint failed", "duplicate key value"))
            if not collided or attempt == attempts - 1:  # SQLite's words, then PostgreSQL's
                raise
            time.sleep(0.1 * (1 + random.random()))


def log_params(params: Dict[str, object]) -> None:
    """Logs the active run's params, leaving out those already logged: under `mlflow run` the
    project logged its parameters as the user spelled them (`0.20`), which MLflow will not overwrite."""
    run = mlflow.active_run()
    logged = retry_locked(MlflowClient().get_run, run.info.run_id).data.params
    retry_locked(mlflow.log_params, {k: v for k, v in params.items() if k not in logged})


def log_metrics(run_id: str, metrics: Dict[str, float], step: int) -> None:
    """Logs `metrics` at `step`, rounded to 7 significant digits (no float32 noise in the UI)."""
    retry_locked(
        MlflowClient().log_batch,
        run_id,
        metrics=[mlflow.entities.Metric(k, naming.tracked_value(v), mlflow.utils.time.get_current_time_millis(), step)
                 for k, v in metrics.items()],
    )


def open_store(tracking_uri: Optional[str]) -> MlflowClient:
    """A client for reading an existing store (reports); never creates the default one.

    Also points `mlflow` at it, so artifact downloads and logging go to the same store.
    """
    uri = resolve_tracking_uri(tracking_uri)
    if uri == default_tracking_uri() and not (DEFAULT_DIR / "mlflow.db").exists():
        raise UserError("no runs yet in ./mlruns; run `lth-tf run` first (or pass --tracking-uri)")
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    with store_lock(uri):  # never read a store another process is still creating
        retry_locked(client.search_experiments, max_results=1)
    return client


def dataset_inputs(name: str, splits: Dict[str, Tuple[np.ndarray, np.ndarray]],
                   digests: Dict[str, str]) -> List["mlflow.entities.DatasetInput"]:
    """The data as MLflow datasets, one per split (name, digest, shapes), for the runs' Datasets panel.

    `digests` (`fingerprints.data`, what the experiment's identity hashes) replace MLflow's
    own, which covers only the first 10,000 values of each array."""
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    return [DatasetInput(mlflow.data.from_numpy(x, targets=y, name=name, digest=digests[split])._to_mlflow_entity(),
                         [InputTag(MLFLOW_DATASET_CONTEXT, split)])
            for split, (x, y) in splits.items()]


def log_inputs(run_id: str, inputs: List["mlflow.entities.DatasetInput"]) -> None:
    retry_locked(MlflowClient().log_inputs, run_id, datasets=inputs)
