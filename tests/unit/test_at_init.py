"""Masks drawn at initialization: SNIP, GraSP and SynFlow against independent computations,
exact counts, SynFlow's schedule, and the sanity checks (shuffle, inversion)."""

import numpy as np
import pytest
import tensorflow as tf

from lth_tf import masking
from lth_tf.errors import UserError
from lth_tf.pruning import at_init
from lth_tf.tfkeras import keras

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def mlp(seed=0, softmax=False, bias=False):
    """8 -> 6 (ReLU) -> 5 (ReLU) -> 3 logits, Glorot normal; biases zero unless `bias`."""
    keras.utils.set_random_seed(seed)
    init = "random_normal" if bias else "zeros"
    inputs = keras.Input((8,))
    x = keras.layers.Dense(6, activation="relu", name="fc1", bias_initializer=init, kernel_initializer="glorot_normal")(inputs)
    x = keras.layers.Dense(5, activation="relu", name="fc2", bias_initializer=init, kernel_initializer="glorot_normal")(x)
    out = keras.layers.Dense(3, activation="softmax" if softmax else None, name="output", bias_initializer=init,
                             kernel_initializer="glorot_normal")(x)
    return keras.Model(inputs, out)


def small_conv(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(3, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="output")(x))


def batch(n=30, features=(8,), seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, *features)).astype("float32"), np.arange(n) % 3


def kernels(model):
    return {layer.name: layer.kernel for layer in model.layers if hasattr(layer, "kernel")}


def independent_loss(model, x, y, temperature=1.0):
    logits = model(x, training=False) / temperature
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))


@pytest.mark.parametrize("make, features", [(mlp, (8,)), (small_conv, (6, 6, 1))])
def test_snip_scores_equal_abs_gradient_times_weight_of_a_plain_tape(make, features):
    plain = make()
    masked = masking.mask_model(plain)  # shares the plain model's layers, so the same θ
    x, y = batch(features=features)
    with tf.GradientTape() as tape:
        value = independent_loss(plain, x, y)
    named = kernels(plain)
    grads = dict(zip(named, tape.gradient(value, list(named.values()))))
    expected = {k: np.abs(grads[k].numpy() * named[k].numpy()) for k in named}
    scores = at_init.snip_scores(masked, x, y, loss=LOSS)
    assert set(scores) == set(expected)
    for key in expected:
        np.testing.assert_allclose(scores[key], expected[key], rtol=1e-5, atol=1e-9)


def test_snip_uses_the_compiled_loss_and_refuses_a_model_without_one():
    masked = masking.mask_model(mlp())
    x, y = batch()
    with pytest.raises(UserError, match="has none"):
        at_init.snip_scores(masked, x, y)
    masked.compile(loss=LOSS)
    assert sum(s.sum() for s in at_init.snip_scores(masked, x, y).values()) > 0


def test_grasp_scores_equal_theta_times_hessian_gradient_of_a_full_hessian():
    plain = mlp(seed=1, bias=True)
    masked = masking.mask_model(plain)
    x, y = batch(seed=1)
    named = kernels(plain)
    variables = list(named.values())
    # The whole Hessian of the tempered loss over the concatenated kernels, by jacobian.
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            value = independent_loss(plain, x, y, temperature=200.0)
        g = tf.concat([tf.reshape(t, [-1]) for t in inner.gradient(value, variables)], 0)
    hessian = tf.concat([tf.reshape(j, [g.shape[0], -1]) for j in outer.jacobian(g, variables)], 1).numpy()
    hg = hessian.astype(np.float64) @ g.numpy().astype(np.float64)
    theta = np.concatenate([v.numpy().reshape(-1) for v in variables])
    expected = theta * hg
    scores = at_init.grasp_scores(masked, x, y, loss=LOSS)
    ours = np.concatenate([scores[k].reshape(-1) for k in named])
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(ours, expected, rtol=1e-3, atol=1e-4 * np.abs(expected).max())


