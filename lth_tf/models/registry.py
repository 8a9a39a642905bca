"""Model names to builders: adding an architecture is one module and one `@register` line.

A builder takes the input shape and number of classes, plus keyword options it supports
(`dropout`), and returns an unmasked Keras functional model producing logits (a Keras 3
model is rebuilt in tf_keras, `lth_tf.models.keras3`); lth-tf adds the masks itself. A model can also come from outside the registry:

- `package.module:function` on the command line: the function is imported (the working
  directory is on the import path) and called with `(input_shape, num_classes)` if it
  takes two arguments, with none otherwise;
- `python:NAME` names a model handed over in Python (`lth_tf.find_tickets`); it can only
  be built there.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import TYPE_CHECKING, Callable, Tuple

from lth_tf.errors import UserError
from lth_tf.registry import Registry

if TYPE_CHECKING:  # Keras loads when a model is built: names and options are checked before TensorFlow
    from lth_tf.tfkeras import keras

REGISTRY = Registry("model")
register = REGISTRY.register

OPTIONS = ("dropout", "nonaffine_batchnorm")
"""`ModelHparams` fields passed to builders (only when set, and only to builders that take them)."""

PYTHON = "python:"


def batch_norm(name: str, nonaffine: bool = False) -> keras.layers.BatchNormalization:
    """Batch norm as the zoo builds it; `nonaffine` (the option `nonaffine_batchnorm`) drops the
    learned scale and offset, as edge-popup's supermasks need (nothing but scores may train)."""
    from lth_tf.tfkeras import keras

    return keras.layers.BatchNormalization(name=name, center=not nonaffine, scale=not nonaffine)


def _import(path: str) -> Callable:
    module_name, _, attribute = path.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # ImportError, or the user's module failing as it loads
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserError(f"--model {path}: cannot import module '{module_name}' ({detail})") from None
    builder = getattr(module, attribute, None)
    if builder is None:
        raise UserError(f"--model {path}: module '{module_name}' has no attribute '{attribute}'")
    if not callable(builder):
        raise UserError(f"--model {path}: '{attribute}' is a {type(builder).__name__}, not a function")
    return builder


def _builder(name: str) -> Callable:
    if name.startswith(PYTHON):
        raise UserError(f"model '{name}' is a Python object; pass it to lth_tf.find_tickets(model, ...)")
    if ":" in name:
        return _import(name)
    return REGISTRY.lookup(name)


def _options(name: str, builder: Callable, hparams) -> dict:
    """The set model options, checked against what the builder accepts."""
    options = {o: getattr(hparams, o) for o in OPTIONS if hparams is not None and getattr(hparams, o)}
    for option in options:
        if option not in _parameters(builder):
            raise UserError(f"model '{name}' does not take --{option.replace('_', '-')}")
    return options


def _parameters(builder: Callable):
    try:
        return inspect.signature(builder).parameters
    except (TypeError, ValueError):  # a callable without a signature: it takes nothing we know of
        return {}


def check(name: str, hparams=None) -> None:
    """Raises a one-line `UserError` unless `name` (with `hparams`' options) can be built."""
    if name.startswith(PYTHON):
        if hparams is not None and any(getattr(hparams, o) for o in OPTIONS):
            raise UserError(f"model options ({', '.join(OPTIONS)}) apply to built-in models, not '{name}'")
        return
    _options(name, _builder(name), hparams)


def build(name: str, input_shape: Tuple[int, ...], num_classes: int, hparams=None) -> keras.Model:
    """The named model; `hparams` (`ModelHparams`) supplies options such as dropout."""
    builder = _builder(name)
    if ":" in name:
        return _call_user_builder(name, builder, input_shape, num_classes, _options(name, builder, hparams))
    return builder(input_shape, num_classes, **_options(name, builder, hparams))


def _call_user_builder(name, builder, input_shape, num_classes, options) -> keras.Model:
    from lth_tf.models import keras3
    from lth_tf.tfkeras import keras

    positional = [p for p in _parameters(builder).values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in options]
    takes_shape = len(positional) >= 2
    model = builder(input_shape, num_classes, **options) if takes_shape else builder(**options)
    if keras3.is_keras3(model):  # tfmot masks tf_keras only: the same model, rebuilt there with its weights
        return keras3.from_keras3(model)
    if not isinstance(model, keras.Model):
        raise UserError(f"--model {name} returned {type(model).__module__}.{type(model).__name__}, not a Keras Model")
    return model


def weight_count(model: keras.Model) -> int:
    """The weights the paper's table counts: every prunable kernel (conv and fully connected).

    "Prunable" is tfmot's registry's notion (kernels, not biases or batch norm), whether
    or not a run leaves the layer unpruned: ResNet's 1x1 shortcuts and output layer count.
    """
    from lth_tf import masking
    from lth_tf.tfkeras import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += weight_count(layer)
        else:
            total += sum(int(getattr(layer, a).shape.num_elements()) for a in masking.prunable_attributes(layer))
    return total
