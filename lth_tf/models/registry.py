"""Model names to builders: adding an architecture is one module and one `@register` line.

A builder takes the input shape and number of classes and returns an unmasked Keras
(tf_keras) functional model producing logits; lth-tf adds the masks itself.
"""

from __future__ import annotations

from typing import Callable, Dict, Tuple

from lth_tf.errors import UserError
from lth_tf.tfkeras import keras

Builder = Callable[[Tuple[int, ...], int], keras.Model]
REGISTRY: Dict[str, Builder] = {}


def register(name: str):
    def add(builder: Builder) -> Builder:
        REGISTRY[name] = builder
        return builder

    return add


def check(name: str) -> None:
    if name not in REGISTRY:
        raise UserError(f"unknown model '{name}'; choose from {', '.join(sorted(REGISTRY))}")


def build(name: str, input_shape: Tuple[int, ...], num_classes: int) -> keras.Model:
    check(name)
    return REGISTRY[name](input_shape, num_classes)
