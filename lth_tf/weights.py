"""Snapshots of a network's weights θ: take, restore, and draw afresh from the initializers.

A snapshot is a list of arrays in `network_variables` order: every variable of the model
except the masks (which are state of the pruning, not of the network). Biases and batch
norm statistics are part of θ, as the paper resets them too.
"""

from __future__ import annotations

from typing import Dict, List

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


def as_arrays(snapshot: Snapshot) -> Dict[str, np.ndarray]:
    """A snapshot as named arrays for an .npz file, in `network_variables` order."""
    return {f"{i:04d}": value for i, value in enumerate(snapshot)}


def from_arrays(arrays: Dict[str, np.ndarray]) -> Snapshot:
    """The inverse of `as_arrays`."""
    return [arrays[key] for key in sorted(arrays)]


def prunable_part(model: keras.Model, snapshot: Snapshot) -> Dict[str, np.ndarray]:
    """The snapshot's values of the masked weights, keyed like the masks."""
    by_ref = {v.ref(): value for v, value in zip(network_variables(model), snapshot, strict=True)}
    return {key: by_ref[v.ref()] for key, v in masking.prunable_weights(model).items()}


def with_prunable(model: keras.Model, snapshot: Snapshot, values: Dict[str, np.ndarray]) -> Snapshot:
    """A copy of `snapshot` whose masked weights are replaced by `values` (keyed like the masks)."""
    index = {v.ref(): i for i, v in enumerate(network_variables(model))}
    out = list(snapshot)
    for key, variable in masking.prunable_weights(model).items():
        if key in values:
            out[index[variable.ref()]] = np.asarray(values[key], dtype=snapshot[index[variable.ref()]].dtype)
    return out


def fresh_initialization(model: keras.Model, seed: int) -> Snapshot:
    """θ drawn anew from the model's own initializers, seeded with `seed`.

    Cloning the model re-runs every layer's initializer, so this works for any
    Sequential or functional model, including a user's, without knowing its layers.
    (An initializer constructed with a fixed seed of its own draws the same values.)
    """
    keras.utils.set_random_seed(seed)
    clone = keras.models.clone_model(model)
    return take(clone)
