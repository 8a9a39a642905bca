"""Which weights of a layer may be pruned: tfmot's knowledge, not ours.

Built-in layers go through tfmot's `PruneRegistry` (the weights `prune_low_magnitude`
would prune); custom layers opt in with tfmot's `PrunableLayer` interface
(`get_prunable_weights`). A layer with trainable weights that neither knows is refused in
one line naming the way out (`--unpruned-layers`), rather than silently left dense.
"""

from __future__ import annotations

from typing import List

import tensorflow as tf
from tensorflow_model_optimization.python.core.sparsity.keras import prunable_layer, prune_registry

from lth_tf.errors import UserError
from lth_tf.tfkeras import keras


def prunable_attributes(layer: keras.layers.Layer) -> List[str]:
    """Names of the layer attributes holding prunable weights (empty: nothing to prune).

    Raises `UserError` for a layer with trainable weights that tfmot does not know how to
    prune, or whose prunable weights are not plain attributes of the layer.
    """
    if declares_prunable_weights(layer):
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


def declares_prunable_weights(layer) -> bool:
    """A custom layer that names its prunable weights itself (tfmot's `PrunableLayer`)."""
    return isinstance(layer, prunable_layer.PrunableLayer) or hasattr(layer, "get_prunable_weights")


def is_prunable(layer) -> bool:
    try:
        return bool(prunable_attributes(layer))
    except UserError:  # a layer lth-tf cannot mask is never the output layer it prunes
        return False
