"""Masks of a whole model: wrap its prunable layers (`mask_model`), read and write the masks by
layer path (`get_masks`, `set_masks`), and strip them for export (`strip_masks`).

The wrapper itself is `lth_tf.masking.layer.MaskedLayer`; which weights are prunable,
`lth_tf.masking.prunable`.
"""

from __future__ import annotations

import fnmatch
from typing import Dict, Iterator, List, NamedTuple, Tuple

import numpy as np
import tensorflow as tf

from lth_tf.errors import UserError
from lth_tf.masking.layer import MaskedLayer
from lth_tf.masking.prunable import is_prunable, prunable_attributes
from lth_tf.tfkeras import keras

Masks = Dict[str, np.ndarray]


def _check_graph_model(model) -> None:
    if not isinstance(model, keras.Model):
        raise UserError(
            f"expected a Keras 2 (tf_keras) Model, got {type(model).__module__}.{type(model).__name__}; "
            "build it with `import tf_keras as keras` (tfmot does not support Keras 3)"
        )
    if not (isinstance(model, keras.Sequential) or model._is_graph_network):
        raise UserError(
            f"model '{model.name}' is a subclassed keras.Model, which cannot be cloned with masks; "
            "build it with the Sequential or functional API"
        )


def mask_model(model: keras.Model, unpruned_layers=(), wrapper=MaskedLayer) -> keras.Model:
    """Returns `model` with every prunable layer wrapped in a `MaskedLayer` (all ones).

    Layers are shared with `model`, not copied, so the weights are the model's own.
    `unpruned_layers` are layer names or paths (`encoder/fc`), or shell-style patterns
    of them (`*_shortcut`), left unmasked.
    `wrapper` builds the wrapper from a layer (`SupermaskLayer` with its keep fraction).
    """
    _check_graph_model(model)
    patterns = tuple(unpruned_layers)
    paths = list(layer_paths(model))
    unknown = [p for p in patterns if not any(_matches(path, layer, p) for path, layer in paths)]
    if unknown:
        raise UserError(f"--unpruned-layers names no layer of the model: {', '.join(sorted(unknown))}")
    left_dense = {id(layer) for path, layer in paths if any(_matches(path, layer, p) for p in patterns)}

    def wrap(layer):
        if isinstance(layer, keras.Model):
            _check_graph_model(layer)
            return keras.models.clone_model(layer, clone_function=wrap)
        if isinstance(layer, MaskedLayer) or id(layer) in left_dense:
            return layer
        return wrapper(layer) if prunable_attributes(layer) else layer

    masked = keras.models.clone_model(model, clone_function=wrap)
    if not masked_layers(masked):
        raise UserError(f"model '{model.name}' has no prunable layer")
    return masked


def _matches(path: str, layer, pattern: str) -> bool:
    return fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(layer.name, pattern)


def layer_paths(model: keras.Model, prefix: str = "") -> Iterator[Tuple[str, keras.layers.Layer]]:
    """(path, layer) for every layer in order, nested models included.

    A path is the layer's name behind the names of the sub-models that hold it
    (`encoder/fc`); a top-level layer's path is its name. Paths are unique where names
    are not: two sub-models may each hold an `fc`. A masked layer goes by its wrapped
    layer's name, so masking a model does not change its paths.
    """
    for layer in model.layers:
        path = prefix + (layer.layer.name if isinstance(layer, MaskedLayer) else layer.name)
        yield path, layer
        if isinstance(layer, keras.Model):
            yield from layer_paths(layer, path + "/")


def _all_layers(model):
    return (layer for _, layer in layer_paths(model))


def leaf_layers(model: keras.Model) -> List[keras.layers.Layer]:
    """Every layer of the model that is not itself a model, nested models included, in order."""
    return [layer for layer in _all_layers(model) if not isinstance(layer, keras.Model)]


def masked_layers(model: keras.Model) -> List[MaskedLayer]:
    """The model's `MaskedLayer`s in order, nested models included."""
    return [layer for layer in _all_layers(model) if isinstance(layer, MaskedLayer)]


def output_layer(model: keras.Model):
    """The model's last layer with prunable weights, masked or left unpruned (its output layer)."""
    last = None
    for layer in _all_layers(model):
        inner = layer.layer if isinstance(layer, MaskedLayer) else layer
        if isinstance(layer, MaskedLayer) or (not isinstance(layer, keras.Model) and is_prunable(layer)):
            last = inner
    return last


class MaskedWeight(NamedTuple):
    key: str
    """The mask key: the layer's path (`encoder/fc`), plus `/attribute` if it masks several weights."""
    layer: keras.layers.Layer
    """The wrapped layer that owns the weight."""
    weight: tf.Variable
    mask: tf.Variable
    """The variable that decides the mask: the 0/1 mask itself, or a supermask's scores."""
    wrapper: MaskedLayer
    index: int
    """The weight's place among the wrapper's masked weights."""


def masked_weights(model: keras.Model) -> List[MaskedWeight]:
    """Every masked weight of the model in order, keyed by a unique path."""
    out, seen = [], set()
    for path, layer in layer_paths(model):
        if not isinstance(layer, MaskedLayer) or id(layer) in seen:  # a shared layer counts once
            continue
        seen.add(id(layer))
        for index, (attribute, mask) in enumerate(zip(layer.attributes, layer.mask_state)):
            key = path if len(layer.attributes) == 1 else f"{path}/{attribute}"
            out.append(MaskedWeight(key, layer.layer, getattr(layer.layer, attribute), mask, layer, index))
    keys = [w.key for w in out]
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    if duplicated:
        raise UserError(f"model '{model.name}' has several masked weights at {', '.join(duplicated)}; "
                        "give its layers and sub-models distinct names")
    return out


def get_masks(model: keras.Model) -> Masks:
    """`{layer path: bool array}`: True where a weight survives."""
    return {w.key: w.wrapper.current_masks()[w.index] for w in masked_weights(model)}


def set_masks(model: keras.Model, masks: Masks) -> None:
    """Writes the masks and zeroes every pruned weight (the wrapper's invariant)."""
    entries = {w.key: w for w in masked_weights(model)}
    unknown = set(masks) - set(entries)
    if unknown:
        raise ValueError(f"masks name layers the model does not mask: {sorted(unknown)}")
    for key, values in masks.items():
        entry = entries[key]
        values = np.asarray(values)
        if values.shape != tuple(entry.weight.shape):
            raise ValueError(f"mask '{key}' has shape {values.shape}, the weight {tuple(entry.weight.shape)}")
        entry.wrapper.write_mask(entry.index, values)
    apply_masks(model)


def apply_masks(model: keras.Model) -> None:
    """Zeroes the pruned weights, restoring the invariant after a write by hand."""
    for layer in masked_layers(model):
        layer.zero_pruned()


def mask_variables(model: keras.Model) -> List[tf.Variable]:
    """The variables deciding the masks (masks, or a supermask's scores): state of the pruning, not weights θ."""
    return [w.mask for w in masked_weights(model)]


def prunable_weights(model: keras.Model) -> Dict[str, tf.Variable]:
    """`{layer path: weight variable}` for every masked weight, keyed like the masks."""
    return {w.key: w.weight for w in masked_weights(model)}


def strip_masks(model: keras.Model) -> keras.Model:
    """A plain Keras model, sharing the layers (a supermask's: copies), with zeros where weights were pruned."""

    def unwrap(layer):
        if isinstance(layer, keras.Model):
            return keras.models.clone_model(layer, clone_function=unwrap)
        if isinstance(layer, MaskedLayer):
            return layer.stripped()
        return layer

    return keras.models.clone_model(model, clone_function=unwrap)
