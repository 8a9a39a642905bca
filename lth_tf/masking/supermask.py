"""Supermasks (edge-popup; Ramanujan et al., "What's Hidden in a Randomly Weighted Neural Network?", 2020).

A `SupermaskLayer` is a `MaskedLayer` whose mask is not written by pruning but chosen,
every forward pass, by trainable scores: of each masked weight, the fraction
`keep_fraction` with the largest |score| is used, exactly `keep_count(n, k)` of its n
entries (ties keep the lower flat index, as `pruning.keep_top`). The wrapped layer's own
weights are frozen (never trained, bitwise unchanged); only the scores learn.

Why straight-through: the top-k selection has zero gradient almost everywhere, so the
backward pass treats it as the identity. The layer computes `weight * mask(|score|)`;
the gradient reaching the mask is upstream × weight, and it is passed on to |score| as
if the selection were not there (then × sign(score) through the absolute value). A
score grows when its weight, if used, would lower the loss, which is how edge-popup
"pops" an edge into the top k.

Why bisection instead of `tf.math.top_k`: on a CPU, sorting the 3.2M scores of Conv-2's
first fc layer every step takes about a second (`top_k`, `sort`, `argsort`; measured
here); finding the k-th largest |score| by bisecting its float bits (31 passes of a
comparison and a sum, about 40 ms under XLA) and then breaking ties by a running count
gives the same exact mask.
"""

from __future__ import annotations

import math
from typing import List

import numpy as np
import tensorflow as tf

from lth_tf.errors import UserError
from lth_tf.masking.layer import MaskedLayer
from lth_tf.masking.masks import leaf_layers, mask_model
from lth_tf.tfkeras import keras


def keep_count(size: int, keep_fraction: float) -> int:
    """Weights of a layer of `size` kept at fraction k: round(size·k) half up, at least one."""
    return max(1, int(math.floor(size * keep_fraction + 0.5)))


def top_k_mask(magnitudes: tf.Tensor, count: int) -> tf.Tensor:
    """1.0 at the `count` largest entries of a non-negative tensor (ties: lower flat index), else 0.0.

    A NaN (a diverged score) ranks below every number, as in `pruning.keep_top`: its bits
    would otherwise read as larger than +inf's.
    """
    flat = tf.cast(tf.reshape(magnitudes, [-1]), tf.float32)
    bits = tf.bitcast(flat, tf.int32)  # for x >= 0 the int order is the float order
    bits = tf.where(tf.math.is_nan(flat), 0, bits + 1)  # NaN lowest: below 0.0, which becomes 1

    def narrow(low, high):
        middle = low + (high - low) // 2
        enough = tf.reduce_sum(tf.cast(bits >= middle, tf.int32)) >= count
        return tf.where(enough, middle, low), tf.where(enough, high, middle)

    kth, _ = tf.while_loop(lambda low, high: high - low > 1, narrow,
                           (tf.constant(0, tf.int32), tf.constant(2**31 - 1, tf.int32)))
    above = bits > kth  # kth: the largest threshold with at least `count` entries at or above it
    ties = tf.equal(bits, kth)
    room = count - tf.reduce_sum(tf.cast(above, tf.int32))
    kept = above | (ties & (tf.cumsum(tf.cast(ties, tf.int32)) <= room))
    return tf.reshape(tf.cast(kept, magnitudes.dtype), tf.shape(magnitudes))


def _selected_weight(weight: tf.Tensor, score: tf.Variable, count: int) -> tf.Tensor:
    """`weight * top_k(|score|)`, with the straight-through gradient to the score."""

    @tf.custom_gradient
    def select(magnitude):
        return top_k_mask(magnitude, count), lambda upstream: upstream

    return tf.stop_gradient(tf.convert_to_tensor(weight)) * select(tf.abs(tf.convert_to_tensor(score)))


class FanInUniform(keras.initializers.Initializer):
    """Edge-popup's score init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's default for weights)."""

    def __call__(self, shape, dtype=None, **kwargs):
        fan_in = max(1, int(np.prod(shape[:-1])))
        bound = 1.0 / math.sqrt(fan_in)
        return tf.random.uniform(shape, -bound, bound, dtype=dtype or tf.float32)


