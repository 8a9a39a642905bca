"""Forward-pass multiply-adds of the paper's networks, dense and masked, against hand counts."""

import numpy as np
import pytest

from lth_tf import masking, models
from lth_tf.reports.flops import forward_cost
from lth_tf.tfkeras import keras

# LeNet-300-100 on 28x28x1: every kernel weight is used once per example.
LENET_MACS = 784 * 300 + 300 * 100 + 100 * 10  # 266,200
# Conv-2 on 32x32x3 ('same' 3x3 convs: 32*32 output positions each), pool to 16x16x64, fc 256-256-10.
CONV2_KERNELS = [("conv1", 32 * 32, 3 * 3 * 3 * 64), ("conv2", 32 * 32, 3 * 3 * 64 * 64),
                 ("fc1", 1, 16 * 16 * 64 * 256), ("fc2", 1, 256 * 256), ("output", 1, 256 * 10)]
CONV2_MACS = 1024 * 1728 + 1024 * 36864 + 4194304 + 65536 + 2560  # 43,780,608


def masks_keeping(model, keep):
    """Masks with exactly `keep[path]` surviving weights in each masked kernel, at random places."""
    rng = np.random.default_rng(0)
    masks = {}
    for key, mask in masking.get_masks(model).items():
        flat = np.zeros(mask.size, dtype=bool)
        flat[rng.permutation(mask.size)[:keep[key]]] = True
        masks[key] = flat.reshape(mask.shape)
    return masks


def test_lenet_dense_equals_the_hand_count():
    cost = forward_cost(models.build("lenet_300_100", (28, 28, 1), 10))
    assert cost.dense_macs == cost.macs == LENET_MACS == 266_200
    assert cost.flops == 2 * 266_200
    assert cost.weights == cost.surviving_weights == 266_200
    assert cost.uncounted == ()


def test_conv2_dense_equals_the_hand_count_per_kernel():
    cost = forward_cost(models.build("conv2", (32, 32, 3), 10))
    assert [(k.path, k.positions, k.weights) for k in cost.kernels] == CONV2_KERNELS
    assert cost.dense_macs == CONV2_MACS == 43_780_608
    assert cost.weights == 4_300_992  # the paper's 4.3M


def test_masked_lenet_counts_only_surviving_multiply_adds():
    model = masking.mask_model(models.build("lenet_300_100", (28, 28, 1), 10))
    masking.set_masks(model, masks_keeping(model, {"fc1": 47_040, "fc2": 6_000, "output": 500}))
    cost = forward_cost(model, masking.get_masks(model))
    assert cost.macs == 47_040 + 6_000 + 500
    assert cost.dense_macs == LENET_MACS
    assert cost.surviving_weights == 53_540


def test_masked_conv2_counts_surviving_weights_times_their_positions():
    model = masking.mask_model(models.build("conv2", (32, 32, 3), 10))
    keep = {"conv1": 1_555, "conv2": 33_178, "fc1": 838_861, "fc2": 13_107, "output": 256}
    masking.set_masks(model, masks_keeping(model, keep))
    cost = forward_cost(model, masking.get_masks(model))
    assert cost.macs == 1024 * 1_555 + 1024 * 33_178 + 838_861 + 13_107 + 256 == 36_418_816
    assert cost.dense_macs == CONV2_MACS
    assert cost.flops == 2 * 36_418_816


def test_a_strided_convolution_counts_its_output_positions():
    inputs = keras.Input((9, 9, 2))
    outputs = keras.layers.Conv2D(8, 3, strides=2, name="conv")(inputs)  # 'valid': 4x4 outputs
    cost = forward_cost(keras.Model(inputs, outputs))
    assert cost.dense_macs == 4 * 4 * 3 * 3 * 2 * 8


def test_a_layer_shared_with_another_model_counts_once():
    shared = keras.layers.Dense(4, name="fc")
    first_in, second_in = keras.Input((3,)), keras.Input((3,))
    first = keras.Model(first_in, shared(first_in))
    keras.Model(second_in, shared(second_in))  # a second call node on the same layer
    assert forward_cost(first).dense_macs == 3 * 4


def test_nested_models_count_under_their_path_and_batch_norm_is_named_uncounted():
    inner_in = keras.Input((5,))
    encoder = keras.Model(inner_in, keras.layers.Dense(6, name="fc")(inner_in), name="encoder")
    inputs = keras.Input((5,))
    x = keras.layers.BatchNormalization(name="bn")(encoder(inputs))
    cost = forward_cost(keras.Model(inputs, keras.layers.Dense(2, name="output")(x)))
    assert [(k.path, k.weights) for k in cost.kernels] == [("encoder/fc", 30), ("output", 12)]
    assert cost.uncounted == ("bn",)


def test_masks_that_name_no_kernel_or_have_the_wrong_shape_are_refused():
    model = models.build("lenet_300_100", (28, 28, 1), 10)
    with pytest.raises(ValueError, match="fc9"):
        forward_cost(model, {"fc9": np.ones((3, 3), bool)})
    with pytest.raises(ValueError, match="shape"):
        forward_cost(model, {"fc2": np.ones((3, 3), bool)})
