"""Controls: a ticket's training, started from another mask or from other weights.

The Lottery Ticket Hypothesis is a claim against controls: a winning ticket must beat
its own mask with other weights (`reinit`, `noise`) and other masks of the same sizes
with its weights (`random_prune`). `fine_tune` is the conventional baseline (prune the
trained network and keep training it), `rewind` the late-resetting variant (reset to
θk of the dense run, Frankle et al. 2019/2020). Like open_lth's branches, each control
is one function from the round's `RoundContext` to a `Start` (mask and starting
weights) plus one `@register` line; the pipeline trains and tracks it like a ticket.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Optional

import numpy as np

from lth_tf import pruning, weights
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


CONTROLS = Registry("control")
register = CONTROLS.register
get = CONTROLS.lookup


@register("reinit")
def reinit(ctx: RoundContext) -> Start:
    """The ticket's mask on weights drawn afresh from the same initializers (own seed)."""
    return Start(ctx.masks, weights.fresh_initialization(ctx.model, ctx.derived_seed("reinit")))


@register("random_prune")
def random_prune(ctx: RoundContext) -> Start:
    """A uniformly random mask with the ticket's per-layer counts, on θ0."""
    return Start(pruning.random_masks_like(ctx.masks, ctx.rng("random_prune")), ctx.initial)


@register("fine_tune")
def fine_tune(ctx: RoundContext) -> Start:
    """Conventional pruning: the trained weights, pruned, keep training (no reset)."""
    return Start(ctx.masks, ctx.pruned_from)


@register("noise")
def noise(ctx: RoundContext) -> Start:
    """θ0 plus Gaussian noise of `noise_scale` standard deviations of each layer's θ0.

    Only the masked weights are perturbed; each layer's σ is the standard deviation of its
    own θ0, the spread its initializer drew.
    """
    rng = ctx.rng("noise")
    initial = weights.prunable_part(ctx.model, ctx.initial)
    noisy = {k: w + rng.normal(0.0, ctx.noise_scale * float(np.std(w)), w.shape) for k, w in initial.items()}
    return Start(ctx.masks, weights.with_prunable(ctx.model, ctx.initial, noisy))


@register("rewind")
def rewind(ctx: RoundContext) -> Start:
    """The ticket's mask, survivors reset to θk of the dense run instead of θ0."""
    if ctx.rewind is None:
        raise ValueError("the rewind control needs θk recorded during the dense round")
    return Start(ctx.masks, ctx.rewind)
