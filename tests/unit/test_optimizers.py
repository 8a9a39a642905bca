"""Training options: the learning-rate schedule, momentum, L2 weight decay, and exact masks under them."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import small_model
from lth_tf import masking
from lth_tf.training import optimizers
from lth_tf.pruning import counts as pruning
from lth_tf.settings import build_config
from lth_tf.training.loop import train_round


def test_step_schedule_warms_up_linearly_then_drops_at_the_given_iterations():
    schedule = optimizers.StepSchedule(0.1, drops=(20, 25), factor=0.1, warmup=10)
    rates = {step: float(schedule(step)) for step in (0, 4, 9, 10, 19, 20, 24, 25, 29)}
    expected = {0: 0.01, 4: 0.05, 9: 0.1, 10: 0.1, 19: 0.1, 20: 0.01, 24: 0.01, 25: 0.001, 29: 0.001}
    assert rates == pytest.approx(expected, rel=1e-6)


def test_settings_build_the_optimizer_the_preset_asks_for():
    cfg = build_config({"preset": "resnet18"})
    optimizer = optimizers.make(cfg.training)
    assert "SGD" in type(optimizer).__name__ and float(optimizer.momentum) == pytest.approx(0.9)
    assert optimizer.l2 == pytest.approx(1e-4)
    schedule = optimizer._learning_rate
    rates = [float(schedule(s)) for s in (0, 19_999, 20_000, 25_000)]
    assert rates == pytest.approx([0.03 / 20_000, 0.03, 0.003, 3e-4])
    plain = optimizers.make(build_config({}).training)
    assert type(plain).__name__ == "Adam" and float(plain.learning_rate) == pytest.approx(1.2e-3)


def test_weight_decay_adds_l2_gradient_to_kernels_only():
    model = small_model()
    optimizer = optimizers.make(build_config({"optimizer": "sgd", "weight_decay": 0.5}).training)
    with tf.GradientTape() as tape:
        loss = 0.0 * tf.reduce_sum(model(tf.ones((1, 8, 8, 1))))
    grads = dict((v.name, g) for g, v in optimizer.compute_gradients(loss, model.trainable_variables, tape))
    kernel, bias = model.get_layer("fc1").kernel, model.get_layer("fc1").bias
    np.testing.assert_allclose(grads[kernel.name].numpy(), 0.5 * kernel.numpy(), rtol=1e-6)
    assert not np.any(grads[bias.name].numpy())


def test_pruned_weights_stay_exactly_zero_with_momentum_weight_decay_and_schedule(tiny_splits):
    cfg = build_config({"optimizer": "sgd", "learning_rate": 0.5, "momentum": 0.9, "weight_decay": 0.01,
                        "warmup_iterations": 10, "lr_drops": "30", "iterations": 40, "eval_interval": 10,
                        "batch_size": 30, "steps_per_execution": 5})
    model = masking.mask_model(small_model())
    rng = np.random.default_rng(0)
    masks = {k: rng.random(m.shape) < 0.3 for k, m in masking.get_masks(model).items()}
    masking.set_masks(model, masks)
    before = {k: v.numpy().copy() for k, v in masking.prunable_weights(model).items()}
    history = train_round(model, tiny_splits, cfg.training, seed=0)
    assert len(history.records) == 4
    for key, weight in masking.prunable_weights(model).items():
        after = weight.numpy()
        assert np.all(after[~masks[key]] == 0.0)  # exactly zero, not just small
        assert not np.allclose(after[masks[key]], before[key][masks[key]])  # the survivors trained
    assert pruning.remaining_fractions(masking.get_masks(model))["total"] == pytest.approx(
        pruning.remaining_fractions(masks)["total"])


def test_bad_training_options_are_one_line_errors():
    from lth_tf.errors import UserError

    for settings, message in [({"momentum": 1.0}, "--momentum must be in \\[0, 1\\)"),
                              ({"weight_decay": -1}, "--weight-decay must be at least 0"),
                              ({"lr_drops": "300,200"}, "--lr-drops must be increasing"),
                              ({"lr_drops": "1e3"}, "'lr_drops' must be list of integers"),
                              ({"warmup_iterations": -5}, "--warmup-iterations must be at least 0"),
                              ({"dropout": 1.0}, "--dropout must be in \\[0, 1\\)")]:
        with pytest.raises(UserError, match=message):
            build_config(settings)
