"""What training reports to, and nothing more: where metrics and checkpoint copies go is the hook's business.

The loop and its callbacks call these; `lth_tf.tracking.hook` implements them with MLflow,
and a test or a user without a store can pass plain ones (a list, a dict). Training thus
runs, and is tested, with no MLflow at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List

from lth_tf import naming
from lth_tf.tfkeras import keras


MetricsHook = Callable[[Dict[str, float], int], None]
"""`hook(metrics, step)`: receives each evaluation's metrics, keyed as tracked (`val/loss`), step = iteration."""


class CheckpointCopies:
    """Copies of a network's checkpoints beyond its local directory, so it resumes elsewhere."""

    def saved(self, directory: Path, iteration: int, files: List[Path]) -> None:
        """Checkpoint `iteration` was written to `directory` as `files` (TF's state file is `directory/checkpoint`)."""
        raise NotImplementedError

    def fetch(self, directory: Path) -> None:
        """Writes the last complete copy into `directory`, if there is one."""
        raise NotImplementedError

    def discard(self) -> None:
        """The network finished: no copy is needed any more."""
        raise NotImplementedError


class ReportMetrics(keras.callbacks.Callback):
    """Sends each evaluation record to a `MetricsHook`, step = training iteration.

    Keras's names (`val_loss`) become grouped ones (`val/loss`), so MLflow charts each
    split's curves in a section of their own.
    """

    def __init__(self, hook: MetricsHook):
        super().__init__()
        self.hook = hook

    def on_epoch_end(self, epoch, logs=None):
        metrics = {naming.curve_from_record(k): float(v) for k, v in (logs or {}).items()
                   if k != "iteration" and k not in ("loss", "accuracy")}
        self.hook(metrics, int(logs["iteration"]))
