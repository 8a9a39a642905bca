"""The `local_change` criterion's evidence: a Keras callback that records how fast each masked weight moves.

Its criterion (score, setting, check) is `local_change`, which TensorFlow-free code reads;
this file holds the part that needs Keras.
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from lth_tf import masking
from lth_tf.tfkeras import keras
from lth_tf.training.callbacks import Resumable


class LocalChange(keras.callbacks.Callback, Resumable):
    """How fast each masked weight moves near the end of training: the `local_change` criterion's evidence.

    The seed notes' idea: prune the weights that, from one iteration to the next, change
    too slowly. Over the last `window` iterations before `end` (absolute iterations; the
    round began at `start`), this sums |w_t - w_{t-1}| and divides by the iterations
    covered. Keras shows callbacks the weights only between compiled calls, so each
    difference spans `steps_per_execution` iterations (exactly one with
    --steps-per-execution 1); the window's first iteration must be such a boundary
    (`training.steps_per_execution(..., begins)`). Weights are read only inside the
    window, so the rest of training runs untouched.
    """

    def __init__(self, start: int, end: int, window: int):
        super().__init__()
        self.start, self.begins = start, max(start, end - window)
        self.scores: Optional[Dict[str, np.ndarray]] = None

    def on_train_begin(self, logs=None):
        self.total, self.previous, self.first, self.last = None, None, None, None
        if self.begins == self.start:
            self._observe(self.start)

    def on_train_batch_end(self, batch, logs=None):
        done = self.start + int(self.model.optimizer.iterations.numpy())
        if done >= self.begins:
            self._observe(done)

    def on_train_end(self, logs=None):
        if self.first is None or self.last == self.first:
            raise ValueError(f"local_change saw the weights fewer than twice after iteration {self.begins}; "
                             "widen --local-change-window")
        self.scores = {k: total / (self.last - self.first) for k, total in self.total.items()}

    def state(self) -> Dict[str, np.ndarray]:
        """What it has summed so far, so a network resumed inside the window ends with the same scores."""
        if self.first is None:
            return {}
        return {"bounds": np.array([self.first, self.last]), **{f"total/{k}": v for k, v in self.total.items()},
                **{f"previous/{k}": v for k, v in self.previous.items()}}

    def load_state(self, arrays: Dict[str, np.ndarray]) -> None:
        if "bounds" not in arrays:
            return
        self.first, self.last = (int(i) for i in arrays["bounds"])
        self.total = {k[len("total/"):]: v for k, v in arrays.items() if k.startswith("total/")}
        self.previous = {k[len("previous/"):]: v for k, v in arrays.items() if k.startswith("previous/")}

    def _observe(self, iteration: int) -> None:
        now = {k: v.numpy() for k, v in masking.prunable_weights(self.model).items()}
        if self.previous is None:
            self.total, self.first = {k: np.zeros_like(w) for k, w in now.items()}, iteration
        else:
            for key, value in now.items():
                self.total[key] += np.abs(value - self.previous[key])
        self.previous, self.last = now, iteration
