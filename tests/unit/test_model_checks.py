"""A model that does not fit its data is named in one true line before training (real tiny models)."""

import numpy as np
import pytest

from conftest import small_model
from lth_tf import masking
from lth_tf.data.splits import Splits
from lth_tf.errors import UserError
from lth_tf.models import checks
from lth_tf.tfkeras import keras


def data(shape=(28, 28, 1), classes=10, n=20, labels=None, name="digits"):
    rng = np.random.default_rng(0)

    def split():
        y = rng.integers(0, classes, n) if labels is None else np.asarray(labels)
        return rng.random((len(y), *shape), dtype=np.float32), y.astype("int64")

    return Splits(name, split(), split(), split(), num_classes=classes)


def cnn(input_shape=(28, 28, 1), classes=10, head=True, last_activation=None, name="cnn"):
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    if head:
        x = keras.layers.Flatten()(keras.layers.MaxPooling2D(2)(x))
        x = keras.layers.Dense(classes, activation=last_activation, name="output")(x)
    return keras.Model(inputs, x, name=name)


def one_line(model, splits):
    found = checks.problem(model, splits)
    assert found and "\n" not in found
    with pytest.raises(UserError) as raised:
        checks.check(model, splits)
    assert str(raised.value) == found
    print(found)
    return found


def test_a_model_that_fits_its_data_passes_masked_or_not():
    assert checks.problem(cnn(), data()) is None
    assert checks.problem(masking.mask_model(cnn()), data()) is None
    assert checks.problem(small_model(), data((8, 8, 1), classes=4)) is None


def test_input_shape_vs_data_shape_names_both():
    found = one_line(cnn((32, 32, 3)), data((28, 28, 1)))
    assert found == ("model 'cnn' takes inputs of shape (32, 32, 3), but the data 'digits' has examples of "
                     "shape (28, 28, 1)")


def test_a_model_built_without_the_channel_axis_is_told_the_shape_to_build_for():
    inputs = keras.Input((28, 28))
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)), name="flat")
    assert one_line(model, data()).endswith("(its images have a channel axis of 1: build the model for (28, 28, 1))")


def test_output_units_vs_class_count():
    found = one_line(cnn(classes=5), data(classes=10))
    assert found == ("model 'cnn' has 5 output units, but the data 'digits' has 10 classes (labels 0..9): "
                     "build its last layer with 10 units")
    assert "has 12 output units" in one_line(cnn(classes=12), data(classes=10))


def test_an_output_that_is_not_one_vector_of_logits_cannot_feed_the_loss():
    found = one_line(cnn(head=False), data())
    assert found.startswith("model 'cnn' outputs shape (26, 26, 4) per example, but sparse categorical "
                            "cross-entropy on logits needs one vector of 10 class logits")


def test_a_softmax_output_is_named_since_the_loss_takes_logits():
    assert "ends in a softmax" in one_line(cnn(last_activation="softmax"), data())
    inputs = keras.Input((8,))
    probabilities = keras.layers.Softmax()(keras.layers.Dense(10)(inputs))
    cast = keras.layers.Activation("linear", dtype="float32")(probabilities)  # as lth-tf's float32 cast
    assert "ends in a softmax" in one_line(keras.Model(inputs, cast, name="p"), data((8,)))


def test_labels_out_of_range():
    splits = data(classes=10, labels=[0, 3, 10, 11, 2])
    assert one_line(cnn(), splits) == ("the data 'digits' has 2 train label(s) outside the 10 classes 0..9 "
                                       "(e.g. 11)")
    assert "(e.g. -1)" in one_line(cnn(), data(classes=10, labels=[0, -1, 4]))


def test_a_mismatch_inside_the_model_is_found_by_running_it_on_two_examples():
    inputs = keras.Input((None, None, 1))  # any size declared, but the Dense layer is built for 16x16
    x = keras.layers.Conv2D(2, 3, padding="same")(inputs)
    x = keras.layers.Reshape((-1,))(x)
    dense = keras.layers.Dense(10, name="output")
    dense.build((None, 16 * 16 * 2))
    model = keras.Model(inputs, dense(x), name="any_size")
    found = one_line(model, data((8, 8, 1)))
    assert found.startswith("model 'any_size' fails on examples of shape (8, 8, 1) from the data 'digits': ")
    assert found.endswith("Input 0 of layer \"output\" is incompatible with the layer: expected axis -1 of input "
                          "shape to have value 512, but received input with shape (2, 128)")


def test_several_inputs_or_outputs_are_named():
    a, b = keras.Input((4,)), keras.Input((4,))
    two_in = keras.Model([a, b], keras.layers.Dense(10)(keras.layers.Add()([a, b])), name="two")
    assert one_line(two_in, data((4,))) == "model 'two' takes 2 inputs; lth-tf feeds it one array of examples"
    two_out = keras.Model(a, [keras.layers.Dense(10)(a), keras.layers.Dense(10)(a)], name="heads")
    assert "has 2 outputs" in one_line(two_out, data((4,)))


@pytest.mark.parametrize("name", ["lenet_300_100", "conv2", "conv6", "resnet20"])
def test_the_model_zoo_passes_on_the_data_it_is_built_for(name):
    from lth_tf import models

    splits = data((16, 16, 3), classes=10)
    assert checks.problem(models.build(name, splits.input_shape, splits.num_classes), splits) is None
