"""What the speed work must not change: artifacts, evaluation figures, zeros under mixed precision;
and the measured compile choice."""

import io

import numpy as np
import pytest
import tensorflow as tf

from conftest import small_model
from lth_tf import masking
from lth_tf.tracking import artifacts
from lth_tf.runtime import compile as compile_settings
from lth_tf.training import evaluation, loop as training, weights
from lth_tf.settings import build_config
from lth_tf.errors import UserError
from lth_tf.tfkeras import keras
from pipelines.experiments import lottery


def test_npz_artifacts_round_trip_exactly_and_compress_only_masks():
    rng = np.random.default_rng(0)
    arrays = {"fc1": rng.random((300, 100)) < 0.3, "fc1/bias": rng.normal(size=100).astype(np.float32),
              "steps": np.arange(5)}
    content = artifacts.npz_bytes(arrays)
    with np.load(io.BytesIO(content), allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(arrays)
        for key, array in arrays.items():
            assert archive[key].dtype == array.dtype
            np.testing.assert_array_equal(archive[key], array)
    assert len(content) < 30_000 / 2 + 100 * 4 + 2_000, "the mask was not compressed"


def tiny_conv_net():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(16, activation="relu", name="fc1")(x)
    return keras.Model(inputs, keras.layers.Dense(4, name="output")(x))


def test_pruned_weights_stay_exactly_zero_under_bfloat16(tiny_splits):
    cfg = build_config({"precision": "mixed_bfloat16", "iterations": 20, "eval_interval": 10, "batch_size": 30,
                        "steps_per_execution": 5})
    model = lottery.build_masked_model(cfg, tiny_splits, tiny_conv_net)
    assert {layer.layer.compute_dtype for layer in masking.masked_layers(model)} == {"bfloat16"}
    assert model.output.dtype == tf.float32, "logits leave the network in float32"
    rng = np.random.default_rng(0)
    masks = {k: rng.random(m.shape) < 0.3 for k, m in masking.get_masks(model).items()}
    masking.set_masks(model, masks)
    before = {k: w.numpy().copy() for k, w in masking.prunable_weights(model).items()}
    history = training.train_round(model, tiny_splits, cfg.training, seed=0)
    assert np.isfinite(history.final["val_loss"])
    for key, weight in masking.prunable_weights(model).items():
        value = weight.numpy()
        assert value.dtype == np.float32
        assert np.count_nonzero(value[~masks[key]]) == 0, f"{key}: a pruned weight moved"
        assert not np.array_equal(value[masks[key]], before[key][masks[key]]), f"{key}: did not train"
    assert all(m.dtype == tf.float32 for m in masking.mask_variables(model))
    assert all(w.dtype == np.float32 for w in weights.take(model)), "θ snapshots are float32"


def test_a_built_model_must_match_the_precision(tiny_splits):
    cfg = build_config({"precision": "mixed_bfloat16"})
    with pytest.raises(UserError, match="mixed_bfloat16"):
        lottery.build_masked_model(cfg, tiny_splits, small_model())


@pytest.mark.parametrize("batch_size", [7, evaluation.BATCH_SIZE], ids=["padded-batches", "default-batch"])
def test_one_pass_evaluation_gives_model_evaluate_figures(tiny_splits, batch_size):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-3))(inputs)
    model = masking.mask_model(keras.Model(inputs, keras.layers.Dense(4)(keras.layers.Flatten()(x))))
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    splits = {"val": tiny_splits.validation, "test": (tiny_splits.test[0][:50], tiny_splits.test[1][:50])}
    figures = evaluation.Evaluator(model, splits, batch_size=batch_size)()
    for name, (x, y) in splits.items():
        loss, accuracy = model.evaluate(x, y, batch_size=len(y), verbose=0)
        assert figures[f"{name}_loss"] == pytest.approx(loss, rel=1e-5)
        assert figures[f"{name}_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert model.losses, "the regularization term is part of the loss"


def test_auto_compile_takes_xla_for_dense_nets_and_not_for_conv_nets_on_a_cpu():
    """As measured by benchmarks/compile_speed.py on this project's CPU (README, Speed)."""
    if compile_settings.device() != "CPU":
        pytest.skip("measured on a CPU")
    assert compile_settings.resolve_jit_compile(None, small_model()) is True
    assert compile_settings.resolve_jit_compile(None, masking.mask_model(tiny_conv_net())) is False
    assert compile_settings.resolve_jit_compile(True, tiny_conv_net()) is True
