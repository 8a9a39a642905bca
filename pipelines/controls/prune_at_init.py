"""Pruning before training (the seed's): the mask chosen from |θ0| before any training."""

import numpy as np

from pipelines.controls.base import RoundContext, Start


def start(ctx: RoundContext) -> Start:
    """Pruning before training: keep the largest |θ0|, the ticket's count per layer, trained from θ0.

    The same magnitude criterion as the ticket's, applied before any training: the
    seed notes' negative result ("pruning before training impairs the performance").
    """
    from lth_tf.pruning import counts
    from lth_tf.training import weights

    initial = weights.prunable_part(ctx.model, ctx.initial)
    masks = {k: counts.keep_top(np.abs(initial[k]), np.ones_like(m), int(m.sum())) for k, m in ctx.masks.items()}
    return Start(masks, ctx.initial, 0)
