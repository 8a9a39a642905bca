"""Keras callbacks that turn `model.fit` into one lottery-ticket round.

The training loop is Keras's own; everything the method adds (the reset to θ0, the
periodic validation/test evaluation, progress) hooks into it here; metrics leave through
`lth_tf.training.hooks`.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Dict, List, Optional

import numpy as np

from lth_tf.training import weights
from lth_tf.training.evaluation import Arrays, evaluator_for
from lth_tf.training.weights import network_variables  # noqa: F401 - re-exported for callers of callbacks
from lth_tf.tfkeras import keras

EVAL_SPLITS = {"val": "validation", "test": "test"}


class ResetToInitialWeights(keras.callbacks.Callback):
    """Captures θ0 before any training; every later round starts from θ0 ⊙ mask.

    The same callback object is passed to every round's `fit`: the first call captures,
    the later ones restore. Biases and other unpruned weights go back to θ0 too, as in
    the paper; the masks are state of the pruning and are never restored.
    """

    def __init__(self):
        super().__init__()
        self.initial_weights: Optional[List[np.ndarray]] = None

    def capture(self, model: keras.Model) -> None:
        self.initial_weights = weights.take(model)

    def on_train_begin(self, logs=None):
        if self.initial_weights is None:
            self.capture(self.model)
            return
        weights.restore(self.model, self.initial_weights)

    def initial_prunable(self, model: keras.Model) -> Dict[str, np.ndarray]:
        """θ0 of the masked weights, keyed like the masks."""
        return weights.prunable_part(model, self.initial_weights)


class StartFrom(keras.callbacks.Callback):
    """Starts a `fit` from a given snapshot ⊙ mask: how a control picks its starting weights.

    Random re-initialization starts from fresh weights, fine-tuning from the trained ones,
    rewinding from θk; all under the control's mask, written at the start of training.
    """

    def __init__(self, snapshot: weights.Snapshot):
        super().__init__()
        self.snapshot = snapshot

    def on_train_begin(self, logs=None):
        weights.restore(self.model, self.snapshot)


class Resumable:
    """A callback whose state must survive a kill mid-training: saved with every checkpoint.

    `state` gives it as named arrays; `load_state` takes them back (see `lth_tf.training.checkpoints`).
    """

    def state(self) -> Dict[str, np.ndarray]:
        raise NotImplementedError

    def load_state(self, arrays: Dict[str, np.ndarray]) -> None:
        raise NotImplementedError


class RecordWeights(keras.callbacks.Callback, Resumable):
    """Records θ at chosen training iterations (θk for rewinding), in `snapshots`.

    Checked after every compiled call, so each iteration must be a multiple of the
    steps per execution (`training.steps_per_execution` takes care of that).
    """

    def __init__(self, iterations):
        super().__init__()
        self.iterations = set(iterations)
        self.snapshots: Dict[int, weights.Snapshot] = {}

    def on_train_batch_end(self, batch, logs=None):
        done = int(self.model.optimizer.iterations.numpy())
        if done in self.iterations and done not in self.snapshots:
            self.snapshots[done] = weights.take(self.model)

    def state(self):
        return {f"{done}/{i:04d}": value for done, snapshot in self.snapshots.items()
                for i, value in enumerate(snapshot)}

    def load_state(self, arrays):
        self.snapshots = {}
        for key in sorted(arrays):
            done = int(key.split("/")[0])
            self.snapshots.setdefault(done, []).append(arrays[key])


class PeriodicEvaluation(keras.callbacks.Callback, Resumable):
    """Every "epoch" (= one evaluation interval) evaluates validation and test sets.

    Adds `val_loss`, `val_accuracy`, `test_loss`, `test_accuracy` and `iteration` to the
    epoch's logs (so later callbacks see them) and keeps every record in `records`. Both
    splits go through one compiled pass (`evaluation.Evaluator`), traced once per process.
    Iterations count from `start`, the iteration at which the round began.

    `later_splits_every_time=False` (`--no-test-curve`) evaluates the splits after the first
    (test) only where a summary reads them: the first evaluation, each new minimum of the
    first split's loss (early stop is its earliest minimum) and the last one (`end`). The
    summaries stay bitwise the same (`Evaluator` parts); the test curve is sparse.
    """

    def __init__(self, splits: Dict[str, Arrays], eval_interval: int, jit_compile: bool = False, start: int = 0,
                 later_splits_every_time: bool = True, end: Optional[int] = None):
        super().__init__()
        self.splits = splits
        self.eval_interval, self.start, self.end = eval_interval, start, end
        self.jit_compile = jit_compile
        self.later_splits_every_time = later_splits_every_time
        self.records: List[Dict[str, float]] = []

    def on_train_begin(self, logs=None):
        self.records = []
        self.evaluator = evaluator_for(self.model, self.splits, self.jit_compile)

    def evaluate(self, iteration: Optional[int] = None) -> Dict[str, float]:
        if self.later_splits_every_time or not self.records:
            return self.evaluator()
        first = self.evaluator("first")
        loss_key = next(iter(first))  # e.g. val_loss
        best = min((r[loss_key] for r in self.records if not math.isnan(r[loss_key])), default=math.inf)
        if first[loss_key] < best or (self.end is not None and iteration is not None and iteration >= self.end):
            return {**first, **self.evaluator("rest")}
        return first

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        record = {"iteration": self.start + (epoch + 1) * self.eval_interval}
        record.update({f"train_{k}": float(v) for k, v in logs.items() if k in ("loss", "accuracy")})
        record.update(self.evaluate(record["iteration"]))
        logs.update(record)
        self.records.append(record)

    def state(self):
        """The records so far, one float64 column per metric (float32 values round-trip exactly)."""
        keys = dict.fromkeys(k for r in self.records for k in r)  # a sparse test curve: NaN where not evaluated
        return {f"records/{k}": np.array([r.get(k, math.nan) for r in self.records], dtype=np.float64) for k in keys}

    def load_state(self, arrays):
        columns = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("records/")}
        count = len(next(iter(columns.values()))) if columns else 0
        self.records = [{k: int(v[i]) if k == "iteration" else float(v[i]) for k, v in columns.items()}
                        for i in range(count)]
        for record in self.records:  # an accuracy is never NaN: there, that split was not evaluated
            for split in [k[:-len("_accuracy")] for k, v in record.items() if k.endswith("_accuracy") and math.isnan(v)]:
                record.pop(f"{split}_accuracy"), record.pop(f"{split}_loss", None)


class Progress(keras.callbacks.Callback):
    """A one-line status (iteration, validation and test accuracy) rewritten in place."""

    def __init__(self, label: str, iterations: int, echo: Callable[[str], None]):
        super().__init__()
        self.label, self.iterations, self.echo = label, iterations, echo

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        rate = int(self.model.optimizer.iterations.numpy()) / max(time.perf_counter() - self.started, 1e-9)
        self.echo(
            f"{self.label}  it {logs['iteration']}/{self.iterations}  "
            f"val acc {logs.get('val_accuracy', float('nan')):.4f}  "
            f"test acc {logs.get('test_accuracy', float('nan')):.4f}  {rate:.0f} it/s"
        )
