"""The reset to θ0 and the evaluation bookkeeping of a round."""

import numpy as np

from conftest import small_model
from lth_tf import masking
from lth_tf.training import loop as training
from lth_tf.training.callbacks import ResetToInitialWeights, network_variables
from lth_tf.settings import build_config


def test_reset_restores_theta0_exactly_on_survivors_and_zero_on_pruned(tiny_splits):
    hparams = build_config({"iterations": 20, "eval_interval": 10, "batch_size": 30}).training
    model = masking.mask_model(small_model())
    theta0 = [v.numpy().copy() for v in network_variables(model)]
    reset = ResetToInitialWeights()

    training.train_round(model, tiny_splits, hparams, seed=0, callbacks=[reset])
    for captured, value in zip(reset.initial_weights, theta0):
        np.testing.assert_array_equal(captured, value)  # θ0 is captured before any training
    assert any(not np.array_equal(v.numpy(), t) for v, t in zip(network_variables(model), theta0)), "did not train"

    rng = np.random.default_rng(0)
    masks = {k: rng.random(m.shape) < 0.4 for k, m in masking.get_masks(model).items()}
    masking.set_masks(model, masks)
    reset.set_model(model)
    reset.on_train_begin()  # what the next round's fit does first
    weights = masking.prunable_weights(model)
    initial = reset.initial_prunable(model)
    for key, mask in masks.items():
        w = weights[key].numpy()
        np.testing.assert_array_equal(w[mask], initial[key][mask])
        assert np.count_nonzero(w[~mask]) == 0
    bias = model.get_layer("masked_fc1").layer.bias.numpy()
    np.testing.assert_array_equal(bias, theta0[1])  # unpruned weights go back to θ0 too
    assert masking.get_masks(model)["fc1"].sum() == masks["fc1"].sum(), "masks are not part of θ0"


def test_round_records_every_evaluation_and_early_stop_is_argmin_val_loss(tiny_splits):
    hparams = build_config({"iterations": 60, "eval_interval": 10, "batch_size": 30}).training
    history = training.train_round(masking.mask_model(small_model()), tiny_splits, hparams, seed=0)
    assert [r["iteration"] for r in history.records] == [10, 20, 30, 40, 50, 60]
    for record in history.records:
        assert {"val_loss", "val_accuracy", "test_loss", "test_accuracy", "train_loss"} <= set(record)
    losses = [r["val_loss"] for r in history.records]
    assert history.early_stop["iteration"] == history.records[int(np.argmin(losses))]["iteration"]
    assert 0.0 <= history.final_train_accuracy <= 1.0


def test_early_stop_takes_the_earliest_minimum():
    records = [{"iteration": i, "val_loss": loss} for i, loss in [(100, 0.5), (200, 0.3), (300, 0.3), (400, 0.4)]]
    assert training.RoundHistory(records, 1.0).early_stop["iteration"] == 200


def test_steps_per_execution_divides_the_eval_interval():
    assert training.steps_per_execution(50, 100) == 50
    assert training.steps_per_execution(50, 30) == 30
    assert training.steps_per_execution(40, 100) == 25
    assert training.steps_per_execution(50, 7) == 7


def test_a_sparse_test_curve_survives_a_checkpoint():
    from lth_tf.training.callbacks import PeriodicEvaluation

    records = [{"iteration": 10, "val_loss": 1.5, "val_accuracy": 0.5, "test_loss": 1.25, "test_accuracy": 0.5},
               {"iteration": 20, "val_loss": 1.75, "val_accuracy": 0.25},
               {"iteration": 30, "val_loss": float("nan"), "val_accuracy": 0.0, "test_loss": float("nan"),
                "test_accuracy": 0.0}]
    saved, restored = PeriodicEvaluation({}, 10), PeriodicEvaluation({}, 10)
    saved.records = records
    restored.load_state(saved.state())
    assert [sorted(r) for r in restored.records] == [sorted(r) for r in records]
    assert restored.records[1] == records[1] and restored.records[0] == records[0]
    assert np.isnan(restored.records[2]["test_loss"]) and restored.records[2]["test_accuracy"] == 0.0
