"""SNIP (Lee et al., ICLR 2019): connection sensitivity |g ⊙ θ| on one batch, pruned once.

The sensitivity of the loss to connection j's mask c_j at c = 1 is ∂L/∂c_j = g_j θ_j,
so the score is |g ⊙ θ| with g the gradient of the batch's mean loss at θ0, computed in
inference mode (namhoonlee/snip-public feeds `is_train: False`; Synaptic-Flow's
`prune_loop` scores in `model.eval()`): dropout off, batch norm on its moving
statistics. Only the masked weights are scored (snip-public also masks biases; lth-tf
never prunes them). The scores' normalisation by their sum (both reference codes) does
not change which weights are kept and is left out. One shot, globally by default.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from lth_tf import masking
from lth_tf.pruning.at_init.base import (Arrays, Counts, masked_kernels, mean_loss, one_shot, register,
                                                resolve_loss)
from lth_tf.tfkeras import keras


def snip_scores(model: keras.Model, x, y, loss=None) -> Arrays:
    """|∂L/∂θ ⊙ θ| for every masked weight, on the batch (x, y); keyed like the masks."""
    loss = resolve_loss(model, loss, "SNIP")
    keys, variables = masked_kernels(model)
    with tf.GradientTape() as tape:
        value = mean_loss(loss, y, model(x, training=False))
    gradients = tape.gradient(value, variables)
    return {key: np.abs(g.numpy() * v.numpy()) for key, g, v in zip(keys, gradients, variables)}


@register("snip", needs_data=True)
def snip(model: keras.Model, counts: Counts, batch, loss=None, invert: bool = False) -> Arrays:
    """SNIP's mask: the `counts` most sensitive connections of the model as it stands."""
    return one_shot(snip_scores(model, *batch, loss=loss), masking.get_masks(model), counts, invert)
