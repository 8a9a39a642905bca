"""Keras 3 models in and out: rebuilt layer by layer from their configuration, weights copied.

TensorFlow 2.21's `import keras` is Keras 3, but tfmot (and so lth-tf's masks) works on
Keras 2 (`tf_keras`). A Keras 3 Sequential or functional model made of the layers the model
zoo uses (`SUPPORTED`) is rebuilt in tf_keras (`from_keras3`): each layer from its own
`get_config()`, called on the same inputs as in the original graph, then given the
original's weights. A ticket goes back the same way (`to_keras3`, `save_keras3`), its masks
stripped so the pruned weights are zeros in the Keras 3 kernels.

Why from the configuration and not a saved file: the configuration says what each layer
computes, and a setting the other Keras has no counterpart for (Keras 3's `lora_rank`,
tf_keras's `virtual_batch_size`) is refused by name instead of being lost on the way.
A setting left at its default is dropped silently. Any other layer is refused in one line
naming it: converting, say, an LSTM would need knowledge of both Keras's weight layouts
that this module does not claim.

Keras 3 is only imported to build a Keras 3 model (`to_keras3`): a Keras 3 model is
recognised by its class's module (`is_keras3`), so lth-tf's import path stays free of it.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from lth_tf import masking
from lth_tf.errors import UserError
from lth_tf.tfkeras import keras

SUPPORTED = ("InputLayer", "Dense", "Conv2D", "BatchNormalization", "MaxPooling2D", "AveragePooling2D",
             "GlobalAveragePooling2D", "Flatten", "Dropout", "Add", "Activation", "ReLU", "Softmax",
             "ZeroPadding2D", "Reshape")

_BASE_KEYS = {"name", "trainable", "dtype", "activity_regularizer"}
"""Layer settings every Keras layer takes through its base class."""
_CALL_KEYS_DROPPED = {"training", "mask"}
"""Recorded call arguments that the model's own call decides: both Kerases pass the caller's
`training` to every layer (fit trains, predict does not), whatever the graph recorded."""


def is_keras3(obj) -> bool:
    """Whether `obj` is a Keras 3 object (its class comes from the `keras` package, not `tf_keras`)."""
    return any(c.__module__ == "keras" or c.__module__.startswith("keras.") for c in type(obj).__mro__)


Ref = Tuple[str, int, int]
"""A tensor in a functional graph: (layer name, node index, tensor index)."""


@dataclass
class _Call:
    inputs: List[Ref]
    kwargs: Dict[str, Any]


@dataclass
class _Layer:
    class_name: str
    name: str
    config: Dict[str, Any]
    calls: List[_Call] = field(default_factory=list)


@dataclass
class _Graph:
    """A model's structure, read from either Keras's configuration."""

    name: str
    layers: List[_Layer]
    sequential: bool
    inputs: List[Ref] = field(default_factory=list)
    outputs: List[Ref] = field(default_factory=list)
    input_shape: Optional[Tuple] = None
    """A Sequential model without an InputLayer: the batch shape it was built for."""


class _Direction:
    """One conversion: the Keras a model comes from, the one it is rebuilt in (its module)."""

    def __init__(self, source: str, target: str, module, model):
        self.source, self.target, self.keras, self.model = source, target, module, model

    def fail(self, message: str):
        raise UserError(f"{self.source} model '{self.model.name}': {message}")

    def source_class(self, layer_name: str):
        return type(self.model.get_layer(layer_name))


def from_keras3(model) -> keras.Model:
    """The Keras 3 `model` rebuilt as a tf_keras model with the same weights (same predictions)."""
    if not is_keras3(model):
        raise UserError(f"expected a Keras 3 model, got {type(model).__module__}.{type(model).__name__}")
    return _convert(_Direction("Keras 3", "tf_keras", keras, model), _keras3_call)


def to_keras3(model: keras.Model):
    """The tf_keras `model` (masks stripped: pruned weights are zeros) rebuilt as a Keras 3 model."""
    keras3 = _keras3()
    if not isinstance(model, keras.Model):
        raise UserError(f"expected a tf_keras Model, got {type(model).__module__}.{type(model).__name__}")
    if masking.masked_layers(model):
        model = masking.strip_masks(model)
    return _convert(_Direction("tf_keras", "Keras 3", keras3, model), _tf_keras_call)


def save_keras3(model: keras.Model, path: Path) -> Path:
    """Writes the tf_keras `model` (a ticket, masked or stripped) as a Keras 3 `.keras` file."""
    path = Path(path)
    if path.suffix != ".keras":
        raise UserError(f"a Keras 3 model file ends in .keras, not '{path.name}'")
    path.parent.mkdir(parents=True, exist_ok=True)
    to_keras3(model).save(path)
    return path


def load_keras3(path: Path):
    """A `.keras` file read back by Keras 3 itself (uncompiled)."""
    return _keras3().saving.load_model(path, compile=False)


def _keras3():
    """TensorFlow 2.21's `import keras` (Keras 3): imported here only, when a Keras 3 model comes in or
    goes out; everything else in lth-tf is tf_keras (`lth_tf.tfkeras`)."""
    import keras

    return keras


def _convert(direction: _Direction, read_call):
    model = direction.model
    if not (type(model).__name__ == "Sequential" or getattr(model, "_is_graph_network", False)
            or type(model).__name__ == "Functional"):
        direction.fail(f"a subclassed {type(model).__name__} cannot be rebuilt from its "
                       "configuration; build it with the Sequential or functional API")
    graph = _read(model, direction, read_call)
    for layer in graph.layers:
        if layer.class_name not in SUPPORTED:
            direction.fail(f"layer '{layer.name}' is a {layer.class_name}, which lth-tf cannot "
                           f"rebuild in {direction.target} (it can: {', '.join(SUPPORTED[1:])})")
    rebuilt = _build(graph, direction)
    _copy_weights(rebuilt, direction)
    return rebuilt


def _keras3_call(node, layer: _Layer, direction: _Direction) -> _Call:
    """Keras 3 writes a call as `{"args": [tensor or [tensors]], "kwargs": {...}}`."""
    args = node["args"]
    if len(args) != 1:
        direction.fail(f"layer '{layer.name}' is called with {len(args)} positional arguments; "
                       "lth-tf rebuilds layers called on one")
    tensors = args[0] if isinstance(args[0], list) else [args[0]]
    if not all(isinstance(t, dict) and t.get("class_name") == "__keras_tensor__" for t in tensors):
        direction.fail(f"layer '{layer.name}' is called on something other than layer outputs")
    return _Call([tuple(t["config"]["keras_history"]) for t in tensors], node.get("kwargs", {}))


def _tf_keras_call(node, layer: _Layer, direction: _Direction) -> _Call:
    """tf_keras writes a call as `[[name, node, tensor, kwargs], ...]`, one entry per input tensor."""
    if not isinstance(node, list) or not node:
        direction.fail(f"layer '{layer.name}' is called on nested inputs; lth-tf rebuilds layers "
                       "called on a tensor or a list of tensors")
    return _Call([tuple(entry[:3]) for entry in node], node[0][3] if len(node[0]) > 3 else {})


def _read(model, direction: _Direction, read_call) -> _Graph:
    config = model.get_config()
    graph = _Graph(config["name"], [], type(model).__name__ == "Sequential")
    for entry in config["layers"]:
        layer = _Layer(entry["class_name"], entry["config"]["name"], entry["config"])
        layer.calls = [read_call(node, layer, direction) for node in entry.get("inbound_nodes", [])]
        graph.layers.append(layer)
    if graph.sequential:
        graph.input_shape = config.get("build_input_shape")
    else:
        graph.inputs, graph.outputs = _refs(config["input_layers"]), _refs(config["output_layers"])
    return graph


def _refs(value) -> List[Ref]:
    """Keras writes one model input as `[name, 0, 0]` and several as a list of them."""
    if value and isinstance(value[0], str):
        return [tuple(value)]
    return [tuple(v) for v in value]


def _build(graph: _Graph, direction: _Direction):
    k = direction.keras
    if graph.sequential:
        model = k.Sequential(name=graph.name)
        if not graph.layers or graph.layers[0].class_name != "InputLayer":
            if graph.input_shape is None:
                direction.fail("the Sequential model has no input shape yet; give it a "
                               "keras.Input or call it on data once before converting")
            model.add(k.Input(shape=tuple(graph.input_shape[1:]), batch_size=graph.input_shape[0]))
        for layer in graph.layers:
            model.add(_input(layer, direction) if layer.class_name == "InputLayer" else _layer(layer, direction))
        return model
    tensors = {}
    for layer in graph.layers:
        if layer.class_name == "InputLayer":
            tensors[(layer.name, 0, 0)] = _input(layer, direction)
            continue
        target = _layer(layer, direction)
        for index, call in enumerate(layer.calls):
            extra = {k_: v for k_, v in call.kwargs.items() if k_ not in _CALL_KEYS_DROPPED}
            if extra:
                direction.fail(f"layer '{layer.name}' is called with {', '.join(sorted(extra))}, "
                               "which lth-tf does not carry over")
            missing = [r for r in call.inputs if r not in tensors]
            if missing:  # both Kerases write layers in an order where inputs come first
                direction.fail(f"layer '{layer.name}' needs '{missing[0][0]}' before it is built")
            inputs = [tensors[r] for r in call.inputs]
            tensors[(layer.name, index, 0)] = target(inputs[0] if len(inputs) == 1 else inputs)

    def pick(refs):
        return tensors[refs[0]] if len(refs) == 1 else [tensors[r] for r in refs]

    return k.Model(pick(graph.inputs), pick(graph.outputs), name=graph.name)


def _input(layer: _Layer, direction: _Direction):
    config = layer.config
    shape = config.get("batch_shape") or config.get("batch_input_shape")
    if config.get("sparse") or config.get("ragged"):
        direction.fail(f"input '{layer.name}' is sparse or ragged; lth-tf converts dense inputs")
    return direction.keras.Input(shape=tuple(shape[1:]), batch_size=shape[0], dtype=_dtype(config.get("dtype")),
                                 name=layer.name)


def _layer(layer: _Layer, direction: _Direction):
    cls = getattr(direction.keras.layers, layer.class_name)
    accepted = _parameters(cls) | _BASE_KEYS
    settings = {}
    for key, value in layer.config.items():
        if key == "dtype":
            settings[key] = _dtype(value)
        elif key in accepted:
            settings[key] = _setting(layer, key, value, direction)
        elif not _is_default(direction.source_class(layer.name), key, value):
            direction.fail(f"layer '{layer.name}' ({layer.class_name}) sets {key}={value!r}, "
                           f"which {direction.target}'s {layer.class_name} has no counterpart for")
    if layer.class_name == "BatchNormalization" and isinstance(settings.get("axis"), (list, tuple)):
        if len(settings["axis"]) != 1:
            direction.fail(f"layer '{layer.name}' normalizes over several axes {settings['axis']}")
        settings["axis"] = settings["axis"][0]  # tf_keras writes [3] where Keras 3 takes an int
    try:
        return cls(**settings)
    except (TypeError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        direction.fail(f"layer '{layer.name}' ({layer.class_name}) cannot be rebuilt in "
                       f"{direction.target}: {first}")


def _setting(layer: _Layer, key: str, value, direction: _Direction):
    """A setting's value for the target Keras: serialized initializers, regularizers and constraints rebuilt."""
    if not (isinstance(value, dict) and "class_name" in value):
        if key == "activation":
            try:
                direction.keras.activations.get(value)
            except (TypeError, ValueError):
                direction.fail(f"layer '{layer.name}' ({layer.class_name}) uses activation "
                               f"{value!r}, which {direction.target} does not have")
        return value
    kind = ("initializers" if key.endswith("initializer") else "regularizers" if key.endswith("regularizer")
            else "constraints" if key.endswith("constraint") else None)
    cls = getattr(getattr(direction.keras, kind), value["class_name"], None) if kind else None
    if cls is None:
        direction.fail(f"layer '{layer.name}' ({layer.class_name}) sets {key} to "
                       f"{value['class_name']}, which {direction.target} does not have")
    accepted = _parameters(cls)
    config = value.get("config") or {}
    unknown = {k_: v for k_, v in config.items() if k_ not in accepted and v is not None}
    if unknown:
        direction.fail(f"layer '{layer.name}' ({layer.class_name}) sets {key} "
                       f"{value['class_name']}({unknown}), which {direction.target} cannot")
    return cls(**{k_: v for k_, v in config.items() if k_ in accepted})


