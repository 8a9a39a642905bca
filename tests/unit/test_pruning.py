"""Pruning: exact counts per rate, the tie rule, nesting, global ranking, one-shot = iterative."""

import numpy as np
import pytest

from conftest import small_model
from lth_tf import masking
from lth_tf.pruning import counts as pruning
from lth_tf.training import weights
from lth_tf.settings import build_config
from pipelines.experiments import trial


def test_surviving_count_follows_the_documented_rounding():
    assert pruning.surviving_count(1000, 0.2, 0) == 1000
    assert pruning.surviving_count(1000, 0.2, 1) == 800
    assert pruning.surviving_count(1000, 0.2, 3) == 512
    assert pruning.surviving_count(10, 0.25, 1) == 8  # 7.5 rounds half up
    assert pruning.surviving_count(266200, 0.2, 7) == round(266200 * 0.8**7)


def test_keep_top_keeps_highest_scores_and_breaks_ties_by_lower_index():
    scores = np.array([[5.0, 1.0, 3.0], [3.0, 3.0, 0.5]])
    mask = np.ones_like(scores, dtype=bool)
    kept = pruning.keep_top(scores, mask, 3)
    # 5.0 is kept; of the three 3.0s the two with lower flat index (2 and 3) are kept.
    np.testing.assert_array_equal(kept, [[True, False, True], [True, False, False]])


def test_selection_keeps_exactly_what_a_stable_full_sort_keeps():
    rng = np.random.default_rng(3)
    for size, count in [(1, 1), (7, 0), (50, 50), (200, 37), (1000, 999), (1000, 500)]:
        scores = rng.integers(0, 4, size).astype(np.float32)  # many ties
        mask = rng.random(size) < 0.8
        mask[:count] = True  # enough survivors
        flat = np.where(mask, scores.astype(np.float64), -np.inf)
        expected = np.zeros(size, bool)
        expected[np.argsort(-flat, kind="stable")[:count]] = True
        np.testing.assert_array_equal(pruning.keep_top(scores, mask, count), expected)


def test_nan_scores_rank_below_every_number_and_never_revive_pruned_weights():
    scores = np.array([np.nan, 1.0, np.nan, -5.0, 9.0])
    mask = np.array([True, True, True, True, False])
    np.testing.assert_array_equal(pruning.keep_top(scores, mask, 3), [True, True, False, True, False])


def test_pruned_weights_never_come_back():
    rng = np.random.default_rng(0)
    mask = rng.random(100) < 0.5
    scores = rng.random(100)
    scores[~mask] = 100.0  # pruned weights with huge scores must stay pruned
    kept = pruning.keep_top(scores, mask, 20)
    assert kept.sum() == 20 and not (kept & ~mask).any()
    with pytest.raises(ValueError):
        pruning.keep_top(scores, mask, int(mask.sum()) + 1)


def test_layerwise_counts_match_each_layers_rate_every_round():
    rng = np.random.default_rng(1)
    shapes = {"fc1": (64, 32), "fc2": (32, 16), "output": (16, 4)}
    rates = {"fc1": 0.2, "fc2": 0.2, "output": 0.1}
    masks = {k: np.ones(s, bool) for k, s in shapes.items()}
    for round_ in range(1, 6):
        previous = masks
        masks = pruning.prune_layerwise({k: rng.normal(size=s) for k, s in shapes.items()}, masks, rates, round_)
        for key, shape in shapes.items():
            n0 = int(np.prod(shape))
            assert masks[key].sum() == int(np.floor(n0 * (1 - rates[key]) ** round_ + 0.5))
            assert not (masks[key] & ~previous[key]).any(), "masks must be nested"


def test_magnitude_pruning_removes_the_smallest_weights():
    weights = np.array([0.5, -0.05, 0.3, -0.9, 0.01, 0.2, -0.4, 0.1, 0.6, -0.02])
    from lth_tf.pruning import criteria

    kept = pruning.prune_layerwise({"w": criteria.get("magnitude")(weights, weights, None)},
                                   {"w": np.ones(10, bool)}, {"w": 0.2}, 1)["w"]
    assert set(np.flatnonzero(~kept)) == {4, 9}  # |0.01| and |-0.02|


def test_global_strategy_ranks_all_layers_together():
    scores = {"a": np.array([1.0, 2.0, 3.0, 4.0]), "b": np.array([10.0, 20.0, 30.0, 40.0, 50.0, 60.0])}
    masks = {k: np.ones_like(v, bool) for k, v in scores.items()}
    kept = pruning.prune_global(scores, masks, 0.5, 1)
    assert kept["a"].sum() == 0 and kept["b"].sum() == 5
    assert sum(m.sum() for m in kept.values()) == pruning.surviving_count(10, 0.5, 1)


def test_one_shot_and_iterative_reach_the_same_counts():
    rng = np.random.default_rng(2)
    shapes = {"fc1": (50, 40), "output": (40, 10)}
    rates = {"fc1": 0.2, "output": 0.1}
    dense = {k: np.ones(s, bool) for k, s in shapes.items()}
    iterative = dense
    for round_ in range(1, 8):
        iterative = pruning.prune_layerwise({k: rng.random(s) for k, s in shapes.items()}, iterative, rates, round_)
    one_shot = pruning.prune_layerwise({k: rng.random(s) for k, s in shapes.items()}, dense, rates, 7)
    for key in shapes:
        assert iterative[key].sum() == one_shot[key].sum()
    assert pruning.remaining_fractions(iterative)["total"] == pruning.remaining_fractions(one_shot)["total"]


def test_paper_rates_by_layer_kind_on_a_model():
    cfg = build_config({"fc_rate": 0.2})
    model = masking.mask_model(small_model())
    assert trial.layer_rates(model, cfg) == {"fc1": 0.2, "fc2": 0.2, "output": 0.1}
    cfg = build_config({"fc_rate": 0.3, "output_rate": 0.05})
    assert trial.layer_rates(model, cfg)["output"] == 0.05


def test_an_unpruned_output_layer_leaves_the_last_pruned_layer_at_its_own_kinds_rate():
    from lth_tf.tfkeras import keras

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, name="conv1")(inputs)
    x = keras.layers.Conv2D(4, 3, name="conv2")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, name="output")(x)
    cfg = build_config({"conv_rate": 0.15, "fc_rate": 0.2})
    pruned_output = masking.mask_model(keras.Model(inputs, outputs))
    assert trial.layer_rates(pruned_output, cfg) == {"conv1": 0.15, "conv2": 0.15, "output": 0.1}
    unpruned_output = masking.mask_model(keras.Model(inputs, outputs), unpruned_layers=["output"])
    assert trial.layer_rates(unpruned_output, cfg) == {"conv1": 0.15, "conv2": 0.15}


def test_pipeline_prunes_a_trained_model_to_the_configured_counts():
    cfg = build_config({"rounds": 3})
    model = masking.mask_model(small_model())
    theta0 = weights.take(model)
    rng = np.random.default_rng(0)
    for level in (1, 2, 3):
        masking.set_masks(model, trial.next_masks(model, cfg, theta0, theta0, masking.get_masks(model), level, rng))
        counts = {k: int(m.sum()) for k, m in masking.get_masks(model).items()}
        assert counts == {
            "fc1": pruning.surviving_count(64 * 32, 0.2, level),
            "fc2": pruning.surviving_count(32 * 16, 0.2, level),
            "output": pruning.surviving_count(16 * 4, 0.1, level),
        }
