"""Controls build what they claim and criteria rank as they say (the pipeline that runs them:
tests/integration/test_controls.py)."""

import numpy as np
import pytest

from lth_tf import masking
from lth_tf.pruning import criteria, counts as pruning
from lth_tf.training import weights
from lth_tf.tfkeras import keras
from pipelines import controls


def context(model, round_=1, noise_scale=0.5, rewind=None, pruned_from=None):
    """A round's context with a random 30%-remaining ticket mask on a seeded model."""
    initial = weights.take(model)
    rng = np.random.default_rng(1)
    masks = {k: rng.random(m.shape) < 0.3 for k, m in masking.get_masks(model).items()}
    return controls.RoundContext(model, round_, seed=0, masks=masks, initial=initial,
                                 pruned_from=pruned_from or initial, rewind=rewind, noise_scale=noise_scale)


def seeded_model(initializer="glorot_normal"):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((64,))
    x = keras.layers.Dense(256, activation="relu", name="fc1", kernel_initializer=initializer)(inputs)
    outputs = keras.layers.Dense(10, name="output", kernel_initializer=initializer)(x)
    return masking.mask_model(keras.Model(inputs, outputs))


@pytest.mark.parametrize("initializer, expected_std, bound", [
    ("glorot_normal", np.sqrt(2 / (64 + 256)), None),  # fan-in 64, fan-out 256
    ("he_uniform", np.sqrt(6 / 64) / np.sqrt(3), np.sqrt(6 / 64)),  # uniform(-limit, limit)
])
def test_reinit_keeps_the_mask_and_redraws_from_the_models_own_initializer(initializer, expected_std, bound):
    model = seeded_model(initializer)
    ctx = context(model)
    start = controls.get("reinit")(ctx)
    assert start.masks is ctx.masks
    fresh = weights.prunable_part(model, start.weights)["fc1"]
    theta0 = weights.prunable_part(model, ctx.initial)["fc1"]
    assert not np.isclose(fresh, theta0).any(), "re-initialized weights must not be θ0"
    assert np.std(fresh) == pytest.approx(expected_std, rel=0.05)
    if bound is not None:
        assert np.abs(fresh).max() <= bound
    again = controls.get("reinit")(ctx)
    np.testing.assert_array_equal(weights.prunable_part(model, again.weights)["fc1"], fresh)  # own fixed seed
    other_round = controls.get("reinit")(context(model, round_=2))
    assert not np.array_equal(weights.prunable_part(model, other_round.weights)["fc1"], fresh)


def test_random_prune_keeps_per_layer_counts_on_theta0_with_another_mask():
    model = seeded_model()
    ctx = context(model)
    start = controls.get("random_prune")(ctx)
    assert start.weights is ctx.initial
    for key, ticket in ctx.masks.items():
        assert start.masks[key].shape == ticket.shape and start.masks[key].sum() == ticket.sum()
        assert (start.masks[key] != ticket).any()


def test_prune_at_init_keeps_the_largest_theta0_with_the_tickets_counts_and_trains_from_theta0():
    model = seeded_model()
    ctx = context(model)
    start = controls.get("prune_at_init")(ctx)
    assert start.weights is ctx.initial and start.step == 0
    theta0 = weights.prunable_part(model, ctx.initial)
    for key, ticket in ctx.masks.items():
        kept = start.masks[key]
        assert kept.sum() == ticket.sum()
        assert np.abs(theta0[key][kept]).min() >= np.abs(theta0[key][~kept]).max()


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_noise_perturbs_the_masked_weights_by_scale_times_each_layers_sigma(scale):
    model = seeded_model()
    ctx = context(model, noise_scale=scale)
    start = controls.get("noise")(ctx)
    assert start.masks is ctx.masks
    theta0, noisy = weights.prunable_part(model, ctx.initial), weights.prunable_part(model, start.weights)
    for key in theta0:
        difference = noisy[key] - theta0[key]
        assert np.std(difference) == pytest.approx(scale * np.std(theta0[key]), rel=0.1)
        assert abs(np.mean(difference)) < 0.1 * scale * np.std(theta0[key])
    # Unmasked weights (the biases) are not perturbed.
    masked_refs = {v.ref() for v in masking.prunable_weights(model).values()}
    for variable, before, after in zip(weights.network_variables(model), ctx.initial, start.weights):
        if variable.ref() not in masked_refs:
            np.testing.assert_array_equal(before, after)


def test_rewind_starts_from_the_recorded_theta_k_and_needs_it():
    model = seeded_model()
    theta_k = [w * 3.0 for w in weights.take(model)]
    assert controls.get("rewind")(context(model, rewind=theta_k)).weights is theta_k
    with pytest.raises(ValueError, match="θk"):
        controls.get("rewind")(context(model))


def test_each_criterion_ranks_a_handcrafted_case():
    initial = np.array([0.1, -0.5, 0.3, -0.2, 0.05])
    final = np.array([0.6, -0.4, 0.0, 0.2, -0.3])
    rng = np.random.default_rng(0)
    # magnitude |final|: 0.6, 0.4, 0.0, 0.2, 0.3
    assert list(np.argsort(-criteria.get("magnitude")(final, initial, rng))) == [0, 1, 4, 3, 2]
    # movement |final - initial|: 0.5, 0.1, 0.3, 0.4, 0.35
    assert list(np.argsort(-criteria.get("movement")(final, initial, rng))) == [0, 3, 4, 2, 1]
    # magnitude increase |final| - |initial|: 0.5, -0.1, -0.3, 0.0, 0.25
    assert list(np.argsort(-criteria.get("magnitude_increase")(final, initial, rng))) == [0, 4, 3, 1, 2]
    masks = {"w": np.ones(5, bool)}
    kept = pruning.prune_layerwise({"w": criteria.get("movement")(final, initial, rng)}, masks, {"w": 0.4}, 1)
    np.testing.assert_array_equal(kept["w"], [True, False, False, True, True])


def test_random_criterion_ignores_the_weights_and_is_seeded():
    final = np.arange(1000.0)
    first = criteria.get("random")(final, final, np.random.default_rng(3))
    np.testing.assert_array_equal(first, criteria.get("random")(-final, final, np.random.default_rng(3)))
    assert abs(np.corrcoef(first, final)[0, 1]) < 0.1
