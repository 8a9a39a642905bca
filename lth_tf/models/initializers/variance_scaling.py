"""Keras's variance-scaling initializers by name: Glorot (Xavier) and He (Kaiming), normal and uniform.

The Lottery Ticket paper draws every net Gaussian Glorot (the model zoo's default); open_lth's
LeNet uses Kaiming normal. Keras's `he_normal` and `glorot_normal` are truncated normals
rescaled to the named variance (PyTorch's `kaiming_normal_` is untruncated); the variance is the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from lth_tf.tfkeras import keras

PARAMETERS = {  # name: (scale, mode, distribution), as Keras defines them
    "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "glorot_uniform": (1.0, "fan_avg", "uniform"),
    "he_normal": (2.0, "fan_in", "truncated_normal"),
    "he_uniform": (2.0, "fan_in", "uniform"),
}
NAMES = tuple(PARAMETERS)


def maker(name: str) -> Callable[[float], keras.initializers.Initializer]:
    """`make(keep_fraction)` for the named initializer: its variance multiplied by 1 / keep_fraction."""
    scale, mode, distribution = PARAMETERS[name]

    def make(keep_fraction: float = 1.0) -> keras.initializers.Initializer:
        from lth_tf.tfkeras import keras

        return keras.initializers.VarianceScaling(scale / keep_fraction, mode, distribution)

    make.__doc__ = f"Keras's {name} (VarianceScaling scale {scale:g}, {mode}, {distribution})."
    return make
