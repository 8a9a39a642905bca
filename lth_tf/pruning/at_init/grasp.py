"""GraSP (Wang et al., ICLR 2020): keep the weights whose removal would most reduce gradient flow.

Followed from the authors' code (alecwangcq/GraSP, `pruner/GraSP.py`), which the paper's
write-ups state with differing signs:

- g = ∇θ L on the batch with the logits divided by the temperature T = 200, held
  constant; Hg = ∇θ (gᵀ ∇θ L), the Hessian-gradient product, on the same batch and T.
- The authors' score is S = -θ ⊙ Hg and they *remove* the highest S (keep S ≤ the
  threshold). lth-tf keeps the highest scores, so the score here is θ ⊙ Hg = -S: the
  same kept set. Synaptic-Flow's `GraSP` pruner does the same ("negate to remove top
  percent").
- Inference mode (dropout off, batch norm on moving statistics), as Synaptic-Flow's
  `prune_loop`; the authors' script scored in training mode, which differs only for
  networks with batch norm or dropout. The authors' re-draw of the fully connected
  weights before scoring (`reinit=True`, on a copy) is not followed: Synaptic-Flow
  drops it too, and it would score other weights than the ones trained.
- Normalising by |ΣS| changes no ranking and is left out.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from lth_tf import masking
from lth_tf.errors import UserError
from lth_tf.pruning.at_init import TEMPERATURE
from lth_tf.pruning.at_init.base import (Arrays, Counts, masked_kernels, mean_loss, one_shot, register,
                                                resolve_loss)
from lth_tf.tfkeras import keras


def grasp_scores(model: keras.Model, x, y, loss=None, temperature: float = TEMPERATURE) -> Arrays:
    """θ ⊙ Hg for every masked weight (higher is kept), keyed like the masks."""
    loss = resolve_loss(model, loss, "GraSP")
    config = loss.get_config() if hasattr(loss, "get_config") else {}
    if config.get("from_logits") is False:
        raise UserError("GraSP divides the logits by its temperature: the model must output logits "
                        "(a loss with from_logits=True), not probabilities")
    keys, variables = masked_kernels(model)

    def batch_loss():
        return mean_loss(loss, y, model(x, training=False) / temperature)

    with tf.GradientTape() as tape:
        value = batch_loss()
    g = tape.gradient(value, variables)  # a constant below: no graph kept
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            value = batch_loss()
        gradients = inner.gradient(value, variables)
        flow = tf.add_n([tf.reduce_sum(a * b) for a, b in zip(g, gradients)])
    hessian_gradient = outer.gradient(flow, variables)
    return {key: (v.numpy() * hg.numpy()) for key, v, hg in zip(keys, variables, hessian_gradient)}


@register("grasp", needs_data=True)
def grasp(model: keras.Model, counts: Counts, batch, loss=None, invert: bool = False,
          temperature: float = TEMPERATURE) -> Arrays:
    """GraSP's mask: the `counts` weights with the highest θ ⊙ Hg (the authors' lowest -θ ⊙ Hg)."""
    return one_shot(grasp_scores(model, *batch, loss=loss, temperature=temperature), masking.get_masks(model),
                    counts, invert)
