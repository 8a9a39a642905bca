"""MLflow behind the training hooks (`lth_tf.training.hooks`): a network's checkpoint copies on its run.

The last checkpoint is copied to the network's MLflow run (`checkpoint/` artifacts), so a
run resumes on another machine, or after the local disk is gone (a preempted cloud
machine): `fetch` brings it back when the local directory has none. The copy is
transient: only the latest is kept while the network trains, and it leaves the run when
the network finishes (`discard`), so no finished run holds one. The order makes a kill
at any moment safe: the files of checkpoint N (named by iteration, each with its SHA-256
as a run tag written first, as every `.npz` artifact gets, see `lth_tf.tracking.artifacts`) are
copied, TF's state file last (as `ckpt-N.state`); then the run's tag `lth_tf.checkpoint`
= N says the copy is complete; only then are the previous copy's files deleted. `fetch`
reads that tag, verifies every file, and writes TF's state file last.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional

from mlflow.tracking import MlflowClient

from lth_tf import naming
from lth_tf.tracking import artifacts, store
from lth_tf.training.checkpoints import STATE_FILE
from lth_tf.training.hooks import CheckpointCopies

ARTIFACT_DIR = naming.CHECKPOINT_ARTIFACTS
COMPLETE_TAG = naming.CHECKPOINT_TAG


class MlflowCheckpointCopies(CheckpointCopies):
    """The checkpoints of the network trained in MLflow run `run_id`, copied to its artifacts."""

    def __init__(self, run_id: str):
        self.run_id = run_id

    def saved(self, directory: Path, iteration: int, files: List[Path]) -> None:
        """Copies checkpoint `iteration`, then TF's state file (as `ckpt-N.state`), then the completing tag;
        then removes the previous copy."""
        with tempfile.TemporaryDirectory() as scratch:
            state = Path(scratch) / f"ckpt-{iteration}.state"
            shutil.copyfile(directory / STATE_FILE, state)
            artifacts.log_files(self.run_id, [*files, state], ARTIFACT_DIR)
        store.set_tag(COMPLETE_TAG, str(iteration), self.run_id)
        # the previous copy, and the parts of one a kill interrupted
        stale = [name for copied, names in _copies(self.run_id).items() if copied != iteration for name in names]
        if stale:
            artifacts.delete(self.run_id, stale, stale)

    def fetch(self, directory: Path) -> None:
        """Brings back the last checkpoint the run holds; every file is checked against its SHA-256 tag, TF's
        state file is written last."""
        tags = _tags(self.run_id)
        if COMPLETE_TAG in tags:
            iteration = int(tags[COMPLETE_TAG])
            names = sorted(_copies(self.run_id)[iteration], key=lambda name: name.endswith(".state"))
            artifacts.download_files(self.run_id, names, directory)
            os.replace(directory / f"ckpt-{iteration}.state", directory / STATE_FILE)
        elif artifacts.has_artifact(self.run_id, f"{ARTIFACT_DIR}/{STATE_FILE}"):  # copied by earlier versions: every checkpoint, unhashed
            names = sorted((a.path for a in MlflowClient().list_artifacts(self.run_id, ARTIFACT_DIR)),
                           key=lambda name: name == f"{ARTIFACT_DIR}/{STATE_FILE}")
            artifacts.download_files(self.run_id, names, directory)

    def discard(self) -> None:
        """The network finished: its copy leaves the run (the completing tag first, then the files and their tags)."""
        tags = _tags(self.run_id)
        if COMPLETE_TAG in tags:
            store.retry_locked(MlflowClient().delete_tag, self.run_id, COMPLETE_TAG)
        names = [name for copy in _copies(self.run_id, tags).values() for name in copy]
        if names or artifacts.has_artifact(self.run_id, ARTIFACT_DIR):
            artifacts.delete(self.run_id, [ARTIFACT_DIR], names)


def _tags(run_id: str) -> Dict[str, str]:
    return store.retry_locked(MlflowClient().get_run, run_id).data.tags


def _copies(run_id: str, tags: Optional[Dict[str, str]] = None) -> Dict[int, List[str]]:
    """The run's `checkpoint/` artifacts by iteration, as their hash tags list them (written before each file)."""
    prefix = artifacts.hash_tag(f"{ARTIFACT_DIR}/")
    by_iteration: Dict[int, List[str]] = defaultdict(list)
    for key in (_tags(run_id) if tags is None else tags):
        if key.startswith(prefix):
            name = key[len(prefix):]  # ckpt-60.index, callbacks-60.npz, ckpt-60.state
            by_iteration[int(name.split(".", 1)[0].rsplit("-", 1)[1])].append(f"{ARTIFACT_DIR}/{name}")
    return by_iteration
