"""Mask and θ0 keys are unique layer paths: a run on a built nested model saves every layer
(the paths themselves: tests/unit/test_layer_paths.py)."""

import numpy as np

from conftest import two_branches
from lth_tf.tracking import artifacts
from lth_tf.tfkeras import keras
from pipelines.experiments import lottery


def test_a_run_on_a_built_nested_model_saves_every_layer_and_replicates_start_dense(store, tiny_config,
                                                                                      tiny_splits):
    tiny_config.replicates = 2
    keras.utils.set_random_seed(0)
    model = two_branches()
    left = model.get_layer("left").get_layer("fc").kernel.numpy().copy()
    right = model.get_layer("right").get_layer("fc").kernel.numpy().copy()
    result = lottery.run(tiny_config, splits=tiny_splits, model=model, echo=lambda _: None)
    assert result.masks[2]["left/fc"].sum() == result.masks[2]["right/fc"].sum() < 64 * 6
    theta0 = artifacts.load_arrays(result.run_id, "initial_weights/seed_0.npz")
    np.testing.assert_array_equal(theta0["left/fc/kernel"], left)
    np.testing.assert_array_equal(theta0["right/fc/kernel"], right)
    assert not np.array_equal(left, right)
    redrawn = artifacts.load_arrays(result.run_id, "initial_weights/seed_1.npz")
    for key in ("left/fc/kernel", "right/fc/kernel", "fc/kernel", "output/kernel"):  # not through round 2's masks
        assert np.count_nonzero(redrawn[key]) == redrawn[key].size, key
