"""Masks on a Keras model: a `prune_low_magnitude`-style wrapper with a fixed mask.

Which weights of a layer may be pruned is tfmot's knowledge, not ours: built-in layers
go through tfmot's `PruneRegistry`, custom layers opt in with tfmot's `PrunableLayer`
interface (`get_prunable_weights`).

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

import fnmatch
from typing import Dict, Iterator, List, NamedTuple, Tuple

import numpy as np
import tensorflow as tf
from tensorflow_model_optimization.python.core.sparsity.keras import prunable_layer, prune_registry

from lth_tf.errors import UserError
from lth_tf.tfkeras import keras

Masks = Dict[str, np.ndarray]


def _masked_gradient(weight: tf.Tensor, mask: tf.Variable) -> tf.Tensor:
    """Identity on the way forward; multiplies the gradient by the mask on the way back."""

    @tf.custom_gradient
    def identity(value):
        return tf.identity(value), lambda upstream: upstream * tf.cast(mask, upstream.dtype)

    return identity(tf.convert_to_tensor(weight))


def prunable_attributes(layer: keras.layers.Layer) -> List[str]:
    """Names of the layer attributes holding prunable weights (empty: nothing to prune).

    Raises `UserError` for a layer with trainable weights that tfmot does not know how to
    prune, or whose prunable weights are not plain attributes of the layer.
    """
    if _declares_prunable_weights(layer):
        weights = layer.get_prunable_weights()
        by_id = {id(v): name for name, v in vars(layer).items() if isinstance(v, tf.Variable)}
        missing = [w.name for w in weights if id(w) not in by_id]
        if missing:
            raise UserError(
                f"layer '{layer.name}' ({type(layer).__name__}): its prunable weights {missing} "
                "are not attributes of the layer; return the layer's own variables from "
                "get_prunable_weights()"
            )
        return [by_id[id(w)] for w in weights]
    registry = prune_registry.PruneRegistry
    if registry.supports(layer):
        names = [] if registry._is_rnn_layer(layer) else list(registry._weight_names(layer))
        if registry._is_rnn_layer(layer) or any("." in n for n in names):
            raise UserError(
                f"layer '{layer.name}' ({type(layer).__name__}) keeps its prunable weights in "
                "sub-layers, which lth-tf does not mask yet; leave it unpruned with "
                f"--unpruned-layers {layer.name}"
            )
        return names
    if layer.trainable_weights:
        raise UserError(
            f"layer '{layer.name}' ({type(layer).__name__}) is not prunable: tfmot's registry does "
            "not know it; implement tfmot's PrunableLayer (get_prunable_weights) on it, or leave it "
            f"unpruned with --unpruned-layers {layer.name}"
        )
    return []


def _declares_prunable_weights(layer) -> bool:
    """A custom layer that names its prunable weights itself (tfmot's `PrunableLayer`)."""
    return isinstance(layer, prunable_layer.PrunableLayer) or hasattr(layer, "get_prunable_weights")


@keras.utils.register_keras_serializable(package="lth_tf")
class MaskedLayer(keras.layers.Wrapper):
    """Wraps a prunable layer and holds one non-trainable 0/1 mask per prunable weight."""

    def __init__(self, layer: keras.layers.Layer, **kwargs):
        kwargs.setdefault("name", f"masked_{layer.name}")
        super().__init__(layer, **kwargs)
        self.attributes: List[str] = []
        if layer.built or not _declares_prunable_weights(layer):
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
        for attribute, weight, mask in zip(self.attributes, weights, self.masks):
            object.__setattr__(self.layer, attribute, _masked_gradient(weight, mask))
        try:
            return self.layer.call(inputs, **kwargs)
        finally:
            for attribute, weight in zip(self.attributes, weights):
                object.__setattr__(self.layer, attribute, weight)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

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


def mask_model(model: keras.Model, unpruned_layers=()) -> keras.Model:
    """Returns `model` with every prunable layer wrapped in a `MaskedLayer` (all ones).

    Layers are shared with `model`, not copied, so the weights are the model's own.
    `unpruned_layers` are layer names or paths (`encoder/fc`), or shell-style patterns
    of them (`*_shortcut`), left unmasked.
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
        return MaskedLayer(layer) if prunable_attributes(layer) else layer

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


def masked_layers(model: keras.Model) -> List[MaskedLayer]:
    """The model's `MaskedLayer`s in order, nested models included."""
    return [layer for layer in _all_layers(model) if isinstance(layer, MaskedLayer)]


def output_layer(model: keras.Model):
    """The model's last layer with prunable weights, masked or left unpruned (its output layer)."""
    last = None
    for layer in _all_layers(model):
        inner = layer.layer if isinstance(layer, MaskedLayer) else layer
        if isinstance(layer, MaskedLayer) or (not isinstance(layer, keras.Model) and _is_prunable(layer)):
            last = inner
    return last


def _is_prunable(layer) -> bool:
    try:
        return bool(prunable_attributes(layer))
    except UserError:  # a layer lth-tf cannot mask is never the output layer it prunes
        return False


class MaskedWeight(NamedTuple):
    key: str
    """The mask key: the layer's path (`encoder/fc`), plus `/attribute` if it masks several weights."""
    layer: keras.layers.Layer
    """The wrapped layer that owns the weight."""
    weight: tf.Variable
    mask: tf.Variable


def masked_weights(model: keras.Model) -> List[MaskedWeight]:
    """Every masked weight of the model in order, keyed by a unique path."""
    out, seen = [], set()
    for path, layer in layer_paths(model):
        if not isinstance(layer, MaskedLayer) or id(layer) in seen:  # a shared layer counts once
            continue
        seen.add(id(layer))
        for attribute, mask in zip(layer.attributes, layer.masks):
            key = path if len(layer.attributes) == 1 else f"{path}/{attribute}"
            out.append(MaskedWeight(key, layer.layer, getattr(layer.layer, attribute), mask))
    keys = [w.key for w in out]
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    if duplicated:
        raise UserError(f"model '{model.name}' has several masked weights at {', '.join(duplicated)}; "
                        "give its layers and sub-models distinct names")
    return out


def _pruned_weights(model):
    return [(w.key, w.weight, w.mask) for w in masked_weights(model)]


def get_masks(model: keras.Model) -> Masks:
    """`{layer path: bool array}`: True where a weight survives."""
    return {key: mask.numpy().astype(bool) for key, _, mask in _pruned_weights(model)}


def set_masks(model: keras.Model, masks: Masks) -> None:
    """Writes the masks and zeroes every pruned weight (the wrapper's invariant)."""
    entries = {key: (weight, mask) for key, weight, mask in _pruned_weights(model)}
    unknown = set(masks) - set(entries)
    if unknown:
        raise ValueError(f"masks name layers the model does not mask: {sorted(unknown)}")
    for key, values in masks.items():
        weight, mask = entries[key]
        values = np.asarray(values)
        if values.shape != tuple(mask.shape):
            raise ValueError(f"mask '{key}' has shape {values.shape}, the weight {tuple(mask.shape)}")
        mask.assign(values.astype(mask.dtype.as_numpy_dtype))
    apply_masks(model)


def apply_masks(model: keras.Model) -> None:
    """Zeroes the pruned weights, restoring the invariant after a write by hand."""
    for _, weight, mask in _pruned_weights(model):
        weight.assign(weight * mask)


def mask_variables(model: keras.Model) -> List[tf.Variable]:
    """The mask variables: state of the pruning, never of the network's weights."""
    return [mask for _, _, mask in _pruned_weights(model)]


def prunable_weights(model: keras.Model) -> Dict[str, tf.Variable]:
    """`{layer path: weight variable}` for every masked weight, keyed like the masks."""
    return {key: weight for key, weight, _ in _pruned_weights(model)}


def strip_masks(model: keras.Model) -> keras.Model:
    """A plain Keras model, sharing the layers, with zeros where weights were pruned."""
    apply_masks(model)

    def unwrap(layer):
        if isinstance(layer, keras.Model):
            return keras.models.clone_model(layer, clone_function=unwrap)
        if isinstance(layer, MaskedLayer):
            if not hasattr(layer.layer, "_batch_input_shape") and hasattr(layer, "_batch_input_shape"):
                layer.layer._batch_input_shape = layer._batch_input_shape
            return layer.layer
        return layer

    return keras.models.clone_model(model, clone_function=unwrap)
