"""Reinitialization keeping θ0's signs (Zhou et al. 2019, "Deconstructing Lottery Tickets", §4).

Zhou et al. find that a ticket's surviving weights keep most of their value when
reinitialized with fresh magnitudes as long as each keeps its θ0 sign ("reinit, sign
preserved"), where a plain `reinit` (fresh magnitudes and signs) loses it. This control
differs from the ticket in exactly one thing: the magnitudes of its masked weights, drawn
afresh from the model's own initializers (its own seed, as `reinit`'s). Their signs, the
mask, every other weight (biases, batch norm) and the starting iteration are the
ticket's start (θ0, or θk with --reset-to k). Compared with `reinit`, it keeps the signs.
"""

import numpy as np

from pipelines.controls.base import RoundContext, Start


def start(ctx: RoundContext) -> Start:
    """The ticket's mask and start, each masked weight's magnitude drawn afresh with its sign kept."""
    from lth_tf.training import weights

    fresh = weights.prunable_part(ctx.model, weights.fresh_initialization(ctx.model, ctx.derived_seed("signed_reinit")))
    kept = weights.prunable_part(ctx.model, ctx.start)
    signed = {k: np.abs(fresh[k]) * np.sign(kept[k]) for k in kept}
    return Start(ctx.masks, weights.with_prunable(ctx.model, ctx.start, signed), ctx.start_step)
