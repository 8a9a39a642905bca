"""Random reinitialization: the ticket's mask on weights drawn afresh (Frankle & Carbin's control)."""

from pipelines.controls.base import RoundContext, Start


def start(ctx: RoundContext) -> Start:
    """The ticket's mask on weights drawn afresh from the same initializers (own seed)."""
    from lth_tf.training import weights

    return Start(ctx.masks, weights.fresh_initialization(ctx.model, ctx.derived_seed("reinit")))
