"""A model and its data checked against each other before training, each mistake in one true line.

lth-tf trains every network with sparse categorical cross-entropy on logits, one array of
examples in and one vector of class logits out. When a model does not fit its data, Keras
finds out late and says it badly: 5 output units on 10-class data train to a loss that is
not finite ("diverged", the wrong cause), a model built for 32x32x3 images fails on 28x28x1
ones inside the first traced step with `ValueError: in user code:`. `problem` looks at the
built model and the data's splits first and names the mismatch, both sides of it.

The checks read the model's declared shapes; a last one runs the model on two training
examples, so that a mismatch hidden inside it (an input declared `(None, None, 1)` that
reaches a Dense layer built for another size) is reported before any run exists too.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from lth_tf.errors import UserError
from lth_tf.tfkeras import keras

LOSS = "sparse categorical cross-entropy on logits"
"""The loss every network of lth-tf is trained with (see `training.compile_model`)."""

PROBABILITY_ACTIVATIONS = ("softmax", "sigmoid")


def check(model: keras.Model, splits) -> None:
    """Raises a one-line `UserError` if `model` cannot be trained on `splits` (a `data.Splits`)."""
    found = problem(model, splits)
    if found:
        raise UserError(found)


def problem(model: keras.Model, splits) -> Optional[str]:
    """The first mistake that would make training on `splits` fail or mislead, as one line; None if none."""
    if model.inputs is None:  # a subclassed model has no graph to read: masking refuses it, in its own words
        return None
    for find in (_inputs, _outputs, _labels, _dry_run):
        found = find(model, splits)
        if found:
            return found
    return None


def _shape(shape: Sequence) -> str:
    """`(28, 28, 1)`, or `(None, 3)`: a per-example shape as a user writes it."""
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _fits(declared: Sequence, actual: Sequence) -> bool:
    return len(declared) == len(actual) and all(d is None or d == a for d, a in zip(declared, actual))


def _inputs(model, splits) -> Optional[str]:
    if len(model.inputs) != 1:
        return f"model '{model.name}' takes {len(model.inputs)} inputs; lth-tf feeds it one array of examples"
    declared, data = tuple(model.inputs[0].shape[1:]), tuple(splits.input_shape)
    if _fits(declared, data):
        return None
    line = (f"model '{model.name}' takes inputs of shape {_shape(declared)}, but the data '{splits.name}' "
            f"has examples of shape {_shape(data)}")
    if data[-1:] == (1,) and _fits(declared, data[:-1]):
        line += f" (its images have a channel axis of 1: build the model for {_shape(data)})"
    elif len(declared) == 1 and len(data) > 1 and declared[0] == int(np.prod(data)):
        line += " (flatten them inside the model: start it with a Flatten layer)"
    return line


def _outputs(model, splits) -> Optional[str]:
    if len(model.outputs) != 1:
        return f"model '{model.name}' has {len(model.outputs)} outputs; lth-tf trains one, the class logits"
    shape = tuple(model.outputs[0].shape[1:])
    classes = splits.num_classes
    if len(shape) != 1:
        return (f"model '{model.name}' outputs shape {_shape(shape)} per example, but {LOSS} needs one vector of "
                f"{classes} class logits (end the model with Flatten or GlobalAveragePooling2D and Dense({classes}))")
    if shape[0] is not None and shape[0] != classes:
        return (f"model '{model.name}' has {shape[0]} output units, but the data '{splits.name}' has {classes} "
                f"classes (labels 0..{classes - 1}): build its last layer with {classes} units")
    activation = _final_activation(model)
    if activation in PROBABILITY_ACTIVATIONS:
        return (f"model '{model.name}' ends in a {activation}, but lth-tf's loss ({LOSS}) applies the softmax "
                "itself: end the model with the logits (no activation on its last layer)")
    return None


def _final_activation(model) -> Optional[str]:
    """The name of the activation the model's output passes through last, looking through linear layers."""
    layer = _producer(model.outputs[0])
    while layer is not None:
        inner = layer.layer if isinstance(layer, keras.layers.Wrapper) else layer  # a masked layer
        if isinstance(inner, keras.layers.Softmax):
            return "softmax"
        activation = getattr(getattr(inner, "activation", None), "__name__", None)
        if activation != "linear" or not isinstance(inner, keras.layers.Activation):
            return activation
        layer = _producer(inner.input)  # a linear Activation (lth-tf's float32 cast): look behind it
    return None


def _producer(tensor):
    history = getattr(tensor, "_keras_history", None)
    return history.layer if history is not None else None


def _labels(model, splits) -> Optional[str]:
    classes = splits.num_classes
    for split in ("train", "validation", "test"):
        labels = np.asarray(getattr(splits, split)[1])
        if labels.size == 0:
            continue
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            return (f"the data '{splits.name}' has {split} labels of {labels.dtype} shape {labels.shape}; "
                    "lth-tf takes one integer class index per example (not one-hot)")
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= classes:
            bad = low if low < 0 else high
            count = int(np.sum((labels < 0) | (labels >= classes)))
            return (f"the data '{splits.name}' has {count} {split} label(s) outside the {classes} classes "
                    f"0..{classes - 1} (e.g. {bad})")
    return None


def _dry_run(model, splits) -> Optional[str]:
    examples = np.asarray(splits.train[0][:2])
    try:
        model(examples, training=False)
    except (ValueError, TypeError, tf.errors.InvalidArgumentError) as error:  # Keras's checks, then TF's ops
        return (f"model '{model.name}' fails on examples of shape {_shape(examples.shape[1:])} from the data "
                f"'{splits.name}': {_cause(error)}")
    return None


def _cause(error: Exception) -> str:
    """The line of a Keras error that states the cause: Keras wraps it between `Exception encountered
    when calling layer ...` and `Call arguments received by layer ...: • inputs=...`."""
    wrapping = ("Exception encountered when calling", "Call arguments received", "in user code", "File ", "•")
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    cause = [line for line in lines if not line.startswith(wrapping)]
    return cause[0] if cause else (lines[-1] if lines else type(error).__name__)
