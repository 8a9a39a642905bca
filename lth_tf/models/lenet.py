"""LeNet-300-100 as in the paper: fully connected 300-100-classes, ReLU, Gaussian Glorot init.

On 28x28 inputs it has 266,200 weights (784*300 + 300*100 + 100*10), all prunable;
biases are not pruned.
"""

from lth_tf.models.registry import register
from lth_tf.tfkeras import keras


@register("lenet_300_100")
def lenet_300_100(input_shape, num_classes):
    dense = dict(kernel_initializer="glorot_normal")
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    x = keras.layers.Dense(300, activation="relu", name="fc1", **dense)(x)
    x = keras.layers.Dense(100, activation="relu", name="fc2", **dense)(x)
    logits = keras.layers.Dense(num_classes, name="output", **dense)(x)
    return keras.Model(inputs, logits, name="lenet_300_100")
