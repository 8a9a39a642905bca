"""The tickets' inversion check (Frankle et al. 2021): keep the smallest trained weights instead of the largest.

The ticket's mask keeps, of the weights that survived before this round's pruning step,
the largest |θ| of the network it was pruned from (magnitude, `--criterion magnitude`);
this control keeps the smallest, the same count in every layer, and starts where the
ticket starts (θ0, or θk with `--reset-to k`). In one-shot mode (`--mode one_shot`)
that inverts the whole ticket; in iterative mode only the round's last step (earlier
rounds chose the survivors it picks from). The survivors before the step are the nonzero
weights of the network pruned from (lth-tf's masked weights are exactly zero once pruned).
With `random_prune` (the layerwise shuffle) and `reinit` it completes the tickets' checks.
"""

import numpy as np

from lth_tf.errors import UserError
from pipelines.controls.base import RoundContext, Start

NOT_IN_TRANSFER = "a transferred ticket was not pruned from a network of this run"


def check(cfg) -> None:
    if "ticket_invert" in cfg.controls.controls and cfg.pruning.criterion != "magnitude":
        raise UserError(f"--controls ticket_invert inverts magnitude pruning, not --criterion {cfg.pruning.criterion}")


def start(ctx: RoundContext) -> Start:
    """The ticket's per-layer counts, the smallest |θ| among the survivors before its pruning step."""
    from lth_tf.pruning import counts
    from lth_tf.training import weights

    trained = weights.prunable_part(ctx.model, ctx.pruned_from)
    masks = {k: counts.keep_top(-np.abs(trained[k]), trained[k] != 0, int(m.sum())) for k, m in ctx.masks.items()}
    return Start(masks, ctx.start, ctx.start_step)
