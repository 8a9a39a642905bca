"""LeNet-300-100 as in the paper: fully connected 300-100-classes, ReLU, Gaussian Glorot init.

On 28x28 inputs it has 266,200 weights (784*300 + 300*100 + 100*10), all prunable;
biases are not pruned. Optional dropout follows each hidden layer.
"""

from __future__ import annotations

from lth_tf.models.registry import register


def dense_head(x, hidden, num_classes, dropout=0.0):
    """Hidden ReLU layers `fc1, fc2, ...` (each followed by dropout, if any) and the `output` logits."""
    from lth_tf.tfkeras import keras

    for i, units in enumerate(hidden, start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"fc{i}", kernel_initializer="glorot_normal")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout{i}")(x)
    return keras.layers.Dense(num_classes, name="output", kernel_initializer="glorot_normal")(x)


@register("lenet_300_100")
def lenet_300_100(input_shape, num_classes, dropout=0.0):
    from lth_tf.tfkeras import keras

    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    return keras.Model(inputs, dense_head(x, (300, 100), num_classes, dropout), name="lenet_300_100")
