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

Each saved checkpoint is announced to a hook (`lth_tf.training.hooks.CheckpointCopies`),
which may copy it elsewhere so a run resumes on another machine: the MLflow one is
`lth_tf.tracking.hook.MlflowCheckpointCopies`. This module itself knows no MLflow.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from lth_tf.tfkeras import keras
from lth_tf.training.callbacks import Resumable
from lth_tf.training.hooks import CheckpointCopies

STATE_FILE = "checkpoint"
"""TF's state file, naming the checkpoint in force (`tf.train.CheckpointManager`)."""


class NetworkCheckpoint:
    """The checkpoints of one network in `directory`, every `every` iterations (0: never)."""

    def __init__(self, directory: Path, every: int):
        self.directory, self.every = Path(directory), every
        self._manager: Optional[tf.train.CheckpointManager] = None
        self.copies: Optional[CheckpointCopies] = None
        """Where each checkpoint is copied besides `directory` (none: local only)."""

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
        """Announces checkpoint `iteration` (its files, TF's state file among them) to the copies, if any."""
        if self.copies is not None:
            files = sorted(p for p in self.directory.iterdir() if p.name.startswith(f"ckpt-{iteration}."))
            self.copies.saved(self.directory, iteration, [*files, self.arrays_path(iteration)])

    def fetch(self) -> None:
        """Brings back the last copied checkpoint, unless one is here already."""
        if self.copies is not None and not self.latest_iteration():
            self.copies.fetch(self.directory)

    def discard(self) -> None:
        """The network finished: its copies go (the local directory: `remove`)."""
        if self.copies is not None:
            self.copies.discard()

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


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
