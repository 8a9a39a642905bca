"""Weight initializers by name (`--initializer`), applied to any model's prunable weights.

The Lottery Ticket paper draws every net Gaussian Glorot (the model zoo's default);
open_lth's LeNet uses Kaiming normal; edge-popup (Ramanujan et al. 2020) finds its best
supermasks on the "signed Kaiming constant": every weight ±σ, σ = sqrt(2 / fan_in),
random sign. `--initializer NAME` redraws the prunable weights (conv and dense kernels,
tfmot's notion) of whatever model was built, registry or user's, and sets the layers'
own `kernel_initializer` so that redrawing θ later (the reinit control, replicates)
uses it too. Biases and batch norm keep theirs.

Scaling for supermasks: a supermask uses only a fraction k of each layer's weights, so a
unit sees about k·fan_in inputs; edge-popup's "scaled" initializations keep the
activations' variance by drawing with variance / k (σ·sqrt(1/k)). `keep_fraction` does
that for every initializer here, and `scale` for weights a model's own initializer drew.

Keras's `he_normal` and `glorot_normal` are truncated normals rescaled to the named
variance (PyTorch's `kaiming_normal_` is untruncated); the variance is the same.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from lth_tf import masking
from lth_tf.tfkeras import keras

_VARIANCE_SCALING = {  # name: (scale, mode, distribution), as Keras defines them
    "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "glorot_uniform": (1.0, "fan_avg", "uniform"),
    "he_normal": (2.0, "fan_in", "truncated_normal"),
    "he_uniform": (2.0, "fan_in", "uniform"),
}


@keras.utils.register_keras_serializable(package="lth_tf")
class SignedConstant(keras.initializers.Initializer):
    """Every weight ±sqrt(scale / fan_in) with a random sign (edge-popup's signed Kaiming constant)."""

    def __init__(self, scale: float = 2.0, seed=None):
        self.scale, self.seed = float(scale), seed

    def __call__(self, shape, dtype=None, **kwargs):
        dtype = tf.as_dtype(dtype or tf.float32)
        fan_in = max(1, int(np.prod(shape[:-1])))
        sigma = math.sqrt(self.scale / fan_in)
        if self.seed is None:
            draw = tf.random.uniform(shape, dtype=tf.float32)
        else:
            draw = tf.random.stateless_uniform(shape, seed=[self.seed, 0], dtype=tf.float32)
        return tf.cast(tf.where(draw < 0.5, -sigma, sigma), dtype)

    def get_config(self):
        return {"scale": self.scale, "seed": self.seed}


def get(name: str, keep_fraction: float = 1.0) -> keras.initializers.Initializer:
    """The named initializer, its variance multiplied by 1 / keep_fraction."""
    if name == "signed_constant":
        return SignedConstant(2.0 / keep_fraction)
    scale, mode, distribution = _VARIANCE_SCALING[name]
    return keras.initializers.VarianceScaling(scale / keep_fraction, mode, distribution)


def apply(model: keras.Model, name: str, keep_fraction: float = 1.0) -> None:
    """Redraws every prunable weight of `model` (masked or not) from `name`, and makes it the layer's own."""
    for layer in masking.leaf_layers(model):
        inner = layer.layer if isinstance(layer, masking.MaskedLayer) else layer
        for attribute in masking.prunable_attributes(inner):
            initializer = get(name, keep_fraction)
            variable = getattr(inner, attribute)
            variable.assign(initializer(variable.shape, variable.dtype))
            if hasattr(inner, f"{attribute}_initializer"):
                setattr(inner, f"{attribute}_initializer", initializer)


def scale(model: keras.Model, keep_fraction: float) -> None:
    """Multiplies every prunable weight of `model` by sqrt(1 / keep_fraction): variance / k, as `get` draws.

    For weights a model's own initializer drew (no `--initializer`): every initializer's
    draw scales linearly with its standard deviation, so this is the scaled draw.
    """
    factor = math.sqrt(1.0 / keep_fraction)
    for layer in masking.leaf_layers(model):
        inner = layer.layer if isinstance(layer, masking.MaskedLayer) else layer
        for attribute in masking.prunable_attributes(inner):
            variable = getattr(inner, attribute)
            variable.assign(variable * factor)
