"""The straight path between two trained copies of one masked network, and its error barrier."""

import numpy as np
import pytest

from conftest import small_model
from lth_tf import masking
from lth_tf.training import interpolation
from lth_tf.training import loop as training, weights
from lth_tf.training.callbacks import StartFrom
from lth_tf.settings import build_config
from lth_tf.tfkeras import keras

HPARAMS = build_config({"iterations": 40, "eval_interval": 20, "batch_size": 30}).training


def train_two_copies(model, splits):
    """Two copies trained from the model's current weights (under its mask) with different seeds."""
    start = weights.take(model)
    copies = []
    for seed in (1, 2):
        history = training.train_round(model, splits, HPARAMS, seed=seed, callbacks=[StartFrom(start)])
        copies.append((weights.take(model), history))
    return copies


@pytest.fixture(scope="module")
def masked_copies(tiny_splits):
    model = masking.mask_model(small_model())
    rng = np.random.default_rng(0)
    masks = {k: rng.random(m.shape) < 0.5 for k, m in masking.get_masks(model).items()}
    masking.set_masks(model, masks)
    return model, masks, train_two_copies(model, tiny_splits)


def splits_of(tiny_splits):
    return {"train": tiny_splits.train, "test": tiny_splits.test}


def test_endpoints_are_the_two_networks_own_evaluations(masked_copies, tiny_splits):
    model, _, [(a, history_a), (b, history_b)] = masked_copies
    path = interpolation.evaluate_path(model, a, b, splits_of(tiny_splits), count=5)
    np.testing.assert_array_equal(path.alphas, [0.0, 0.25, 0.5, 0.75, 1.0])
    # What each round itself reported at its end: PeriodicEvaluation's test accuracy, train_round's train accuracy.
    assert path.errors["test"][0] == 1.0 - history_a.final["test_accuracy"]
    assert path.errors["test"][-1] == 1.0 - history_b.final["test_accuracy"]
    assert path.errors["train"][0] == 1.0 - history_a.final_train_accuracy
    assert path.errors["train"][-1] == 1.0 - history_b.final_train_accuracy
    assert not all(np.array_equal(x, y) for x, y in zip(a, b)), "the copies did not differ"
    barriers = path.barriers()
    for split, errors in path.errors.items():
        assert barriers[split] == pytest.approx(errors.max() - (errors[0] + errors[-1]) / 2)
        assert barriers[split] >= abs(errors[0] - errors[-1]) / 2  # the max includes the endpoints


def test_a_network_interpolated_with_itself_has_barrier_zero(masked_copies, tiny_splits):
    model, _, [(a, _), _] = masked_copies
    for _, snapshot in interpolation.points(a, a, 7):
        assert all(np.array_equal(x, y) for x, y in zip(snapshot, a))
    path = interpolation.evaluate_path(model, a, a, splits_of(tiny_splits), count=7)
    assert path.barriers() == {"train": 0.0, "test": 0.0}
    assert len(set(path.errors["test"])) == 1


def test_pruned_weights_stay_exactly_zero_along_the_whole_path(masked_copies):
    model, masks, [(a, _), (b, _)] = masked_copies
    own = weights.take(model)
    start, end = weights.prunable_part(model, a), weights.prunable_part(model, b)
    for alpha, snapshot in interpolation.points(a, b, interpolation.POINTS):
        values = weights.prunable_part(model, snapshot)
        weights.restore(model, snapshot)
        in_model = {k: v.numpy() for k, v in masking.prunable_weights(model).items()}
        for key, mask in masks.items():
            assert np.count_nonzero(values[key][~mask]) == 0 and np.count_nonzero(in_model[key][~mask]) == 0
            expected = start[key] + alpha * (end[key].astype(np.float64) - start[key])
            np.testing.assert_allclose(in_model[key][mask], expected[mask], rtol=1e-6, atol=1e-7)
    weights.restore(model, own)


def test_evaluating_a_path_puts_the_models_own_weights_back(masked_copies, tiny_splits):
    model, masks, [(a, _), (b, _)] = masked_copies
    before = weights.take(model)
    interpolation.evaluate_path(model, a, b, splits_of(tiny_splits), count=3)
    assert all(np.array_equal(x, y) for x, y in zip(weights.take(model), before))
    assert all(np.array_equal(masking.get_masks(model)[k], m) for k, m in masks.items())


def test_batchnorm_statistics_are_interpolated_and_used_in_inference_mode(tiny_splits):
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(16, name="fc1")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU()(x)
    model = masking.mask_model(keras.Model(inputs, keras.layers.Dense(4, name="output")(x)))
    [(a, _), (b, _)] = train_two_copies(model, tiny_splits)
    bn = model.get_layer("bn")
    index = [v.ref() for v in weights.network_variables(model)].index(bn.moving_mean.ref())
    assert not np.array_equal(a[index], b[index]), "training did not move the statistics"
    _, middle = list(interpolation.points(a, b, 3))[1]
    np.testing.assert_allclose(middle[index], (a[index] + b[index]) / 2, rtol=1e-6)

    path = interpolation.evaluate_path(model, a, b, {"test": tiny_splits.test}, count=3)
    x_test, y_test = tiny_splits.test
    for snapshot, error in zip((a, middle, b), path.errors["test"]):
        weights.restore(model, snapshot)  # Keras's own inference-mode evaluation of the same weights
        accuracy = model.evaluate(x_test, y_test, batch_size=len(y_test), verbose=0, return_dict=True)["accuracy"]
        assert abs((1.0 - error) - accuracy) <= 1.0 / len(y_test)


def test_barrier_arithmetic_and_bad_paths():
    path = interpolation.Path(np.linspace(0, 1, 4), {"test": np.array([0.10, 0.16, 0.13, 0.12])}, {})
    assert path.barrier("test") == pytest.approx(0.16 - 0.11)
    assert not path.stable("test")  # 5 points above the endpoints' mean: over the paper's 2%
    assert interpolation.Path(path.alphas, {"test": np.array([0.1, 0.11, 0.1, 0.1])}, {}).stable("test")
    with pytest.raises(ValueError, match="at least 2"):
        list(interpolation.points([np.zeros(2)], [np.zeros(2)], 1))
    with pytest.raises(ValueError, match="not one network"):
        list(interpolation.points([np.zeros(2)], [np.zeros(2), np.zeros(1)], 3))
