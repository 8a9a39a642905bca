"""What a control is: a ticket's training started from another mask or from other weights.

Like open_lth's branches, a per-round control is one function, `start(ctx: RoundContext)
-> Start` (mask, starting weights, starting iteration), in one file that may also declare
its own `Settings` (a dataclass of `setting(...)` fields, in the `controls` group) and
`check(cfg)`; the pipeline trains and tracks its network like a ticket's. A control that is
a chain of networks of its own (`fine_tune`) declares `chain(...)` instead of `start`. A
control that cannot run in a transfer says why in `NOT_IN_TRANSFER`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np

if TYPE_CHECKING:  # types only: a control's file is read for its settings before TensorFlow loads
    from lth_tf.masking import Masks
    from lth_tf.training import weights
    from lth_tf.tfkeras import keras


@dataclass
class RoundContext:
    """What a round of one trial knows when its controls run."""

    model: keras.Model
    round: int
    seed: int
    masks: Masks
    """The ticket's mask this round."""
    initial: weights.Snapshot
    """θ0 of the trial."""
    pruned_from: weights.Snapshot
    """The trained weights the ticket's mask was computed from."""
    rewind: Optional[weights.Snapshot] = None
    """θk of the dense run, when the rewind control is on."""
    noise_scale: float = 0.5
    start: Optional[weights.Snapshot] = None
    """The ticket's starting weights this round (θ0, or θk with --reset-to k); default θ0."""
    start_step: int = 0
    """The iteration at which the ticket's training begins (k with --reset-to k)."""
    rewind_step: int = 0
    """k of the rewind control (--rewind-to)."""
    cfg: Any = None
    """The experiment's configuration (a control's own settings)."""
    splits: Any = None
    """The data (the training split the mask-drawing controls score on)."""

    def __post_init__(self):
        if self.start is None:
            self.start = self.initial

    def derived_seed(self, control: str) -> int:
        """A seed of the control's own, fixed by trial seed, round and control name."""
        sequence = np.random.SeedSequence([self.seed, self.round, zlib.crc32(control.encode())])
        return int(sequence.generate_state(1)[0] % (2**31 - 1))

    def rng(self, control: str) -> np.random.Generator:
        return np.random.default_rng(self.derived_seed(control))


@dataclass
class Start:
    masks: Masks
    weights: weights.Snapshot
    step: int = 0
    """The iteration training begins at (schedule and data order advanced to it)."""
    network: Optional[Callable[..., None]] = None
    """A control that trains a network of its own kind (`gradual`: tfmot's wrapper): `network(runs, kind,
    round, replicate, seed)` trains and tracks it with `runs` (`ChildRuns`); `masks` then give its counts."""