def _parameters(cls) -> set:
    """Every named argument `cls` takes, through the `__init__`s of its bases too (kwargs are passed up)."""
    names = set()
    for base in cls.__mro__:
        if "__init__" in vars(base) and base.__name__ not in ("Layer", "object", "Operation"):
            names |= {p.name for p in inspect.signature(base.__init__).parameters.values()
                      if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"}
    return names


def _is_default(source_class, key: str, value) -> bool:
    """Whether a setting the target lacks asks for nothing: None, False, or the source layer's default."""
    if value is None or value is False:
        return True
    for base in source_class.__mro__:
        parameter = inspect.signature(base.__init__).parameters.get(key) if "__init__" in vars(base) else None
        if parameter is not None and parameter.default is not parameter.empty:
            return parameter.default == value
    return False


def _dtype(value):
    """A dtype policy as its name: Keras 3 writes a `DTypePolicy` object, tf_keras a name or a `Policy`."""
    if isinstance(value, dict):
        return value.get("config", {}).get("name", "float32")
    return value


def _copy_weights(target, direction: _Direction) -> None:
    for layer in direction.model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        into = target.get_layer(layer.name)
        shapes = [tuple(w.shape) for w in into.get_weights()]
        if shapes != [tuple(w.shape) for w in weights]:
            direction.fail(f"layer '{layer.name}' holds weights of shapes "
                           f"{[tuple(w.shape) for w in weights]}, its rebuild {shapes}")
        into.set_weights(weights)
