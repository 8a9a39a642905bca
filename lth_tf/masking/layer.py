"""Masks on a Keras model: a `prune_low_magnitude`-style wrapper with a fixed mask.

Which weights of a layer may be pruned is tfmot's knowledge, not ours (`prunable`).

Why the forward pass does not multiply by the mask: a lottery-ticket mask is fixed for a
whole round, so instead of paying `kernel * mask` (forward and backward) on every step,
the wrapper keeps an invariant: *a pruned weight is exactly zero in its variable*. Every
write that lth-tf makes (`set_masks`, the reset to θ0) zeroes the pruned entries, and the
wrapper masks the gradient, so a pruned weight gets a zero gradient. From a fresh
optimizer state a zero gradient is a zero update for Adam, SGD with momentum and decoupled
weight decay alike (the moments of a pruned weight stay zero too), so the zeros survive
training exactly, and a zero weight contributes nothing to the output. Whoever writes
weights by hand calls `apply_masks` afterwards.
"""

from __future__ import annotations

from typing import List

import numpy as np
import tensorflow as tf

from lth_tf.errors import UserError
from lth_tf.masking.prunable import declares_prunable_weights, prunable_attributes
from lth_tf.tfkeras import keras


def _masked_gradient(weight: tf.Tensor, mask: tf.Variable) -> tf.Tensor:
    """Identity on the way forward; multiplies the gradient by the mask on the way back."""

    @tf.custom_gradient
    def identity(value):
        return tf.identity(value), lambda upstream: upstream * tf.cast(mask, upstream.dtype)

    return identity(tf.convert_to_tensor(weight))


@keras.utils.register_keras_serializable(package="lth_tf")
class MaskedLayer(keras.layers.Wrapper):
    """Wraps a prunable layer and holds one non-trainable 0/1 mask per prunable weight."""

    def __init__(self, layer: keras.layers.Layer, **kwargs):
        kwargs.setdefault("name", f"masked_{layer.name}")
        super().__init__(layer, **kwargs)
        self.attributes: List[str] = []
        if layer.built or not declares_prunable_weights(layer):
            self._find_attributes()
        self.masks: List[tf.Variable] = []
        if not hasattr(self, "_batch_input_shape") and hasattr(layer, "_batch_input_shape"):
            self._batch_input_shape = layer._batch_input_shape

    def _find_attributes(self) -> None:
        self.attributes = prunable_attributes(self.layer)
        if not self.attributes:
            raise UserError(f"layer '{self.layer.name}' has no prunable weights to mask")

    def build(self, input_shape=None):
        super().build(input_shape)  # builds the wrapped layer: a PrunableLayer's weights exist from here on
        if not self.attributes:
            self._find_attributes()
        for attribute in self.attributes:
            weight = getattr(self.layer, attribute)
            self.masks.append(
                self.add_weight(
                    name=f"{attribute}_mask",
                    shape=weight.shape,
                    dtype=getattr(weight, "true_dtype", weight.dtype),  # float32 under mixed precision
                    initializer="ones",
                    trainable=False,
                )
            )

    def call(self, inputs, training=None, **kwargs):
        if self.layer._expects_training_arg:
            kwargs["training"] = training
        weights = [getattr(self.layer, a) for a in self.attributes]
        # Bypass Keras attribute tracking: the swap is for this call only.
        for index, (attribute, weight) in enumerate(zip(self.attributes, weights)):
            object.__setattr__(self.layer, attribute, self.call_weight(index, weight))
        try:
            return self.layer.call(inputs, **kwargs)
        finally:
            for attribute, weight in zip(self.attributes, weights):
                object.__setattr__(self.layer, attribute, weight)

    def call_weight(self, index: int, weight: tf.Variable) -> tf.Tensor:
        """What the wrapped layer computes with in place of its `index`-th masked weight."""
        return _masked_gradient(weight, self.masks[index])

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    @property
    def mask_state(self) -> List[tf.Variable]:
        """The variables that decide the masks (here the masks themselves), one per masked weight."""
        return self.masks

    def current_masks(self) -> List[np.ndarray]:
        """This layer's masks as bool arrays, in `attributes` order."""
        return [mask.numpy().astype(bool) for mask in self.masks]

    def write_mask(self, index: int, values: np.ndarray) -> None:
        self.masks[index].assign(values.astype(self.masks[index].dtype.as_numpy_dtype))

    def zero_pruned(self) -> None:
        """Zeroes the pruned weights (the invariant that lets the forward pass skip the mask)."""
        for attribute, mask in zip(self.attributes, self.masks):
            weight = getattr(self.layer, attribute)
            weight.assign(weight * mask)

    def stripped(self) -> keras.layers.Layer:
        """The wrapped layer, pruned weights zero, to stand in a plain Keras model."""
        self.zero_pruned()
        if not hasattr(self.layer, "_batch_input_shape") and hasattr(self, "_batch_input_shape"):
            self.layer._batch_input_shape = self._batch_input_shape
        return self.layer
