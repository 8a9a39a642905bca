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

import fnmatch
from typing import Dict, Iterator, List, NamedTuple, Tuple

import numpy as np
import tensorflow as tf

from lth_tf.errors import UserError
from lth_tf.masking.prunable import declares_prunable_weights, is_prunable, prunable_attributes
from lth_tf.tfkeras import keras

Masks = Dict[str, np.ndarray]


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


from lth_tf.masking.supermask import SupermaskLayer, supermask_model  # noqa: E402  (needs MaskedLayer above)
