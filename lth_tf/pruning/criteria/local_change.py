"""The seed notes' criterion: keep the weights that still move fast near the end of training.

Here: its score, its setting (`--local-change-window`) and check, and which callback records
its evidence while training (`callback`). The callback itself, a Keras callback, is
`local_change_evidence.LocalChange`: apart, so that this declaration is read (flags,
validation) without importing TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np

from lth_tf.errors import UserError
from lth_tf.settings.fields import setting


@dataclass
class Settings:
    local_change_window: int = setting(
        100, "--criterion local_change: the last this many iterations of a round over which each weight's "
        "per-iteration change is averaged."
    )


def check(cfg) -> None:
    p, t = cfg.pruning, cfg.training
    if p.criterion == "local_change" and not 1 <= p.local_change_window <= t.iterations - p.reset_to:
        raise UserError(f"--local-change-window must be in 1..{t.iterations - p.reset_to} (the iterations a round "
                        f"trains), got {p.local_change_window}")


def score(final: np.ndarray, initial: np.ndarray, rng: np.random.Generator,
          change: Optional[np.ndarray] = None) -> np.ndarray:
    """Keep the weights that moved most per iteration near the end of training; prune the slow ones."""
    if change is None:
        raise ValueError("the local_change criterion needs the updates recorded while training (LocalChange)")
    return change


def callback(start: int, end: int, cfg) -> "LocalChange":
    """The evidence of a round training from iteration `start` to `end`."""
    from lth_tf.pruning.criteria.local_change_evidence import LocalChange

    return LocalChange(start, end, cfg.pruning.local_change_window)


def __getattr__(name):
    if name == "LocalChange":  # the evidence's callback, with TensorFlow, on first use
        from lth_tf.pruning.criteria.local_change_evidence import LocalChange

        return LocalChange
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