def test_grasp_keeps_the_requested_count_and_the_highest_theta_hg():
    masked = masking.mask_model(mlp(seed=2))
    x, y = batch(seed=2)
    scores = at_init.grasp_scores(masked, x, y, loss=LOSS)
    for count in (1, 17, 40, 63):
        kept = at_init.grasp(masked, count, (x, y), loss=LOSS)
        assert sum(int(m.sum()) for m in kept.values()) == count
        flat_kept = np.concatenate([kept[k].reshape(-1) for k in scores])
        flat = np.concatenate([scores[k].reshape(-1) for k in scores])
        assert flat[flat_kept].min() >= flat[~flat_kept].max()  # the authors' lowest -θ⊙Hg
    per_layer = {"fc1": 20, "fc2": 4, "output": 15}
    kept = at_init.grasp(masked, per_layer, (x, y), loss=LOSS)
    assert {k: int(m.sum()) for k, m in kept.items()} == per_layer


def test_grasp_refuses_a_loss_on_probabilities():
    masked = masking.mask_model(mlp(softmax=True))
    with pytest.raises(UserError, match="logits"):
        at_init.grasp_scores(masked, *batch(), loss=keras.losses.SparseCategoricalCrossentropy())


def test_synflow_scores_are_the_path_products_of_the_absolute_network():
    """Ones in, every weight and bias made positive: ReLU is the identity, R = 1ᵀ(|W1|…)."""
    plain = mlp(seed=3, bias=True)
    masked = masking.mask_model(plain)
    layers = [plain.get_layer(n) for n in ("fc1", "fc2", "output")]
    w = [np.abs(layer.kernel.numpy()).astype(np.float64) for layer in layers]
    b = [np.abs(layer.bias.numpy()).astype(np.float64) for layer in layers]
    before = [v.numpy().copy() for v in plain.weights]
    h0 = np.ones(8)
    h1 = h0 @ w[0] + b[0]
    h2 = h1 @ w[1] + b[1]
    down2 = np.ones(3)  # ∂R/∂(output units)
    down1 = w[2] @ down2  # ∂R/∂h2
    down0 = w[1] @ down1  # ∂R/∂h1
    expected = {
        "fc1": w[0] * np.outer(h0, down0),
        "fc2": w[1] * np.outer(h1, down1),
        "output": w[2] * np.outer(h2, down2),
    }
    scores = at_init.synflow_scores(masked)
    for key in expected:
        np.testing.assert_allclose(scores[key], expected[key], rtol=1e-5)
        assert (scores[key] > 0).all()
    for variable, value in zip(plain.weights, before):  # signs restored
        np.testing.assert_array_equal(variable.numpy(), value)


def test_synflow_reads_no_data_and_its_masks_keep_the_exact_count():
    masked = masking.mask_model(mlp(seed=4))
    one = at_init.synflow(masked, 25, batch=batch(seed=0), iterations=20)
    other = at_init.synflow(masked, 25, batch=batch(seed=9), iterations=20)
    for key in one:
        np.testing.assert_array_equal(one[key], other[key])
    total = sum(m.size for m in masking.get_masks(masked).values())
    for count in (1, 2, 7, 25, 49, total - 1, total):
        kept = at_init.synflow(masked, count, iterations=100)
        assert sum(int(m.sum()) for m in kept.values()) == count
    per_layer = {"fc1": 11, "fc2": 3, "output": 14}
    kept = at_init.synflow(masked, per_layer, iterations=10)
    assert {k: int(m.sum()) for k, m in kept.items()} == per_layer
    assert all(m.all() for m in masking.get_masks(masked).values())  # the model's masks are left as they were


def test_synflow_schedule_is_exponential_and_ends_on_the_count():
    alive = {"a": np.ones(1000, bool), "b": np.ones(10, bool)}
    steps = at_init.exponential_schedule(alive, 10, iterations=100)
    assert len(steps) == 100 and steps[-1] == 10
    assert all(x >= y for x, y in zip(steps, steps[1:]))
    density = 10 / 1010
    for k in (1, 25, 50, 99):
        assert steps[k - 1] == int(np.floor(1010 * density ** (k / 100) + 0.5))
    per_layer = at_init.exponential_schedule(alive, {"a": 100, "b": 10}, iterations=4)
    assert [s["a"] for s in per_layer] == [562, 316, 178, 100] and all(s["b"] == 10 for s in per_layer)
    with pytest.raises(UserError):
        at_init.exponential_schedule(alive, 10, iterations=0)


