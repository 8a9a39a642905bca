"""XLA or not: chosen per model family and device from measurement (benchmarks/compile_speed.py).

On this project's CPUs (oneDNN, AVX-512) XLA speeds up dense nets and slows convolutions
down: TF's oneDNN kernels beat XLA's CPU convolutions. Measured (docs/performance.md, Compile settings; 2-core
Xeon, float32 steps/s with XLA relative to without): LeNet-300-100 1.57x; Conv-2/4/6
0.61x / 0.59x / 0.66x, ResNet-20 0.49x, VGG-19 0.13x. So unless `--jit-compile` or
`--no-jit-compile` says otherwise, lth-tf compiles with XLA a network without
convolutions, and one with convolutions only on a GPU (where XLA is TF's recommendation;
not measured here, as the project's machine has none). The choice is resolved before the
experiment's identity is computed, so the identity and the logged params hold what ran.
"""

from __future__ import annotations

from typing import Optional

import tensorflow as tf

from lth_tf.tfkeras import keras

CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D, keras.layers.SeparableConv1D,
                keras.layers.SeparableConv2D, keras.layers.DepthwiseConv2D, keras.layers.Conv2DTranspose)


def device() -> str:
    return "GPU" if tf.config.list_physical_devices("GPU") else "CPU"


def has_convolutions(model: keras.Model) -> bool:
    return any(isinstance(getattr(layer, "layer", layer), CONVOLUTIONS) for layer in _layers(model))


def _layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _layers(layer)


def resolve_jit_compile(requested: Optional[bool], model: keras.Model) -> bool:
    """`requested` if given; otherwise XLA for dense nets, and for conv nets only on a GPU."""
    if requested is not None:
        return requested
    return device() == "GPU" or not has_convolutions(model)


def describe(requested: Optional[bool], model: keras.Model) -> str:
    """One line for the run header: what was chosen and why."""
    chosen = "XLA on" if resolve_jit_compile(requested, model) else "XLA off"
    if requested is not None:
        return f"{chosen} (--{'' if requested else 'no-'}jit-compile)"
    family = "conv net" if has_convolutions(model) else "dense net"
    return f"{chosen} (auto: {family} on {device()})"
