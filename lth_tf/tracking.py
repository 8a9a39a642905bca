"""MLflow: where runs are stored, how they end, and how arrays and tables are saved.

The default store is SQLite plus an artifact folder inside ./mlruns (MLflow 3 refuses
the plain file store by default). `--tracking-uri` or $MLFLOW_TRACKING_URI point
elsewhere. Runs always end with a status that says what happened: FINISHED, FAILED
(an error) or KILLED (Ctrl-C / SIGTERM), so finished rounds stay intact and readable.
Array artifacts (masks, θ0) carry their SHA-256 as a run tag and are verified on load.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import random
import tempfile
import time
import zipfile
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
logger = logging.getLogger(__name__)
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


def hash_tag(artifact_file: str) -> str:
    """The run tag that holds an artifact's SHA-256: `sha256/masks/round_02.npz`."""
    return f"sha256/{artifact_file}"


def log_arrays(arrays: Dict[str, np.ndarray], artifact_file: str, run_id: Optional[str] = None) -> str:
    """Saves `{name: array}` as an .npz artifact (no pickle: load with `np.load`), its SHA-256 as a tag;
    returns the SHA-256.

    The tag is written first, so an artifact of this version never exists without its hash.
    """
    content = npz_bytes(arrays)
    run_id = run_id or mlflow.active_run().info.run_id
    digest = hashlib.sha256(content).hexdigest()
    set_tag(hash_tag(artifact_file), digest, run_id)
    log_bytes(content, artifact_file, run_id)
    return digest


def npz_bytes(arrays: Dict[str, np.ndarray]) -> bytes:
    """An .npz archive that compresses only what pays: masks yes, weights no.

    Trained or initial float weights shrink by ~7% at `savez_compressed`'s cost of ~3 s
    for VGG-19's 20M; they are stored as they are. Masks shrink ~5x at zlib's fastest
    level (0.3 s for 20M, vs 1.9 s at the default level for a further 1.4x).
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", allowZip64=True) as archive:
        for name, array in arrays.items():
            array = np.asarray(array)
            entry = io.BytesIO()
            np.lib.format.write_array(entry, array, allow_pickle=False)
            packed = array.dtype.kind in "bui"
            archive.writestr(f"{name}.npy", entry.getbuffer(),
                             compress_type=zipfile.ZIP_DEFLATED if packed else zipfile.ZIP_STORED,
                             compresslevel=1 if packed else None)
    return buffer.getvalue()


def log_text(text: str, artifact_file: str, run_id: Optional[str] = None) -> None:
    log_bytes(text.encode(), artifact_file, run_id)


def log_bytes(content: bytes, artifact_file: str, run_id: Optional[str] = None) -> None:
    run_id = run_id or mlflow.active_run().info.run_id
    path = Path(artifact_file)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / path.name
        local.write_bytes(content)
        MlflowClient().log_artifact(run_id, str(local), str(path.parent) if str(path.parent) != "." else None)


def load_arrays(run_id: str, artifact_file: str) -> Dict[str, np.ndarray]:
    """Reads an .npz artifact back (e.g. a round's mask), verified against its recorded SHA-256.

    A changed or truncated file is refused with a `UserError` naming it. Artifacts of runs
    logged before lth-tf recorded hashes have none: they load with a warning. Arrays are
    never unpickled.
    """
    where = f"artifact {artifact_file} of run {run_id}"
    expected = MlflowClient().get_run(run_id).data.tags.get(hash_tag(artifact_file))
    try:
        local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_file))
    except Exception as error:  # noqa: BLE001 - missing file or unreachable store: one line
        raise UserError(f"{where} cannot be read: {str(error).splitlines()[0]}") from None
    content = local.read_bytes()
    if expected is None:
        logger.warning("warning: %s has no recorded SHA-256 (logged before lth-tf recorded them); loaded unverified", where)
    elif hashlib.sha256(content).hexdigest() != expected:
        raise UserError(f"{where} does not match its recorded SHA-256 (changed or truncated); refusing to load it")
    try:
        with np.load(io.BytesIO(content), allow_pickle=False) as archive:
            return {k: archive[k] for k in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise UserError(f"{where} is not a readable .npz file ({type(error).__name__})") from None


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


def dataset_inputs(name: str, splits: Dict[str, Tuple[np.ndarray, np.ndarray]]) -> List["mlflow.entities.DatasetInput"]:
    """The data as MLflow datasets, one per split (name, digest, shapes), for the runs' Datasets panel."""
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    return [DatasetInput(mlflow.data.from_numpy(x, targets=y, name=name)._to_mlflow_entity(),
                         [InputTag(MLFLOW_DATASET_CONTEXT, split)])
            for split, (x, y) in splits.items()]


def log_inputs(run_id: str, inputs: List["mlflow.entities.DatasetInput"]) -> None:
    retry_locked(MlflowClient().log_inputs, run_id, datasets=inputs)


def log_artifact_file(run_id: str, path: Path, artifact_dir: str) -> None:
    retry_locked(MlflowClient().log_artifact, run_id, str(path), artifact_dir)


def has_artifact(run_id: str, path: str) -> bool:
    folder = path.rsplit("/", 1)[0] if "/" in path else None
    return any(a.path == path for a in retry_locked(MlflowClient().list_artifacts, run_id, folder))


def download_artifact_dir(run_id: str, artifact_dir: str, destination: Path) -> None:
    """The run's `artifact_dir` artifacts into `destination` (created), files directly inside it."""
    with tempfile.TemporaryDirectory() as scratch:
        local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_dir, dst_path=scratch))
        destination.mkdir(parents=True, exist_ok=True)
        for item in local.iterdir():
            os.replace(item, destination / item.name)
