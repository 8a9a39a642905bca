"""Early-bird tickets: stop a round once the mask pruning would draw has stopped changing."""

import numpy as np
import pytest

from conftest import small_model
from lth_tf import masking
from lth_tf.pruning import early_bird
from lth_tf.training import weights
from lth_tf.settings import build_config
from lth_tf.tfkeras import keras

INTERVAL = 2  # iterations per evaluation


class Scramble(keras.callbacks.Callback):
    """Writes fresh random weights at each of the first `times` evaluations, before early-bird draws."""

    def __init__(self, times: int):
        super().__init__()
        self.times, self.rng = times, np.random.default_rng(1)

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.times:
            for variable in masking.prunable_weights(self.model).values():
                variable.assign(self.rng.standard_normal(variable.shape).astype(np.float32))
            masking.apply_masks(self.model)


class Load(keras.callbacks.Callback):
    """Gives a callback its saved state after its own on_train_begin, as the checkpoint callback does."""

    def __init__(self, target, arrays):
        super().__init__()
        self.target, self.arrays = target, arrays

    def on_train_begin(self, logs=None):
        self.target.load_state(self.arrays)


def masked_model(learning_rate=0.0):
    """A masked model whose weights only change when a callback writes them (learning rate 0) or by Adam."""
    model = masking.mask_model(small_model())
    optimizer = keras.optimizers.SGD(0.0) if learning_rate == 0 else keras.optimizers.Adam(learning_rate)
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def layerwise_draw(model, masks=None, levels=(1,)):
    masks = masks if masks is not None else masking.get_masks(model)
    return early_bird.pruning_draw(masks, levels, rates={k: 0.2 for k in masks}), masks


def fit(model, splits, callbacks, evaluations=12, initial_epoch=0):
    return model.fit(splits.train_batches(30, seed=0), steps_per_epoch=INTERVAL, epochs=evaluations,
                     initial_epoch=initial_epoch, callbacks=callbacks, verbose=0)


def assert_ticket_drawn_from_snapshot(watch, draw, model):
    """The ticket's masks are what pruning draws from the weights kept at the early-bird point."""
    weights.restore(model, watch.snapshot)
    for key, mask in watch.ticket_masks[0].items():
        np.testing.assert_array_equal(mask, draw(model)[0][key])


def test_stops_once_the_masks_stop_changing_and_not_before(tiny_splits):
    model = masked_model()
    draw, masks = layerwise_draw(model)
    watch = early_bird.EarlyBird(draw, masks)
    history = fit(model, tiny_splits, [Scramble(times=3), watch])
    # The weights change at evaluations 0, 1, 2 and then never: draws 2, 3, ... are equal, so the
    # first full window of equal draws is 2..6 and the ticket is drawn at evaluation 6.
    assert watch.found == 7 * INTERVAL
    assert len(history.epoch) == 7 and int(model.optimizer.iterations.numpy()) == 7 * INTERVAL
    distances = [d for _, d in watch.distances]
    assert all(np.isnan(distances[:4]))  # the FIFO of 5 fills at the fifth evaluation
    assert min(distances[4:6]) > 0.2 and distances[6] == 0.0  # random masks of 20% pruning differ by ~32%
    assert all(np.array_equal(x, y) for x, y in zip(watch.snapshot, weights.take(model)))
    assert_ticket_drawn_from_snapshot(watch, draw, model)


def test_never_stops_while_the_mask_keeps_changing(tiny_splits):
    model = masked_model()
    draw, masks = layerwise_draw(model)
    watch = early_bird.EarlyBird(draw, masks)
    fit(model, tiny_splits, [Scramble(times=1000), watch])
    assert watch.found is None and watch.snapshot is None
    assert int(model.optimizer.iterations.numpy()) == 12 * INTERVAL
    assert all(d > early_bird.EPSILON for _, d in watch.distances[4:])


def test_recording_only_trains_to_the_end_and_keeps_the_weights_the_ticket_was_drawn_from(tiny_splits):
    model = masked_model(learning_rate=1e-2)
    draw, masks = layerwise_draw(model)
    watch = early_bird.EarlyBird(draw, masks, epsilon=1.0, stop=False, earliest=7 * INTERVAL)
    fit(model, tiny_splits, [watch])
    assert watch.found == 7 * INTERVAL  # every full window passes ε = 1; not before `earliest`
    assert int(model.optimizer.iterations.numpy()) == 12 * INTERVAL
    assert not all(np.array_equal(x, y) for x, y in zip(watch.snapshot, weights.take(model))), "did not train on"
    assert_ticket_drawn_from_snapshot(watch, draw, model)


