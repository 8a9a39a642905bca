"""Edge-popup's signed Kaiming constant (Ramanujan et al. 2020): every weight ±sqrt(2 / fan_in), random sign.

Edge-popup finds its best supermasks on this initialization (`--initializer signed_constant`).
"""

from __future__ import annotations

import math

from lth_tf.tfkeras import keras  # first: TensorFlow's quiet start (this file loads with Keras, on first use)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


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


def make(keep_fraction: float = 1.0) -> keras.initializers.Initializer:
    """±sqrt(2 / (keep_fraction · fan_in)): the variance multiplied by 1 / keep_fraction."""
    return SignedConstant(2.0 / keep_fraction)
