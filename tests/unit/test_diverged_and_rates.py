"""Review defects: NaN scores and losses (a diverged round), conv rates for every conv, global's output rate."""

import math

import numpy as np
import pytest
from tensorflow_model_optimization.sparsity.keras import PrunableLayer

from lth_tf import masking
from lth_tf.pruning import counts as pruning
from lth_tf.settings import build_config
from lth_tf.errors import UserError
from lth_tf.tfkeras import keras
from lth_tf.training.loop import RoundHistory
from pipelines.experiments import lottery, trial


def test_nan_scores_never_bring_a_pruned_weight_back():
    mask = np.array([True, True, True, False, False, True])
    scores = np.array([np.nan, 2.0, np.nan, 9.0, 8.0, 1.0])
    kept = pruning.keep_top(scores, mask, 3)
    np.testing.assert_array_equal(kept, [True, True, False, False, False, True])  # NaNs rank last, lower index first
    everything_nan = pruning.prune_global({"a": np.full(6, np.nan)}, {"a": mask}, 0.5, 1)["a"]
    np.testing.assert_array_equal(everything_nan, [True, True, True, False, False, False])


def _record(iteration, val_loss, train_loss=0.5):
    return {"iteration": iteration, "val_loss": val_loss, "train_loss": train_loss, "val_accuracy": 0.5,
            "test_accuracy": 0.5}


def test_a_nan_validation_loss_never_wins_early_stop_and_marks_divergence():
    history = RoundHistory([_record(10, math.nan), _record(20, 0.9), _record(30, 0.7), _record(40, 0.7)], 1.0)
    assert history.early_stop["iteration"] == 30
    assert history.diverged_at == 10
    healthy = RoundHistory([_record(10, 0.9), _record(20, 0.8, train_loss=math.inf)], 1.0)
    assert healthy.diverged_at == 20
    assert RoundHistory([_record(10, 0.9)], 1.0).diverged_at is None


class PrunableDepthwise(keras.layers.DepthwiseConv2D, PrunableLayer):
    """tfmot leaves DepthwiseConv2D dense; a user may opt it in."""

    def get_prunable_weights(self):
        return [self.depthwise_kernel]


def test_every_keras_convolution_is_pruned_at_the_conv_rate():
    inputs = keras.Input((8, 8, 3))
    x = PrunableDepthwise(3, name="depthwise")(inputs)
    x = keras.layers.SeparableConv2D(4, 3, name="separable")(x)
    x = keras.layers.Conv2DTranspose(2, 3, name="transpose")(x)
    x = keras.layers.Flatten()(x)
    model = masking.mask_model(keras.Model(inputs, keras.layers.Dense(3, name="output")(x)))
    cfg = build_config({"conv_rate": 0.15, "fc_rate": 0.3})
    rates = trial.layer_rates(model, cfg)
    assert rates == {"depthwise": 0.15, "separable": 0.15, "transpose": 0.15, "output": 0.15}


def test_global_strategy_logs_no_output_rate_it_does_not_use(tiny_splits):
    layerwise = lottery.parent_params(build_config({}), tiny_splits, 10)
    assert layerwise["output_rate_used"] == 0.1
    global_ = lottery.parent_params(build_config({"strategy": "global"}), tiny_splits, 10)
    assert "output_rate_used" not in global_ and global_["global_rate"] == 0.2
    with pytest.raises(UserError, match="--output-rate applies to --strategy layerwise only"):
        build_config({"strategy": "global", "output_rate": 0.1})
