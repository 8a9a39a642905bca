"""Mask and θ0 keys are unique layer paths: sub-models may reuse a layer name."""

import numpy as np
import pytest

from conftest import two_branches
from lth_tf import masking
from lth_tf.pruning import counts as pruning
from lth_tf.training import weights
from lth_tf.settings import build_config
from lth_tf.tfkeras import keras
from pipelines.experiments import trial


def test_layers_sharing_a_name_in_sub_models_get_distinct_mask_keys_and_are_all_pruned():
    model = masking.mask_model(two_branches())
    assert list(masking.get_masks(model)) == ["left/fc", "right/fc", "fc", "output"]
    theta0 = weights.take(model)
    cfg = build_config({"fc_rate": 0.5})
    masks = trial.next_masks(model, cfg, theta0, theta0, masking.get_masks(model), 1, np.random.default_rng(0))
    for key in ("left/fc", "right/fc"):
        assert masks[key].sum() == pruning.surviving_count(64 * 6, 0.5, 1), key
    masking.set_masks(model, masks)
    assert masking.get_masks(model)["right/fc"].sum() == masks["right/fc"].sum()


def test_theta0_keys_are_unique_paths_and_read_back():
    model = masking.mask_model(two_branches())
    snapshot = weights.take(model)
    named = weights.named(model, snapshot)
    assert {"left/fc/kernel", "right/fc/kernel", "fc/kernel", "output/bias"} <= set(named)
    assert len(named) == len(snapshot)
    for restored, value in zip(weights.from_named(model, named), snapshot, strict=True):
        np.testing.assert_array_equal(restored, value)


def test_unpruned_layers_take_a_path(tiny_splits):
    model = masking.mask_model(two_branches(), unpruned_layers=["left/fc"])
    assert list(masking.get_masks(model)) == ["right/fc", "fc", "output"]


def test_clashing_paths_are_refused_in_one_line():
    inputs = keras.Input((4,))
    sub = keras.Model(inputs, keras.layers.Dense(3, name="fc")(inputs), name="a")
    top_inputs = keras.Input((4,))
    # a top-level layer named 'a/fc' would share the sub-model layer's path
    model = keras.Model(top_inputs, keras.layers.Add()([sub(top_inputs), keras.layers.Dense(3, name="a/fc")(top_inputs)]))
    with pytest.raises(Exception, match="a/fc"):
        masking.get_masks(masking.mask_model(model))
