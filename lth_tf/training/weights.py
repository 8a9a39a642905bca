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
from lth_tf.errors import UserError
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


def named(model: keras.Model, snapshot: Snapshot) -> Dict[str, np.ndarray]:
    """The snapshot keyed by unique weight paths, as θ0 is saved to MLflow.

    A weight's path is its layer's path (`masking.layer_paths`: `fc1`, or `encoder/fc` in
    a sub-model) and its name inside the layer: `fc1/kernel`, `encoder/fc/bias`. Variable
    names alone are not unique once two sub-models hold a layer of the same name.
    """
    return dict(zip(weight_paths(model), snapshot, strict=True))


def from_named(model: keras.Model, arrays: Dict[str, np.ndarray]) -> Snapshot:
    """The snapshot back from `named` arrays (e.g. a θ0 artifact), looked up by weight path.

    Every weight must be there, in its shape (`ValueError` naming the first that is not).
    """
    out = []
    for path, variable in zip(weight_paths(model), network_variables(model), strict=True):
        value = arrays.get(path)
        if value is None or tuple(value.shape) != tuple(variable.shape):
            found = "missing" if value is None else f"shape {tuple(value.shape)}"
            raise ValueError(f"weight {path} of shape {tuple(variable.shape)} is {found}")
        out.append(np.asarray(value))
    return out


def weight_paths(model: keras.Model) -> List[str]:
    """A unique path per network variable, in `network_variables` order."""
    by_ref = {}
    for path, layer in masking.layer_paths(model):
        inner = layer.layer if isinstance(layer, masking.MaskedLayer) else layer
        if isinstance(inner, keras.Model):
            continue
        for variable in inner.weights:
            name = variable.name.split(":")[0]
            name = name[len(inner.name) + 1:] if name.startswith(inner.name + "/") else name.rsplit("/", 1)[-1]
            by_ref.setdefault(variable.ref(), f"{path}/{name}")
    paths, seen = [], set()
    for variable in network_variables(model):
        path = by_ref.get(variable.ref(), variable.name.split(":")[0])
        while path in seen:  # two variables of one layer under one name: keep both
            path += "_"
        seen.add(path)
        paths.append(path)
    return paths


def fresh_initialization(model: keras.Model, seed: int) -> Snapshot:
    """θ drawn anew from the model's own initializers, seeded with `seed`.

    Cloning the model re-runs every layer's initializer, so this works for any
    Sequential or functional model, including a user's, without knowing its layers.
    Masked layers are rebuilt around a fresh copy of the layer they wrap, so custom
    `PrunableLayer`s need no registration. (An initializer constructed with a fixed seed
    of its own draws the same values.)
    """
    keras.utils.set_random_seed(seed)
    clone = keras.models.clone_model(model, clone_function=_fresh_copy)
    return take(clone)


def _fresh_copy(layer: keras.layers.Layer) -> keras.layers.Layer:
    if isinstance(layer, keras.Model):
        return keras.models.clone_model(layer, clone_function=_fresh_copy)
    if isinstance(layer, masking.MaskedLayer):
        return masking.MaskedLayer(_fresh_copy(layer.layer), name=layer.name)
    try:
        return layer.__class__.from_config(layer.get_config())
    except Exception as error:  # noqa: BLE001 - a user's layer: say which, and what to do
        raise UserError(f"layer '{layer.name}' ({type(layer).__name__}) cannot be re-created from its "
                        f"config to draw fresh weights ({type(error).__name__}); implement get_config() "
                        "on it so that from_config(get_config()) rebuilds it") from None