def test_synflow_is_iterated_not_one_shot():
    """At high sparsity the rescoring changes the mask (the reason SynFlow iterates)."""
    masked = masking.mask_model(mlp(seed=5))
    one_shot = at_init.synflow(masked, 8, iterations=1)
    iterated = at_init.synflow(masked, 8, iterations=100)
    assert any((one_shot[k] != iterated[k]).any() for k in one_shot)


def test_synflow_refuses_a_softmax_output():
    with pytest.raises(UserError, match="all zero or noise"):
        at_init.synflow(masking.mask_model(mlp(softmax=True)), 10)


def test_layerwise_shuffle_keeps_each_layers_count_and_moves_the_weights():
    masked = masking.mask_model(mlp(seed=6))
    masks = at_init.synflow(masked, 30, iterations=10)
    shuffled = at_init.layerwise_shuffle(masks, np.random.default_rng(0))
    assert {k: int(m.sum()) for k, m in shuffled.items()} == {k: int(m.sum()) for k, m in masks.items()}
    assert any((shuffled[k] != masks[k]).any() for k in masks)
    again = at_init.layerwise_shuffle(masks, np.random.default_rng(0))
    assert all((again[k] == shuffled[k]).all() for k in masks)  # seeded


@pytest.mark.parametrize("method", ["snip", "grasp", "synflow"])
def test_inversion_keeps_the_lowest_scores(method):
    masked = masking.mask_model(mlp(seed=7))
    x, y = batch(seed=7)
    scores = {"snip": lambda: at_init.snip_scores(masked, x, y, LOSS),
              "grasp": lambda: at_init.grasp_scores(masked, x, y, LOSS),
              "synflow": lambda: at_init.synflow_scores(masked)}[method]()
    kept = at_init.METHODS.lookup(method).draw(masked, 20, (x, y), LOSS, invert=True,
                                               **({"iterations": 1} if method == "synflow" else {}))
    flat = np.concatenate([scores[k].reshape(-1) for k in scores])
    flat_kept = np.concatenate([kept[k].reshape(-1) for k in scores])
    assert flat_kept.sum() == 20 and flat[flat_kept].max() <= flat[~flat_kept].min()


def test_inverted_synflow_keeps_the_count_at_every_iteration():
    masked = masking.mask_model(mlp(seed=8))
    kept = at_init.synflow(masked, 12, invert=True, iterations=30)
    assert sum(int(m.sum()) for m in kept.values()) == 12


def test_scoring_batch_is_class_balanced_and_seeded():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype("float32")
    y = rng.integers(0, 4, 200)
    bx, by = at_init.scoring_batch(x, y, 10, np.random.default_rng(1))
    assert np.bincount(by).tolist() == [10, 10, 10, 10]
    assert all(any((row == x[i]).all() and y[i] == label for i in range(200)) for row, label in zip(bx, by))
    same = at_init.scoring_batch(x, y, 10, np.random.default_rng(1))
    other = at_init.scoring_batch(x, y, 10, np.random.default_rng(2))
    np.testing.assert_array_equal(bx, same[0])
    assert not np.array_equal(bx, other[0])
    with pytest.raises(UserError, match="class 4 has 0"):
        at_init.scoring_batch(x, y, 10, np.random.default_rng(1), num_classes=5)


def test_target_counts_match_a_tickets_total_or_layers():
    masks = {"fc1": np.array([1, 0, 1, 1], bool), "output": np.array([0, 1], bool)}
    assert at_init.target_counts(masks, "global") == 4
    assert at_init.target_counts(masks, "layerwise") == {"fc1": 3, "output": 1}
    with pytest.raises(UserError, match="unknown mask scope"):
        at_init.target_counts(masks, "per_block")
    with pytest.raises(UserError, match="unknown mask-drawing method 'snipp'"):
        at_init.METHODS.lookup("snipp")
