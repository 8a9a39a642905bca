"""The paper's "ResNet-18": the CIFAR ResNet-20 of He et al. (2016), registered under both names.

A 3x3 convolution with 16 filters, then three stages of three residual blocks (16, 32 and
64 filters; the first block of stages 2 and 3 halves the resolution), each block two 3x3
convolutions with batch norm; where a block changes shape its shortcut is a 1x1
convolution with batch norm (`stageS_block1_shortcut`). Global average pooling and a
fully connected `output` layer. Gaussian Glorot init, no conv biases.

Weights: 270,896 (paper ~271K), of which 267,696 are pruned by the `resnet18` preset: it
leaves the two 1x1 shortcuts (2,560) and `output` (640) unpruned, as the paper, through
the pattern `--unpruned-layers '*_shortcut,output'`.
"""

from __future__ import annotations

from lth_tf.models.registry import batch_norm, register


def _conv(x, filters, size, stride, name):
    from lth_tf.tfkeras import keras

    return keras.layers.Conv2D(filters, size, strides=stride, padding="same", use_bias=False, name=name,
                               kernel_initializer="glorot_normal")(x)


def _block(x, filters, stride, name, nonaffine):
    from lth_tf.tfkeras import keras

    y = _conv(x, filters, 3, stride, f"{name}_conv1")
    y = keras.layers.ReLU(name=f"{name}_relu1")(batch_norm(f"{name}_bn1", nonaffine)(y))
    y = batch_norm(f"{name}_bn2", nonaffine)(_conv(y, filters, 3, 1, f"{name}_conv2"))
    if stride != 1 or x.shape[-1] != filters:
        x = _conv(x, filters, 1, stride, f"{name}_shortcut")
        x = batch_norm(f"{name}_shortcut_bn", nonaffine)(x)
    return keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([x, y]))


@register("resnet18")
@register("resnet20")
def resnet20(input_shape, num_classes, nonaffine_batchnorm=False):
    from lth_tf.tfkeras import keras

    inputs = keras.Input(input_shape, name="image")
    x = _conv(inputs, 16, 3, 1, "conv")
    x = keras.layers.ReLU(name="relu")(batch_norm("bn", nonaffine_batchnorm)(x))
    for stage, filters in enumerate((16, 32, 64), start=1):
        for block in range(1, 4):
            x = _block(x, filters, 2 if stage > 1 and block == 1 else 1, f"stage{stage}_block{block}",
                       nonaffine_batchnorm)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    logits = keras.layers.Dense(num_classes, name="output", kernel_initializer="glorot_normal")(x)
    return keras.Model(inputs, logits, name="resnet20")
