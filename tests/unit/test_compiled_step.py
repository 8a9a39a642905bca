"""A compiled training step reused by the next round (`compiled_step`) trains bitwise as a fresh compile.

Two rounds of a masked network, as a lottery experiment runs them (train, prune, back to
θ0, train again with another seed from a later schedule step), once compiling every round
(`loop.REUSE_STEP = False`, lth-tf before issue 22) and once reusing the step: weights,
optimizer state and every evaluation record must be bitwise equal, and the second way must
not retrace.
"""

import dataclasses

import numpy as np
import pytest

from lth_tf import masking
from lth_tf.runtime import precision
from lth_tf.settings import build_config
from lth_tf.tfkeras import keras
from lth_tf.training import loop, optimizers, weights
from lth_tf.training.callbacks import ResetToInitialWeights

SETTINGS = {
    "adam": {},
    "sgd-schedule": {"optimizer": "sgd", "momentum": 0.9, "weight_decay": 1e-3, "learning_rate": 0.05,
                     "lr_drops": (30,), "warmup_iterations": 20},
}


def _model(dropout: str = "none", policy: str = "float32"):
    with precision.policy(policy):
        keras.utils.set_random_seed(3)
        inputs = keras.Input((8, 8, 1))
        x = keras.layers.Flatten()(inputs)
        x = keras.layers.Dense(32, activation="relu", name="fc1", kernel_initializer="glorot_normal")(x)
        if dropout == "legacy":  # Keras's default: TF's stateful random ops, seeded when traced
            x = keras.layers.Dropout(0.3, name="dropout1")(x)
        if dropout == "generator":  # a tf.random.Generator: its state is a variable outside the step
            x = keras.layers.Dropout(0.3, name="dropout1", rng_type="stateful")(x)
        x = keras.layers.Dense(4, name="output", kernel_initializer="glorot_normal")(x)
        return masking.mask_model(precision.float32_logits(keras.Model(inputs, x, name="tiny")))


def _two_rounds(splits, hparams, reuse, monkeypatch, dropout="none", policy="float32"):
    """(final weights, optimizer variables, records of both rounds, whether round 2 kept round 1's step)."""
    monkeypatch.setattr(loop, "REUSE_STEP", reuse)
    model, reset = _model(dropout, policy), ResetToInitialWeights()
    first = loop.train_round(model, splits, hparams, seed=5, callbacks=[reset])
    function = model.train_function
    masks = {key: np.abs(value.numpy()) > np.median(np.abs(value.numpy()))
             for key, value in masking.prunable_weights(model).items()}
    masking.set_masks(model, masks)
    second = loop.train_round(model, splits, hparams, seed=6, callbacks=[reset], start_step=10)
    optimizer = [v.numpy() for v in model.optimizer.variables]
    records = first.records + second.records + [first.final_train_accuracy, second.final_train_accuracy]
    return weights.take(model), optimizer, records, model.train_function is function


def _hparams(**settings):
    return dataclasses.replace(build_config({"iterations": 40, "eval_interval": 10, "batch_size": 30,
                                             "steps_per_execution": 5, **settings}).training)


def _assert_bitwise(fresh, reused):
    for a, b in zip(fresh[0] + fresh[1], reused[0] + reused[1], strict=True):
        np.testing.assert_array_equal(a, b)
    assert fresh[2] == reused[2]


CASES = [("none", "adam", False), ("none", "adam", True), ("none", "sgd-schedule", True),
         ("generator", "sgd-schedule", False), ("legacy", "adam", False)]


@pytest.mark.parametrize("dropout, setting, jit", CASES)
def test_reused_step_trains_bitwise_as_a_fresh_compile(tiny_splits, monkeypatch, dropout, setting, jit):
    hparams = _hparams(jit_compile=jit, **SETTINGS[setting])
    fresh = _two_rounds(tiny_splits, hparams, False, monkeypatch, dropout)
    reused = _two_rounds(tiny_splits, hparams, True, monkeypatch, dropout)
    assert not fresh[3]
    # Legacy stateful dropout draws are fixed in the trace: such a model is compiled every round.
    assert reused[3] == (dropout != "legacy"), "the second round must reuse the first's step unless it draws"
    _assert_bitwise(fresh, reused)


def test_reset_puts_the_optimizer_back_as_fresh(tiny_splits):
    """After a round, `reset` gives zero slots, iteration 0 and the schedule at the new start step."""
    hparams = _hparams(iterations=20, optimizer="sgd", momentum=0.9, learning_rate=0.1, lr_drops=(15,))
    model = _model()
    loop.compile_model(model, hparams)
    model.fit(tiny_splits.train_batches(30, 0), steps_per_epoch=20, epochs=1, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 20
    assert any(np.any(v.numpy()) for v in model.optimizer.variables[1:])
    optimizer = model.optimizer
    loop.compile_model(model, hparams, start_step=15)
    assert model.optimizer is optimizer
    assert all(not np.any(v.numpy()) for v in model.optimizer.variables)
    assert model.optimizer.learning_rate.numpy() == np.float32(0.1) * np.float32(0.1)
    fresh = optimizers.make(hparams, start_step=15)
    assert float(fresh._learning_rate(0)) == float(model.optimizer.learning_rate.numpy())


def test_mixed_float16_keeps_pruned_weights_zero_and_resets_the_loss_scale(tiny_splits, monkeypatch):
    """The GPU policy runs on CPU (slowly, TF's guide says): its loss-scale state is reset like the
    slots, a reused step trains bitwise as a fresh compile, and pruned weights stay exactly zero."""
    hparams = _hparams(jit_compile=False)
    fresh = _two_rounds(tiny_splits, hparams, False, monkeypatch, policy="mixed_float16")
    reused = _two_rounds(tiny_splits, hparams, True, monkeypatch, policy="mixed_float16")
    assert reused[3]
    _assert_bitwise(fresh, reused)
    model = _model(policy="mixed_float16")
    loop.compile_model(model, hparams)
    optimizer = model.optimizer
    assert hasattr(optimizer, "inner_optimizer") and optimizer.dynamic
    masks = {k: np.arange(v.size).reshape(v.shape) % 2 == 0 for k, v in masking.get_masks(model).items()}
    masking.set_masks(model, masks)
    model.fit(tiny_splits.train_batches(30, 0), steps_per_epoch=20, epochs=1, verbose=0)
    for key, weight in masking.prunable_weights(model).items():
        assert not np.any(weight.numpy()[~masks[key]]), key
    assert float(optimizer.loss_scale.numpy()) != optimizer.initial_scale or int(optimizer.dynamic_counter.numpy())
    loop.compile_model(model, hparams)
    assert float(optimizer.loss_scale.numpy()) == optimizer.initial_scale and int(optimizer.dynamic_counter.numpy()) == 0