def test_a_resumed_round_stops_where_the_uninterrupted_one_does(tiny_splits):
    model = masked_model()
    draw, masks = layerwise_draw(model)
    first = early_bird.EarlyBird(draw, masks)
    scramble = Scramble(times=3)
    fit(model, tiny_splits, [scramble, first], evaluations=5)  # killed after evaluation 4
    assert first.found is None
    resumed = early_bird.EarlyBird(draw, masks)
    fit(model, tiny_splits, [scramble, resumed, Load(resumed, first.state())], initial_epoch=5)
    assert resumed.found == 7 * INTERVAL
    assert [d for _, d in resumed.distances][:5] == pytest.approx([d for _, d in first.distances], nan_ok=True)
    again = early_bird.EarlyBird(draw, masks)
    again.load_state(resumed.state())
    assert again.found == resumed.found and len(again.recent) == len(resumed.recent)
    assert all(np.array_equal(x, y) for x, y in zip(again.snapshot, resumed.snapshot))
    assert all(np.array_equal(again.ticket_masks[0][k], resumed.ticket_masks[0][k]) for k in masks)


def test_every_level_must_settle_and_the_distance_counts_only_surviving_weights():
    keep = {"fc": np.array([True] * 10 + [False] * 90)}
    settled = {"fc": np.array([True] * 8 + [False] * 92)}
    watch = early_bird.EarlyBird(lambda model: [], keep, window=3)

    def moving(i):
        mask = np.zeros(100, bool)
        mask[[i % 10, (i + 1) % 10, (i + 5) % 10]] = True
        return {"fc": mask}

    # Level 1 keeps changing (3 of the 10 survivors move each time): no stop, though level 0 is still.
    assert not any(watch.observe([settled, moving(i)], i) for i in range(6))
    assert early_bird.mask_distance(moving(0), moving(1), keep) == pytest.approx(0.4)  # 4 of 10 survivors, not of 100
    assert watch.distances[-1][1] == pytest.approx(0.6)  # the farthest of the last 2: {5,6,0} vs {3,4,8}
    assert [watch.observe([settled, moving(9)], 10 + i) for i in range(3)] == [False, False, True]


def test_the_draw_is_the_mask_the_pipeline_prunes_to():
    from pipelines.experiments.trial import layer_rates, next_masks

    cfg = build_config({"iterations": 40, "eval_interval": 10, "batch_size": 30})
    model = masking.mask_model(small_model())
    initial = weights.take(model)
    masks = next_masks(model, cfg, initial, initial, masking.get_masks(model), 1, np.random.default_rng(0))
    masking.set_masks(model, masks)  # round 1's ticket: the round whose next masks are drawn
    rng = np.random.default_rng(1)
    for variable in masking.prunable_weights(model).values():  # "trained" weights unlike θ0
        variable.assign(rng.standard_normal(variable.shape).astype(np.float32))
    masking.apply_masks(model)
    drawn = early_bird.pruning_draw(masks, [2, 3], rates=layer_rates(model, cfg))(model)
    for level, mask in zip([2, 3], drawn):
        expected = next_masks(model, cfg, weights.take(model), initial, masks, level, np.random.default_rng(0))
        assert all(np.array_equal(mask[k], expected[k]) for k in masks)


def test_bad_settings_are_refused():
    keep = {"fc": np.ones(4, bool)}
    with pytest.raises(ValueError, match="at least 0"):
        early_bird.EarlyBird(lambda model: [], keep, epsilon=-0.1)
    with pytest.raises(ValueError, match="at least 2"):
        early_bird.EarlyBird(lambda model: [], keep, window=1)
    with pytest.raises(ValueError, match="keeps no weight"):
        early_bird.EarlyBird(lambda model: [], {"fc": np.zeros(4, bool)})
    with pytest.raises(ValueError, match="either rates"):
        early_bird.draw_masks({"fc": np.ones(4)}, keep, 1)
