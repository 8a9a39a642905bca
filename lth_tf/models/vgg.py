"""VGG-19 for CIFAR-10, as the paper's (after Liu et al.'s CIFAR variant of Simonyan & Zisserman).

Sixteen 3x3 convolutions (2x64, pool, 2x128, pool, 4x256, pool, 4x512, pool, 4x512), each
followed by batch norm and ReLU, then global average pooling and one fully connected
`output` layer: 20,024,000 weights (paper 20.0M). The convolutions have no bias (batch
norm's offset plays its part); init is Gaussian Glorot. The paper prunes the convolutions
globally and leaves `output` unpruned (the `vgg19` preset).
"""

from __future__ import annotations

from lth_tf.models.registry import batch_norm, register

PLAN = (64, 64, "pool", 128, 128, "pool", 256, 256, 256, 256, "pool", 512, 512, 512, 512, "pool", 512, 512, 512, 512)


@register("vgg19")
def vgg19(input_shape, num_classes, nonaffine_batchnorm=False):
    from lth_tf.tfkeras import keras

    inputs = keras.Input(input_shape, name="image")
    x, conv, pool = inputs, 0, 0
    for step in PLAN:
        if step == "pool":
            pool += 1
            x = keras.layers.MaxPooling2D(2, name=f"pool{pool}")(x)
            continue
        conv += 1
        x = keras.layers.Conv2D(step, 3, padding="same", use_bias=False, name=f"conv{conv}",
                                kernel_initializer="glorot_normal")(x)
        x = batch_norm(f"bn{conv}", nonaffine_batchnorm)(x)
        x = keras.layers.ReLU(name=f"relu{conv}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    logits = keras.layers.Dense(num_classes, name="output", kernel_initializer="glorot_normal")(x)
    return keras.Model(inputs, logits, name="vgg19")
