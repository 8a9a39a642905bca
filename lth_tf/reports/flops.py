"""What one forward pass costs, dense and with a mask: multiply-adds counted from the layers.

What a ticket saves is the first thing its users ask after "does it train as well". This
counts, for one example (batch size 1), the multiply-accumulate operations (MACs) of the
layers whose cost grows with their weights:

- `Dense`: every kernel weight is used once per output vector, so MACs = kernel size x
  the positions the layer is applied at (1 for a flat input, the leading dimensions
  otherwise);
- `Conv1D/2D/3D` (grouped too), `DepthwiseConv`, `SeparableConv` (depthwise and
  pointwise kernels): every kernel weight is used once per output position, so MACs =
  kernel size x output positions (H_out x W_out for 2-D). Padding taps are counted like
  any other (a 'same' convolution's border multiplies by padded zeros), as common
  counters do, so that the dense count is the textbook H_out*W_out*k*k*C_in*C_out.

With a mask, only the surviving weights' multiply-adds count: MACs = surviving weights x
the same positions. That is the work a sparse kernel would do; dense hardware running the
zeros does the dense count.

FLOPs = 2 x MACs (one multiply and one add each). Not counted: biases (one add per
output), batch norm (a scale and shift per activation, foldable into the layer before it
at inference), activations and pooling (per activation, not per weight): they cost
O(activations), are untouched by pruning, and are small next to the kernels (LeNet-300-100
has 410 bias adds against 266,200 MACs). Layers holding weights that are not counted
(batch norm, embeddings, transposed convolutions, recurrent or custom layers) are named
in `ForwardCost.uncounted`, so a reader sees what the total leaves out.

The model must be a graph (functional or Sequential) model with known input and spatial
sizes, as lth-tf's models are; nested models count once per call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping, Optional, Tuple

import numpy as np

from lth_tf.errors import UserError
from lth_tf.masking import MaskedLayer
from lth_tf.masking.prunable import prunable_attributes
from lth_tf.tfkeras import keras

def _layer_types(*names: str) -> tuple:
    return tuple(getattr(keras.layers, name) for name in names if hasattr(keras.layers, name))


TRANSPOSED = _layer_types("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
"""Transposed convolutions scatter each input position: not counted (named as uncounted)."""
DEPTHWISE = _layer_types("DepthwiseConv1D", "DepthwiseConv2D")
SEPARABLE = _layer_types("SeparableConv1D", "SeparableConv2D")
CONVOLUTIONS = _layer_types("Conv1D", "Conv2D", "Conv3D")


@dataclass(frozen=True)
class KernelCost:
    """One kernel's multiply-adds in one forward pass of one example."""

    path: str
    """The mask key of the kernel's layer (`fc1`, `encoder/conv`; `path/attribute` if it masks several)."""
    attribute: str
    positions: int
    """How many times each weight is used: output positions (conv) or leading positions (dense)."""
    weights: int
    surviving: int
    """Weights the mask keeps (all of them without a mask)."""

    @property
    def dense_macs(self) -> int:
        return self.positions * self.weights

    @property
    def macs(self) -> int:
        return self.positions * self.surviving


@dataclass(frozen=True)
class ForwardCost:
    """A model's forward-pass cost, dense and as masked, per kernel."""

    kernels: Tuple[KernelCost, ...]
    uncounted: Tuple[str, ...]
    """Paths of layers that hold weights but whose cost is not counted (see the module's docstring)."""

    @property
    def dense_macs(self) -> int:
        return sum(k.dense_macs for k in self.kernels)

    @property
    def macs(self) -> int:
        return sum(k.macs for k in self.kernels)

    @property
    def dense_flops(self) -> int:
        return 2 * self.dense_macs

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def weights(self) -> int:
        return sum(k.weights for k in self.kernels)

    @property
    def surviving_weights(self) -> int:
        return sum(k.surviving for k in self.kernels)


