"""The supermask wrapper (edge-popup): scores learn, weights never change, exactly k of each layer used."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import small_model
from lth_tf import masking
from lth_tf.models import initializers
from lth_tf.errors import UserError
from lth_tf.masking.supermask import keep_count, top_k_mask
from lth_tf.tfkeras import keras


def fit(model, splits, steps=30, learning_rate=0.5):
    model.compile(keras.optimizers.SGD(learning_rate, momentum=0.9),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
    x, y = splits.train
    model.fit(x, y, batch_size=20, epochs=1, steps_per_epoch=steps, verbose=0)


def test_top_k_mask_is_exact_and_breaks_ties_by_lower_index():
    values = tf.constant([[1.0, 2.0, 2.0], [2.0, 3.0, 0.5]])
    np.testing.assert_array_equal(top_k_mask(values, 3).numpy(), [[0, 1, 1], [0, 1, 0]])
    np.testing.assert_array_equal(top_k_mask(values, 1).numpy(), [[0, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(top_k_mask(values, 6).numpy(), np.ones((2, 3)))
    random = tf.abs(tf.random.stateless_normal([1000], seed=[1, 2]))
    expected = np.argsort(-random.numpy(), kind="stable")[:337]
    np.testing.assert_array_equal(np.flatnonzero(top_k_mask(random, 337).numpy()), np.sort(expected))


def test_scores_train_the_mask_changes_weights_stay_bitwise_and_k_per_layer_is_exact(tiny_splits):
    keras.utils.set_random_seed(0)
    plain = small_model()
    model = masking.supermask_model(plain, 0.3)
    before = {v.name: v.numpy().copy() for v in plain.weights}
    first = masking.get_masks(model)
    scores = [v.numpy().copy() for v in masking.mask_variables(model)]
    assert {v.name.split("/")[-1] for v in model.trainable_variables} == {"kernel_score:0"}

    fit(model, tiny_splits)

    after = masking.get_masks(model)
    for key, mask in after.items():
        assert mask.sum() == keep_count(mask.size, 0.3)  # exactly k of each layer
        assert first[key].sum() == mask.sum()
    assert sum((after[k] != first[k]).sum() for k in after) > 0  # the supermask moved
    assert all(not np.array_equal(a, v.numpy()) for a, v in zip(scores, masking.mask_variables(model)))
    for v in plain.weights:  # kernels and biases: bitwise as drawn
        np.testing.assert_array_equal(v.numpy(), before[v.name])


def test_forward_pass_uses_exactly_the_masked_weights_and_strips_to_a_plain_model(tiny_splits):
    keras.utils.set_random_seed(1)
    plain = small_model()
    model = masking.supermask_model(plain, 0.5)
    fit(model, tiny_splits, steps=5)
    x = tiny_splits.test[0][:16]
    masks = masking.get_masks(model)
    reference = keras.models.clone_model(plain)
    reference.set_weights(plain.get_weights())
    for key, mask in masks.items():
        kernel = reference.get_layer(key).kernel
        kernel.assign(kernel * mask)
    np.testing.assert_allclose(model(x).numpy(), reference(x).numpy(), atol=1e-5)
    stripped = masking.strip_masks(model)
    assert not masking.masked_layers(stripped)
    np.testing.assert_allclose(stripped(x).numpy(), model(x).numpy(), atol=1e-5)
    assert np.count_nonzero(stripped.get_layer("fc1").kernel.numpy()) == masks["fc1"].sum()
    assert np.count_nonzero(plain.get_layer("fc1").kernel.numpy()) == masks["fc1"].size  # untouched
    with pytest.raises(ValueError, match="scores"):
        masking.set_masks(model, masks)


def test_straight_through_gradient_matches_a_finite_difference_in_the_relaxed_mask():
    """d loss / d score = sign(score) · d loss(W ⊙ m) / d m, the derivative in the mask taken as real."""
    keras.utils.set_random_seed(2)
    inputs = keras.Input((3,))
    model = masking.supermask_model(keras.Model(inputs, keras.layers.Dense(2, name="fc")(inputs)), 0.5)
    layer = masking.masked_layers(model)[0]
    x = tf.constant(np.random.default_rng(0).normal(size=(4, 3)), tf.float32)
    y = tf.constant([0, 1, 1, 0])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x))
    (score_gradient,) = tape.gradient(loss, [layer.scores[0]])

    kernel, bias = (v.numpy().astype(np.float64) for v in (layer.layer.kernel, layer.layer.bias))
    mask = layer.current_masks()[0].astype(np.float64)

    def relaxed_loss(m):
        logits = x.numpy().astype(np.float64) @ (kernel * m) + bias
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return -log_p[np.arange(4), y.numpy()].mean()

    eps, numeric = 1e-5, np.zeros_like(mask)
    for index in np.ndindex(mask.shape):
        step = np.zeros_like(mask)
        step[index] = eps
        numeric[index] = (relaxed_loss(mask + step) - relaxed_loss(mask - step)) / (2 * eps)
    expected = np.sign(layer.scores[0].numpy()) * numeric
    np.testing.assert_allclose(score_gradient.numpy(), expected, rtol=1e-3, atol=1e-6)


def test_affine_batch_norm_is_refused_and_non_affine_kept_in_training_mode():
    inputs = keras.Input((4,))
    affine = keras.Model(inputs, keras.layers.BatchNormalization(name="bn")(keras.layers.Dense(3)(inputs)))
    with pytest.raises(UserError, match="non-affine batch norm"):
        masking.supermask_model(affine, 0.5)
    inputs = keras.Input((4,))
    bn = keras.layers.BatchNormalization(center=False, scale=False, name="bn")
    masking.supermask_model(keras.Model(inputs, bn(keras.layers.Dense(3)(inputs))), 0.5)
    assert bn.trainable and not bn.trainable_weights


def test_signed_constant_is_plus_minus_sigma_scaled_by_keep_fraction_and_becomes_the_layers_own():
    keras.utils.set_random_seed(3)
    model = small_model()
    initializers.apply(model, "signed_constant", keep_fraction=0.25)
    kernel = model.get_layer("fc1").kernel.numpy()  # fan_in 64
    np.testing.assert_allclose(np.abs(kernel), np.sqrt(2 / (64 * 0.25)), rtol=1e-6)
    assert 0.4 < (kernel > 0).mean() < 0.6
    np.testing.assert_array_equal(model.get_layer("fc1").bias.numpy(), 0)  # biases keep their own init
    redrawn = keras.models.clone_model(model).get_layer("output").kernel.numpy()  # as the reinit control does
    np.testing.assert_allclose(np.abs(redrawn), np.sqrt(2 / (16 * 0.25)), rtol=1e-6)


@pytest.mark.parametrize("name, std", [("he_normal", np.sqrt(2 / 64)), ("glorot_uniform", np.sqrt(2 / 96))])
def test_named_initializers_draw_their_variance(name, std):
    keras.utils.set_random_seed(4)
    model = small_model()
    initializers.apply(model, name)
    assert model.get_layer("fc1").kernel.numpy().std() == pytest.approx(std, rel=0.1)


def test_top_k_mask_ranks_nan_scores_lowest():
    values = tf.constant([np.nan, 1.0, 0.0, np.nan, 2.0, np.inf])
    np.testing.assert_array_equal(top_k_mask(values, 2).numpy(), [0, 0, 0, 0, 1, 1])
    np.testing.assert_array_equal(top_k_mask(values, 4).numpy(), [0, 1, 1, 0, 1, 1])  # 0.0 above NaN
    np.testing.assert_array_equal(top_k_mask(values, 5).numpy(), [1, 1, 1, 0, 1, 1])  # then NaNs by index
    np.testing.assert_array_equal(tf.function(top_k_mask, jit_compile=True)(values, 2).numpy(), [0, 0, 0, 0, 1, 1])
