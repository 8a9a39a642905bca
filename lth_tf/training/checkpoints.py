"""Checkpoints inside one network's training, so a killed run continues where it stopped.

What a `fit` needs to continue exactly: the model's variables (weights, masks, batch-norm
statistics), the optimizer (its slots and iteration count, which also drives the
learning-rate schedule), the evaluation records so far and θk if it was recorded (the
`Resumable` callbacks' state), and the data position. The data position is the
optimizer's iteration count: training batch i is a pure function of (seed, i), so a
resumed fit skips the consumed batches (`Splits.train_batches(start=...)`) and starts at
the next evaluation interval (`initial_epoch`); the compiled steps (XLA,
`steps_per_execution`) then see the same chunks of batches as an uninterrupted fit.

Checkpoints are written by `tf.train.CheckpointManager` at the end of an evaluation
interval, after the interval's metrics went to MLflow, so a kill never loses a logged
step. The manager writes its state file last and atomically; the callbacks' arrays go to
a file named after the same iteration, written before it, so a kill mid-save leaves the
previous checkpoint in force. The directory is local and removed once the network is done:
what later rounds need is saved with the network's MLflow run (`pipelines.runs.network_run`).

The last checkpoint is also copied to the network's MLflow run (`checkpoint/` artifacts),
so a run resumes on another machine, or after the local disk is gone (a preempted cloud
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
from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
from mlflow.tracking import MlflowClient

from lth_tf.tracking import artifacts, store as tracking
from lth_tf.training.callbacks import Resumable
from lth_tf.tfkeras import keras


ARTIFACT_DIR = "checkpoint"
"""Where a network's run holds its last checkpoint in MLflow while it trains."""

COMPLETE_TAG = "lth_tf.checkpoint"
"""The iteration of the last complete copy in the run's `checkpoint/` artifacts (written after its files)."""

STATE_FILE = "checkpoint"
"""TF's state file, naming the checkpoint in force (`tf.train.CheckpointManager`)."""


class NetworkCheckpoint:
    """The checkpoints of one network in `directory`, every `every` iterations (0: never)."""

    def __init__(self, directory: Path, every: int):
        self.directory, self.every = Path(directory), every
        self._manager: Optional[tf.train.CheckpointManager] = None
        self.run_id: Optional[str] = None
        """The MLflow run each checkpoint is copied to (none: local only)."""

    def latest_iteration(self) -> int:
        """The iteration the last complete checkpoint was taken at (0: none)."""
        state = tf.train.get_checkpoint_state(str(self.directory))
        if state is None or not state.model_checkpoint_path:
            return 0
        return int(state.model_checkpoint_path.rsplit("-", 1)[1])

    def callback(self, eval_interval: int, resumables: Sequence[Resumable],
                 start_step: int = 0) -> keras.callbacks.Callback:
        """Saves every `every` iterations of a fit that begins at iteration `start_step`."""
        return _SaveAndRestore(self, eval_interval, resumables, start_step)

    def manager(self, model: keras.Model) -> tf.train.CheckpointManager:
        """The manager of `model`'s checkpoints (a new one for another model or optimizer: it holds their objects)."""
        held = self._manager.checkpoint if self._manager is not None else None
        if held is None or held.model is not model or held.optimizer is not model.optimizer:
            checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
            self._manager = tf.train.CheckpointManager(checkpoint, str(self.directory), max_to_keep=1)
        return self._manager

    def arrays_path(self, iteration: int) -> Path:
        return self.directory / f"callbacks-{iteration}.npz"

    def upload(self, iteration: int) -> None:
        """Copies checkpoint `iteration` to the run's `checkpoint/` artifacts, then removes the previous copy.

        TF's state file goes last (as `ckpt-N.state`), then the tag that completes the copy.
        """
        if self.run_id is None:
            return
        files = sorted(p for p in self.directory.iterdir() if p.name.startswith(f"ckpt-{iteration}."))
        with tempfile.TemporaryDirectory() as scratch:
            state = Path(scratch) / f"ckpt-{iteration}.state"
            shutil.copyfile(self.directory / STATE_FILE, state)
            artifacts.log_files(self.run_id, [*files, self.arrays_path(iteration), state], ARTIFACT_DIR)
        tracking.set_tag(COMPLETE_TAG, str(iteration), self.run_id)
        # the previous copy, and the parts of one a kill interrupted
        stale = [name for copied, names in _copies(self.run_id).items() if copied != iteration for name in names]
        if stale:
            artifacts.delete(self.run_id, stale, stale)

    def fetch(self, run_id: str) -> None:
        """Brings back the last checkpoint `run_id` holds in MLflow, unless one is here already.

        Every file is checked against its SHA-256 tag; TF's state file is written last.
        """
        if self.latest_iteration():
            return
        tags = _tags(run_id)
        if COMPLETE_TAG in tags:
            iteration = int(tags[COMPLETE_TAG])
            names = sorted(_copies(run_id)[iteration], key=lambda name: name.endswith(".state"))
            artifacts.download_files(run_id, names, self.directory)
            os.replace(self.directory / f"ckpt-{iteration}.state", self.directory / STATE_FILE)
        elif artifacts.has_artifact(run_id, f"{ARTIFACT_DIR}/{STATE_FILE}"):  # copied by earlier versions: every checkpoint, unhashed
            names = sorted((a.path for a in MlflowClient().list_artifacts(run_id, ARTIFACT_DIR)),
                           key=lambda name: name == f"{ARTIFACT_DIR}/{STATE_FILE}")
            artifacts.download_files(run_id, names, self.directory)

    def discard(self) -> None:
        """The network finished: its copy leaves the run (the completing tag first, then the files and their tags)."""
        if self.run_id is None:
            return
        tags = _tags(self.run_id)
        if COMPLETE_TAG in tags:
            tracking.retry_locked(MlflowClient().delete_tag, self.run_id, COMPLETE_TAG)
        names = [name for copy in _copies(self.run_id, tags).values() for name in copy]
        if names or artifacts.has_artifact(self.run_id, ARTIFACT_DIR):
            artifacts.delete(self.run_id, [ARTIFACT_DIR], names)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _tags(run_id: str) -> Dict[str, str]:
    return tracking.retry_locked(MlflowClient().get_run, run_id).data.tags


