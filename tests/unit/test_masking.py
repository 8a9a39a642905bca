"""Masks: pruned weights never contribute, never move, and strip to plain zeros."""

import numpy as np
import pytest

from conftest import small_model
from lth_tf import masking
from lth_tf.errors import UserError
from lth_tf.tfkeras import keras
from tensorflow_model_optimization.python.core.sparsity.keras import prunable_layer


def random_masks(model, keep=0.5, seed=1):
    rng = np.random.default_rng(seed)
    return {k: rng.random(m.shape) < keep for k, m in masking.get_masks(model).items()}


def test_wraps_prunable_layers_and_keeps_their_weights():
    plain = small_model()
    before = plain.get_layer("fc1").kernel.numpy().copy()
    model = masking.mask_model(plain)
    assert [layer.layer.name for layer in masking.masked_layers(model)] == ["fc1", "fc2", "output"]
    assert set(masking.get_masks(model)) == {"fc1", "fc2", "output"}
    assert all(m.all() for m in masking.get_masks(model).values())
    np.testing.assert_array_equal(masking.prunable_weights(model)["fc1"].numpy(), before)
    masks = {v.name for v in masking.mask_variables(model)}
    assert masks.isdisjoint({v.name for v in model.trainable_weights})


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: keras.optimizers.Adam(1e-2, weight_decay=1e-2),
        lambda: keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    ],
    ids=["adamw", "sgd-momentum"],
)
@pytest.mark.parametrize("jit", [True, False], ids=["xla", "eager-graph"])
def test_pruned_weights_stay_exactly_zero_through_training(tiny_splits, optimizer, jit):
    model = masking.mask_model(small_model())
    masks = random_masks(model)
    masking.set_masks(model, masks)
    before = {k: v.numpy().copy() for k, v in masking.prunable_weights(model).items()}
    model.compile(optimizer(), keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=jit)
    model.fit(*tiny_splits.train, batch_size=30, epochs=3, verbose=0)
    for key, weight in masking.prunable_weights(model).items():
        w = weight.numpy()
        assert np.count_nonzero(w[~masks[key]]) == 0, key
        assert np.mean(w[masks[key]] != before[key][masks[key]]) > 0.5, f"{key}: survivors did not train"
    # The optimizer's slots (Adam moments, momentum) for pruned weights stay zero too.
    slots = 0
    for variable in model.optimizer.variables:
        for key, weight in masking.prunable_weights(model).items():
            if tuple(variable.shape) == tuple(weight.shape) and f"/{key}/kernel" in variable.name:
                assert np.count_nonzero(variable.numpy()[~masks[key]]) == 0, variable.name
                slots += 1
    assert slots >= 3


def test_gradient_of_pruned_weights_is_zero(tiny_splits):
    import tensorflow as tf

    model = masking.mask_model(small_model())
    masks = random_masks(model)
    masking.set_masks(model, masks)
    x, y = tiny_splits.train
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y[:50], model(x[:50]))
    weights = masking.prunable_weights(model)
    grads = tape.gradient(loss, list(weights.values()))
    for (key, _), grad in zip(weights.items(), grads):
        assert np.count_nonzero(grad.numpy()[~masks[key]]) == 0
        assert np.count_nonzero(grad.numpy()[masks[key]]) > 0


def test_set_masks_zeroes_pruned_weights_and_pruned_weights_do_not_contribute(tiny_splits):
    model = masking.mask_model(small_model())
    masks = random_masks(model)
    masking.set_masks(model, masks)
    x = tiny_splits.test[0][:20]
    out = model.predict(x, verbose=0)
    # A model with the same surviving weights built independently gives the same output.
    reference = small_model()
    for key, weight in masking.prunable_weights(model).items():
        assert np.count_nonzero(weight.numpy()[~masks[key]]) == 0
    reference.set_weights(masking.strip_masks(model).get_weights())
    np.testing.assert_allclose(reference.predict(x, verbose=0), out, rtol=1e-6)


def test_masks_round_trip_as_bool_arrays():
    model = masking.mask_model(small_model())
    masks = random_masks(model, keep=0.3)
    masking.set_masks(model, masks)
    read = masking.get_masks(model)
    assert read.keys() == masks.keys()
    for key in masks:
        assert read[key].dtype == bool
        np.testing.assert_array_equal(read[key], masks[key])
    with pytest.raises(ValueError, match="shape"):
        masking.set_masks(model, {"fc1": np.ones((3, 3), bool)})
    with pytest.raises(ValueError, match="nope"):
        masking.set_masks(model, {"nope": np.ones((3, 3), bool)})


def test_strip_gives_plain_model_with_zeros(tiny_splits):
    model = masking.mask_model(small_model())
    masks = random_masks(model)
    masking.set_masks(model, masks)
    stripped = masking.strip_masks(model)
    assert not any(isinstance(layer, masking.MaskedLayer) for layer in stripped.layers)
    assert len(stripped.weights) == len(small_model().weights)
    assert np.count_nonzero(stripped.get_layer("fc1").kernel.numpy()[~masks["fc1"]]) == 0
    assert np.count_nonzero(stripped.get_layer("fc2").kernel.numpy()[~masks["fc2"]]) == 0
    x = tiny_splits.test[0][:10]
    np.testing.assert_allclose(stripped.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_conv_layers_are_masked_and_unpruned_layers_left_alone():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(3, name="output")(x)
    model = masking.mask_model(keras.Model(inputs, outputs), unpruned_layers=["output"])
    assert list(masking.get_masks(model)) == ["conv"]
    assert masking.get_masks(model)["conv"].shape == (3, 3, 1, 4)


def test_custom_layer_opts_in_through_tfmot_prunable_layer():
    class Scale(keras.layers.Layer, prunable_layer.PrunableLayer):
        def build(self, input_shape):
            self.w = self.add_weight("w", shape=(input_shape[-1], 2))

        def call(self, x):
            return x @ self.w

        def get_prunable_weights(self):
            return [self.w]

    inputs = keras.Input((5,))
    model = masking.mask_model(keras.Model(inputs, Scale(name="scale")(inputs)))
    assert list(masking.get_masks(model)) == ["scale"]


def test_unsupported_layer_is_named_with_what_to_do():
    class Custom(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight("w", shape=(input_shape[-1], 2))

        def call(self, x):
            return x @ self.w

    inputs = keras.Input((5,))
    with pytest.raises(UserError, match=r"'mystery' \(Custom\) is not prunable.*PrunableLayer"):
        masking.mask_model(keras.Model(inputs, Custom(name="mystery")(inputs)))


def test_subclassed_and_keras3_models_get_clear_errors():
    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(2)

        def call(self, x):
            return self.d(x)

    with pytest.raises(UserError, match="subclassed"):
        masking.mask_model(Sub())
    with pytest.raises(UserError, match="Keras 2"):
        masking.mask_model(object())
