"""Random pruning: another mask of the same per-layer sizes, on the ticket's starting weights."""

from pipelines.controls.base import RoundContext, Start


def start(ctx: RoundContext) -> Start:
    """A uniformly random mask with the ticket's per-layer counts, on the ticket's start (θ0 or θk)."""
    from lth_tf.pruning import counts

    return Start(counts.random_masks_like(ctx.masks, ctx.rng("random_prune")), ctx.start, ctx.start_step)
