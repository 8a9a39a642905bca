"""Model names to builders: adding an architecture is one module and one `@register` line.

A builder takes the input shape and number of classes and returns an unmasked Keras
(tf_keras) functional model producing logits; lth-tf adds the masks itself.
"""

from __future__ import annotations

from typing import Tuple

from lth_tf.registry import Registry
from lth_tf.tfkeras import keras

REGISTRY = Registry("model")
register = REGISTRY.register
check = REGISTRY.lookup


def build(name: str, input_shape: Tuple[int, ...], num_classes: int) -> keras.Model:
    return REGISTRY.lookup(name)(input_shape, num_classes)
