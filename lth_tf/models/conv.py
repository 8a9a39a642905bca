"""Conv-2, Conv-4 and Conv-6: the paper's scaled-down VGG-style nets for CIFAR-10.

Pairs of 3x3 convolutions ('same' padding, ReLU) with 64, 128 and 256 filters, each pair
followed by 2x2 max pooling, then fully connected 256-256-classes; Gaussian Glorot init.
Layers are named `conv1..convN`, `fc1, fc2`, `output`, so conv layers prune at
`--conv-rate`, fc layers at `--fc-rate` and `output` at half of it. Optional dropout
follows each hidden fc layer (the paper's dropout experiments use 0.5).

Weights (conv and fc kernels) on 32x32x3 inputs: Conv-2 4,300,992 (paper 4.3M), Conv-4
2,425,024 (2.4M), Conv-6 2,261,184. The paper's table says 1.7M for Conv-6, which no
reading of its own architecture gives: its convs alone hold 1.14M and its first fc layer
(4*4*256 -> 256) 1.05M.
"""

from __future__ import annotations

from lth_tf.models.lenet import dense_head
from lth_tf.models.registry import register


def conv_net(name, filters, input_shape, num_classes, dropout=0.0):
    from lth_tf.tfkeras import keras

    inputs = keras.Input(input_shape, name="image")
    x, index = inputs, 0
    for block, width in enumerate(filters, start=1):
        for _ in range(2):
            index += 1
            x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name=f"conv{index}",
                                    kernel_initializer="glorot_normal")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{block}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    return keras.Model(inputs, dense_head(x, (256, 256), num_classes, dropout), name=name)


@register("conv2")
def conv2(input_shape, num_classes, dropout=0.0):
    return conv_net("conv2", (64,), input_shape, num_classes, dropout)


@register("conv4")
def conv4(input_shape, num_classes, dropout=0.0):
    return conv_net("conv4", (64, 128), input_shape, num_classes, dropout)


@register("conv6")
def conv6(input_shape, num_classes, dropout=0.0):
    return conv_net("conv6", (64, 128, 256), input_shape, num_classes, dropout)
