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

Each initializer is a file (`variance_scaling.py`: Keras's Glorot and He; `signed_constant.py`)
registered in `INITIALIZERS`, the one registry mechanism's table: `--initializer`'s choices
and the docs' reference read it. `signed_constant` defines a Keras class, so it is added by its
path and loads with Keras (`lth_tf.masking` imports it, so a saved model naming it loads).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from lth_tf.models.initializers import variance_scaling
from lth_tf.registry import Registry

if TYPE_CHECKING:
    from lth_tf.tfkeras import keras

INITIALIZERS = Registry("initializer", entries=("make",))
"""Name -> `make(keep_fraction)`, a Keras initializer with its variance multiplied by 1 / keep_fraction.
An initializer of your own: one file with a `make`, plus one line here (or `@INITIALIZERS.register`)."""

# One line per initializer (Keras's variance-scaling family is one file of four names).
for _name in variance_scaling.NAMES:
    INITIALIZERS.register(_name)(variance_scaling.maker(_name))
INITIALIZERS.add("signed_constant", "lth_tf.models.initializers.signed_constant")


def get(name: str, keep_fraction: float = 1.0) -> keras.initializers.Initializer:
    """The named initializer, its variance multiplied by 1 / keep_fraction."""
    return INITIALIZERS.lookup(name)(keep_fraction)


def apply(model: keras.Model, name: str, keep_fraction: float = 1.0) -> None:
    """Redraws every prunable weight of `model` (masked or not) from `name`, and makes it the layer's own."""
    from lth_tf import masking

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
    from lth_tf import masking

    factor = math.sqrt(1.0 / keep_fraction)
    for layer in masking.leaf_layers(model):
        inner = layer.layer if isinstance(layer, masking.MaskedLayer) else layer
        for attribute in masking.prunable_attributes(inner):
            variable = getattr(inner, attribute)
            variable.assign(variable * factor)
