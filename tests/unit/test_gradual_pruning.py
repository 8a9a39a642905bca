"""tfmot's gradual magnitude pruning as lth-tf builds it: exact per-layer counts, exact zeros,
layers left unpruned untouched, and schedules that never reach their target refused."""

import numpy as np
import pytest
import tensorflow as tf

from lth_tf import masking
from lth_tf.errors import UserError
from lth_tf.pruning import gradual
from lth_tf.tfkeras import keras


def model(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(20, activation="relu", name="fc1")(x)
    x = keras.layers.Dense(10, activation="relu", name="fc2")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="output")(x))


def test_final_per_layer_counts_equal_the_targets_and_pruned_weights_are_exactly_zero():
    plain = model()
    counts = {"conv1": 13, "fc1": 577, "output": 9}  # fc2 is left unpruned, as --unpruned-layers would
    fc2_before = plain.get_layer("fc2").kernel.numpy().copy()
    pruned = gradual.gradual_pruning(plain, counts, begin_step=0, end_step=10, frequency=2)
    assert {type(layer).__name__ for layer in pruned.layers if layer.name.endswith("fc2")} == {"Dense"}
    pruned.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16 * 14, 6, 6, 1)).astype("float32")
    y = rng.integers(0, 3, len(x))
    pruned.fit(x, y, batch_size=16, epochs=1, shuffle=False, callbacks=gradual.callbacks(), verbose=0)  # 14 steps

    masks = gradual.gradual_masks(pruned)
    assert {k: int(m.sum()) for k, m in masks.items()} == counts
    assert set(masks) <= set(masking.get_masks(masking.mask_model(model())))  # keyed like lth-tf's masks
    stripped = gradual.strip_pruning(pruned)
    for key, count in counts.items():
        kernel = stripped.get_layer(key).kernel.numpy()
        assert (kernel[~masks[key]] == 0).all()  # exactly zero, not small
        assert int(np.count_nonzero(kernel)) == count
    fc2 = stripped.get_layer("fc2").kernel.numpy()
    assert np.count_nonzero(fc2) == fc2.size and not np.array_equal(fc2, fc2_before)  # trained, never pruned


def test_final_sparsity_makes_tfmot_keep_exactly_the_count():
    """Checked against TensorFlow's own float32 arithmetic, as tfmot computes k."""
    cases = [(10, 5), (10, 1), (10, 10), (235200, 49563), (235200, 3387), (4300992, 60213),
             (2359296, 2359295), (2359296, 23593), (2**23 - 1, 2**23 - 2), (2**23 - 1, 5112565), (2**23 - 1, 1), (999, 333), (7, 3)]
    for size, count in cases:
        s = gradual.final_sparsity(count, size)
        k = tf.maximum(tf.math.round(tf.cast(size, tf.float32) * (1 - tf.constant(s, tf.float32))), 1)
        assert int(k.numpy()) == count, (size, count, s)
    with pytest.raises(UserError):
        gradual.final_sparsity(0, 10)
    with pytest.raises(UserError, match="float32"):  # past 2**23 weights not every count is reachable
        gradual.final_sparsity(5112565, 9999991)


@pytest.mark.parametrize("begin, end, frequency, message", [
    (0, 1200, 100, "past the budget of 1000"),
    (0, 950, 100, "never applies its final sparsity"),
    (500, 500, 100, "must begin before it ends"),
    (-100, 500, 100, "must begin before it ends"),
    (0, 500, 0, "at least 1 step"),
])
def test_schedules_that_miss_their_target_within_the_budget_are_refused(begin, end, frequency, message):
    with pytest.raises(UserError, match=message):
        gradual.check_schedule(begin, end, frequency, iterations=1000)
    gradual.check_schedule(100, 900, 100, iterations=1000)


def test_uniform_counts_give_every_layer_the_total_fraction():
    masks = {"a": np.r_[np.ones(30), np.zeros(70)].astype(bool), "b": np.r_[np.ones(10), np.zeros(0)].astype(bool)}
    assert gradual.uniform_counts(masks) == {"a": 36, "b": 4}  # 40 of 110 remaining: 36.4% each
