"""Controls: a ticket's training, started from another mask or from other weights.

The Lottery Ticket Hypothesis is a claim against controls: a winning ticket must beat
its own mask with other weights (`reinit`, `noise`) and other masks of the same sizes
with its weights (`random_prune`); `prune_at_init` is the seed's "pruning before
training" (the mask chosen from |θ0| before any training), and `rewind` the
late-resetting variant (reset to θk of the dense run with the schedule and data order
advanced to k, Frankle et al. 2020). Like open_lth's branches, each control is one
function from the round's `RoundContext` to a `Start` (mask, starting weights, starting
iteration) plus one `@register` line; the pipeline trains and tracks it like a ticket.

Controls that keep the ticket's weights (`random_prune`, `noise`) start where the
ticket starts: θ0 at iteration 0, or θk at iteration k with `--reset-to k`. Controls
with weights of their own (`reinit`, `prune_at_init`) train the full budget from 0.
The conventional baseline, `fine_tune`, is not a per-round control but a chain of its
own (`pipelines.controls.fine_tune`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Optional

import numpy as np

from lth_tf.pruning import counts as pruning
from lth_tf.training import weights
from lth_tf.errors import UserError
from lth_tf.masking import Masks
from lth_tf.registry import Registry
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


CONTROLS = Registry("control")
register = CONTROLS.register
get = CONTROLS.lookup


@register("reinit")
def reinit(ctx: RoundContext) -> Start:
    """The ticket's mask on weights drawn afresh from the same initializers (own seed)."""
    return Start(ctx.masks, weights.fresh_initialization(ctx.model, ctx.derived_seed("reinit")))


@register("random_prune")
def random_prune(ctx: RoundContext) -> Start:
    """A uniformly random mask with the ticket's per-layer counts, on the ticket's start (θ0 or θk)."""
    return Start(pruning.random_masks_like(ctx.masks, ctx.rng("random_prune")), ctx.start, ctx.start_step)


@register("prune_at_init")
def prune_at_init(ctx: RoundContext) -> Start:
    """Pruning before training: keep the largest |θ0|, the ticket's count per layer, trained from θ0.

    The same magnitude criterion as the ticket's, applied before any training: the
    seed notes' negative result ("pruning before training impairs the performance").
    """
    initial = weights.prunable_part(ctx.model, ctx.initial)
    masks = {k: pruning.keep_top(np.abs(initial[k]), np.ones_like(m), int(m.sum())) for k, m in ctx.masks.items()}
    return Start(masks, ctx.initial, 0)


@register("noise")
def noise(ctx: RoundContext) -> Start:
    """The ticket's start (θ0, or θk) plus Gaussian noise of `noise_scale` standard deviations of each layer's θ0.

    Only the masked weights are perturbed; each layer's σ is the standard deviation of its
    own θ0, the spread its initializer drew.
    """
    rng = ctx.rng("noise")
    initial = weights.prunable_part(ctx.model, ctx.initial)
    start = weights.prunable_part(ctx.model, ctx.start)
    noisy = {k: start[k] + rng.normal(0.0, ctx.noise_scale * float(np.std(w)), w.shape) for k, w in initial.items()}
    return Start(ctx.masks, weights.with_prunable(ctx.model, ctx.start, noisy), ctx.start_step)


@register("rewind")
def rewind(ctx: RoundContext) -> Start:
    """The ticket's mask, survivors reset to θk of the dense run, trained from iteration k on."""
    if ctx.rewind is None:
        raise ValueError("the rewind control needs θk recorded during the dense round")
    return Start(ctx.masks, ctx.rewind, ctx.rewind_step)


CHAINS = ("fine_tune",)
"""Controls that are chains of their own rather than per-round functions (`pipelines.controls.fine_tune`)."""


def check(name: str) -> None:
    """A one-line error unless `name` is a known control."""
    if name not in CHAINS and name not in CONTROLS:
        raise UserError(f"unknown control '{name}'; choose from {', '.join(sorted([*CONTROLS, *CHAINS]))}")
