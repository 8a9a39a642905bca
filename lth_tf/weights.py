"""Snapshots of a network's weights θ: take, restore, and draw afresh from the initializers.

A snapshot is a list of arrays in `network_variables` order: every variable of the model
except the masks (which are state of the pruning, not of the network). Biases and batch
norm statistics are part of θ, as the paper resets them too.
"""

from __future__ import annotations

from typing import List

import numpy as np
import tensorflow as tf

from lth_tf import masking
from lth_tf.tfkeras import keras

Snapshot = List[np.ndarray]


def network_variables(model: keras.Model) -> List[tf.Variable]:
    """The weights θ of the network: every variable but the masks."""
    masks = {m.ref() for m in masking.mask_variables(model)}
    return [v for v in model.weights if v.ref() not in masks]


def take(model: keras.Model) -> Snapshot:
    return [v.numpy().copy() for v in network_variables(model)]


def restore(model: keras.Model, snapshot: Snapshot) -> None:
    """Writes `snapshot` into the model and zeroes the pruned weights (the masks' invariant)."""
    for variable, value in zip(network_variables(model), snapshot, strict=True):
        variable.assign(value)
    masking.apply_masks(model)


def fresh_initialization(model: keras.Model, seed: int) -> Snapshot:
    """θ drawn anew from the model's own initializers, seeded with `seed`.

    Cloning the model re-runs every layer's initializer, so this works for any
    Sequential or functional model, including a user's, without knowing its layers.
    (An initializer constructed with a fixed seed of its own draws the same values.)
    """
    keras.utils.set_random_seed(seed)
    clone = keras.models.clone_model(model)
    return take(clone)