def forward_cost(model: keras.Model, masks: Optional[Mapping[str, np.ndarray]] = None) -> ForwardCost:
    """The cost of one forward pass of `model`; with `masks` (`{path: bool array}`, as
    `lth_tf.masking.get_masks` gives), only surviving weights count.

    Raises `ValueError` for a mask naming no counted layer's kernel, or of the wrong shape.
    """
    masks = dict(masks or {})
    kernels, uncounted, used = [], [], set()
    for path, layer, shape in _calls(model):
        inner = layer.layer if isinstance(layer, MaskedLayer) else layer
        attributes = _kernel_attributes(inner)
        if not attributes:
            if inner.weights and path not in uncounted:
                uncounted.append(path)
            continue
        positions = _positions(inner, shape, path)
        for attribute in attributes:
            kernel = getattr(inner, attribute)
            key = _mask_key(path, inner, attribute)
            mask = masks.get(key) if key is not None else None
            if mask is not None:
                used.add(key)
                if tuple(np.shape(mask)) != tuple(kernel.shape):
                    raise ValueError(f"mask '{key}' has shape {np.shape(mask)}, the kernel {tuple(kernel.shape)}")
            size = int(np.prod(kernel.shape))
            surviving = size if mask is None else int(np.count_nonzero(mask))
            kernels.append(KernelCost(path if key is None else key, attribute, positions, size, surviving))
    unknown = sorted(set(masks) - used - set(uncounted))
    if unknown:
        raise ValueError(f"masks name no counted kernel of model '{model.name}': {unknown}")
    return ForwardCost(tuple(kernels), tuple(uncounted))


def _calls(model: keras.Model, prefix: str = "") -> Iterator[Tuple[str, keras.layers.Layer, tuple]]:
    """(path, layer, output shape) for every call of a layer in the model's graph, inputs first.

    Walks the graph's own nodes rather than each layer's: a layer shared with another model
    (masking clones the model around unpruned layers) has nodes in both.
    """
    nodes_by_depth = getattr(model, "_nodes_by_depth", None)
    if not getattr(model, "_is_graph_network", False) or nodes_by_depth is None:
        raise UserError(f"model '{model.name}' is not a functional or Sequential model: its forward cost "
                        "cannot be read from its layers")
    for depth in sorted(nodes_by_depth, reverse=True):
        for node in nodes_by_depth[depth]:
            layer = node.layer
            if isinstance(layer, keras.layers.InputLayer):
                continue
            if isinstance(layer, keras.Model):
                yield from _calls(layer, f"{prefix}{layer.name}/")
                continue
            name = layer.layer.name if isinstance(layer, MaskedLayer) else layer.name
            yield prefix + name, layer, node.output_shapes


def _kernel_attributes(layer: keras.layers.Layer) -> Tuple[str, ...]:
    """The weights whose multiply-adds are counted, by layer type (none: not counted)."""
    if isinstance(layer, keras.layers.Dense):
        return ("kernel",)
    if isinstance(layer, TRANSPOSED):  # subclasses of Conv2D: ruled out first
        return ()
    if isinstance(layer, SEPARABLE):
        return ("depthwise_kernel", "pointwise_kernel")
    if isinstance(layer, DEPTHWISE):
        return ("depthwise_kernel",)
    if isinstance(layer, CONVOLUTIONS):
        return ("kernel",)
    return ()


def _positions(layer: keras.layers.Layer, shape, path: str) -> int:
    """How many output vectors the layer computes for one example (each uses every weight once)."""
    if isinstance(shape, list):  # one output for the layers counted here
        shape = shape[0]
    shape = tuple(shape)
    channels_first = getattr(layer, "data_format", "channels_last") == "channels_first"
    dense = isinstance(layer, keras.layers.Dense)
    spatial = shape[2:] if channels_first and not dense else shape[1:-1]
    if any(d is None for d in spatial):
        raise UserError(f"layer '{path}' has an unknown output size {shape}: build the model with a fixed "
                        "input shape to count its multiply-adds")
    return int(np.prod(spatial, dtype=np.int64)) if spatial else 1


def _mask_key(path: str, layer: keras.layers.Layer, attribute: str) -> Optional[str]:
    """The key a mask of this kernel has in `get_masks` (None: lth-tf never masks it)."""
    try:
        prunable = prunable_attributes(layer)
    except UserError:
        return None
    if attribute not in prunable:
        return None
    return path if len(prunable) == 1 else f"{path}/{attribute}"

