"""The seed notes' local-change criterion: scores are the updates recorded near the end of training."""

import numpy as np
import pytest

from conftest import small_model
from lth_tf import masking
from lth_tf.pruning import criteria
from lth_tf.training import loop as training
from lth_tf.pruning.criteria.local_change import LocalChange
from lth_tf.settings import build_config
from lth_tf.tfkeras import keras
from pipelines.experiments import trial


def test_scores_are_the_mean_per_iteration_change_over_the_window(tiny_splits):
    hparams = build_config({"iterations": 20, "eval_interval": 10, "batch_size": 30, "steps_per_execution": 1,
                            "jit_compile": False}).training
    keras.utils.set_random_seed(0)
    model = masking.mask_model(small_model())
    seen = {}

    class EveryStep(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen[int(self.model.optimizer.iterations.numpy())] = masking.prunable_weights(self.model)["fc1"].numpy().copy()

    watch = LocalChange(start=0, end=20, window=6)
    training.train_round(model, tiny_splits, hparams, seed=0, callbacks=[EveryStep(), watch])
    expected = np.mean([np.abs(seen[t] - seen[t - 1]) for t in range(15, 21)], axis=0)
    np.testing.assert_allclose(watch.scores["fc1"], expected, rtol=1e-5, atol=1e-9)
    assert watch.scores["fc1"].max() > 0
    assert set(watch.scores) == set(masking.get_masks(model))


def test_the_criterion_keeps_the_fastest_changing_weights_and_needs_recorded_updates():
    final, initial = np.array([5.0, 0.1, -3.0, 0.2]), np.zeros(4)
    change = np.array([0.01, 0.5, 0.0, 0.2])
    rng = np.random.default_rng(0)
    assert list(np.argsort(-criteria.get("local_change")(final, initial, rng, change))) == [1, 3, 0, 2]
    with pytest.raises(ValueError, match="recorded"):
        criteria.get("local_change")(final, initial, rng)


def test_next_masks_prunes_by_the_recorded_change():
    cfg = build_config({"criterion": "local_change", "fc_rate": 0.5, "output_rate": 0.5})
    keras.utils.set_random_seed(0)
    model = masking.mask_model(small_model())
    masks = masking.get_masks(model)
    rng = np.random.default_rng(0)
    change = {k: rng.random(m.shape) for k, m in masks.items()}
    from lth_tf.training import weights

    theta = weights.take(model)
    kept = trial.next_masks(model, cfg, theta, theta, masks, 1, rng, change)
    for key in masks:
        assert change[key][kept[key]].min() >= change[key][~kept[key]].max()


def test_a_round_killed_inside_the_window_resumes_to_the_same_scores(tiny_splits, tmp_path):
    from lth_tf.training.checkpoints import NetworkCheckpoint

    hparams = build_config({"iterations": 30, "eval_interval": 10, "batch_size": 30, "steps_per_execution": 1,
                            "jit_compile": False}).training

    def round_(checkpoint=None, stop_after=None):
        keras.utils.set_random_seed(0)
        model = masking.mask_model(small_model())
        watch = LocalChange(start=0, end=30, window=15)  # observes from iteration 15 on

        class Kill(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if stop_after is not None and (epoch + 1) * 10 == stop_after:
                    raise KeyboardInterrupt

        callbacks = [watch, Kill()]
        try:
            training.train_round(model, tiny_splits, hparams, seed=0, callbacks=callbacks, checkpoint=checkpoint)
        except KeyboardInterrupt:
            return None
        return watch.scores

    uninterrupted = round_()
    checkpoint = NetworkCheckpoint(tmp_path / "ckpt", every=10)
    # Killed at 30 before its checkpoint: it resumes from 20, inside the window.
    assert round_(checkpoint, stop_after=30) is None and checkpoint.latest_iteration() == 20
    resumed = round_(checkpoint)
    for key in uninterrupted:
        np.testing.assert_array_equal(resumed[key], uninterrupted[key])
