"""Mixed precision through Keras's policies, with everything lth-tf must keep exact in float32.

`--precision mixed_bfloat16` (or `mixed_float16` on a GPU) builds the network under that
Keras policy: layers compute in 16 bits and keep their variables in float32. What the
method depends on stays float32 and exact: the weight variables (so θ0, the trained
weights and the pruning scores computed from them are float32 arrays), the masks, and the
logits, which leave the network through a float32 layer as Keras recommends so the loss
and softmax are computed in float32. Pruned weights stay exactly zero: a pruned weight's
gradient is multiplied by a 0 mask (exact in any precision) and the float32 update of a
zero gradient from a fresh optimizer is zero.
"""

from __future__ import annotations

import contextlib

import tensorflow as tf

from lth_tf.errors import UserError
from lth_tf.tfkeras import keras

@contextlib.contextmanager
def policy(name: str):
    """Layers built inside compute with policy `name`; the global policy is restored after."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def float32_logits(model: keras.Model) -> keras.Model:
    """`model` with its output cast to float32 by a last float32 layer, if it is not already."""
    if not model.outputs or all(output.dtype == tf.float32 for output in model.outputs):
        return model  # (a subclassed model has no outputs; masking explains why it cannot be used)
    if len(model.outputs) != 1:
        raise UserError(f"model '{model.name}' has {len(model.outputs)} outputs; lth-tf trains one (the logits)")
    logits = keras.layers.Activation("linear", dtype="float32", name="logits_float32")(model.outputs[0])
    return keras.Model(model.inputs, logits, name=model.name)


def check_built(model: keras.Model, name: str) -> None:
    """A model built before lth-tf saw it keeps the policy it was built with: it must match."""
    computes = {layer.compute_dtype for layer in model.layers if layer.trainable_weights}
    wanted = keras.mixed_precision.Policy(name).compute_dtype
    if computes and computes != {wanted}:
        raise UserError(
            f"--precision {name}: model '{model.name}' was built computing in {', '.join(sorted(computes))}; "
            f"build it under keras.mixed_precision.set_global_policy('{name}'), or pass a function that builds it"
        )