def _copies(run_id: str, tags: Optional[Dict[str, str]] = None) -> Dict[int, List[str]]:
    """The run's `checkpoint/` artifacts by iteration, as their hash tags list them (written before each file)."""
    prefix = artifacts.hash_tag(f"{ARTIFACT_DIR}/")
    by_iteration: Dict[int, List[str]] = defaultdict(list)
    for key in (_tags(run_id) if tags is None else tags):
        if key.startswith(prefix):
            name = key[len(prefix):]  # ckpt-60.index, callbacks-60.npz, ckpt-60.state
            by_iteration[int(name.split(".", 1)[0].rsplit("-", 1)[1])].append(f"{ARTIFACT_DIR}/{name}")
    return by_iteration


class _SaveAndRestore(keras.callbacks.Callback):
    """Restores the last checkpoint as training begins (after the callbacks that set the
    starting weights) and saves one every `every` iterations (after the MLflow metrics).
    Must therefore be the last callback of the `fit`."""

    def __init__(self, checkpoint: NetworkCheckpoint, eval_interval: int, resumables: Sequence[Resumable],
                 start_step: int = 0):
        super().__init__()
        self.checkpoint, self.eval_interval, self.resumables = checkpoint, eval_interval, list(resumables)
        self.start_step = start_step

    def on_train_begin(self, logs=None):
        iteration = self.checkpoint.latest_iteration()
        if not iteration:
            return
        manager = self.checkpoint.manager(self.model)
        self.model.optimizer.build(self.model.trainable_variables)  # slots exist before they are restored
        manager.checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        with np.load(self.checkpoint.arrays_path(iteration), allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
        for index, resumable in enumerate(self.resumables):
            prefix = f"{index}:"
            resumable.load_state({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})

    def on_epoch_end(self, epoch, logs=None):
        iteration = self.start_step + (epoch + 1) * self.eval_interval  # absolute, as the curves' steps
        if not self.checkpoint.every or iteration % self.checkpoint.every:
            return
        arrays = {f"{i}:{k}": v for i, r in enumerate(self.resumables) for k, v in r.state().items()}
        path = self.checkpoint.arrays_path(iteration)
        self.checkpoint.directory.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.npz")
        np.savez(partial, **arrays)
        os.replace(partial, path)
        manager = self.checkpoint.manager(self.model)
        previous = self.checkpoint.latest_iteration()
        manager.save(checkpoint_number=iteration)
        if previous and previous != iteration:
            self.checkpoint.arrays_path(previous).unlink(missing_ok=True)
        self.checkpoint.upload(iteration)