@keras.utils.register_keras_serializable(package="lth_tf")
class SupermaskLayer(MaskedLayer):
    """Wraps a prunable layer: frozen weights, one trainable score per weight, top-k of |score| used.

    Its masks are a function of the scores (`current_masks`), never written by hand; the
    mask variables of `MaskedLayer` are not created. Everything else about masks (keys,
    `get_masks`, `strip_masks`) is `MaskedLayer`'s.
    """

    def __init__(self, layer: keras.layers.Layer, keep_fraction: float = 0.5, **kwargs):
        if not 0 < keep_fraction <= 1:
            raise UserError(f"keep fraction must be in (0, 1], got {keep_fraction}")
        kwargs.setdefault("name", f"supermask_{layer.name}")
        super().__init__(layer, **kwargs)
        self.keep_fraction = float(keep_fraction)
        self.scores: List[tf.Variable] = []
        self.counts: List[int] = []

    def build(self, input_shape=None):
        keras.layers.Wrapper.build(self, input_shape)
        self.input_shape_built = input_shape
        self.layer.trainable = False  # the weights are never trained, only the scores
        for attribute in self.attributes:
            weight = getattr(self.layer, attribute)
            self.counts.append(keep_count(int(weight.shape.num_elements()), self.keep_fraction))
            self.scores.append(self.add_weight(name=f"{attribute}_score", shape=weight.shape, dtype=weight.dtype,
                                               initializer=FanInUniform(), trainable=True))

    def call_weight(self, index: int, weight: tf.Variable) -> tf.Tensor:
        return _selected_weight(weight, self.scores[index], self.counts[index])

    @property
    def mask_state(self) -> List[tf.Variable]:
        return self.scores

    def current_masks(self) -> List[np.ndarray]:
        return [top_k_mask(tf.abs(s), c).numpy().astype(bool) for s, c in zip(self.scores, self.counts)]

    def write_mask(self, index, values) -> None:
        raise ValueError(f"'{self.name}' chooses its mask from its scores; masks cannot be written to it")

    def zero_pruned(self) -> None:
        """Nothing: a supermask never writes its weights (they stay bitwise as drawn)."""

    def stripped(self) -> keras.layers.Layer:
        """A copy of the wrapped layer holding weight ⊙ mask (the supermask's own weights stay intact)."""
        copy = self.layer.__class__.from_config(self.layer.get_config())
        copy.build(self.input_shape_built)
        masks = {a: m for a, m in zip(self.attributes, self.current_masks())}
        by_id = {id(getattr(self.layer, a)): a for a in self.attributes}
        copy.set_weights([w.numpy() * masks[by_id[id(w)]] if id(w) in by_id else w.numpy()
                          for w in self.layer.weights])
        copy.trainable = True
        return copy

    def get_config(self):
        return {**super().get_config(), "keep_fraction": self.keep_fraction}


def supermask_model(model: keras.Model, keep_fraction: float, unpruned_layers=()) -> keras.Model:
    """`model` with every prunable layer a `SupermaskLayer` keeping `keep_fraction`; nothing else trains.

    Layers are shared with `model`, and frozen: the scores are the only trainable
    variables. Batch norm must be non-affine (as the paper's): it has nothing to freeze and
    keeps normalizing with batch statistics while training (a frozen Keras batch norm
    would switch to its moving averages).
    """
    for layer in leaf_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization) and (layer.center or layer.scale):
            raise UserError(f"layer '{layer.name}': a supermask needs non-affine batch norm (no learned scale or "
                            "offset), as edge-popup's; build it with BatchNormalization(center=False, scale=False)")
    masked = mask_model(model, unpruned_layers, wrapper=lambda layer: SupermaskLayer(layer, keep_fraction))
    for layer in leaf_layers(masked):
        if not isinstance(layer, SupermaskLayer) and layer.trainable_weights:
            layer.trainable = False  # unpruned layers keep their random weights too
    return masked
