"""Several networks in one compiled program record, each, exactly what it records trained alone."""

import numpy as np
import pytest

from conftest import small_model
from lth_tf import masking
from lth_tf.settings import build_config
from lth_tf.tfkeras import keras
from lth_tf.training import loop, packing, weights
from lth_tf.training.callbacks import RecordWeights
from lth_tf.training.checkpoints import NetworkCheckpoint


def hparams(**overrides):
    return build_config({"iterations": 60, "eval_interval": 20, "batch_size": 30, "steps_per_execution": 10,
                         **overrides}).training


def network(seed, model=small_model):
    """A masked network initialized with `seed`, under its own random half-density mask."""
    keras.utils.set_random_seed(seed)
    net = masking.mask_model(model())
    rng = np.random.default_rng(100 + seed)
    masking.set_masks(net, {k: rng.random(m.shape) < 0.5 for k, m in masking.get_masks(net).items()})
    return net


def assert_same(alone, packed):
    for a, b in zip(weights.take(alone), weights.take(packed), strict=True):
        np.testing.assert_array_equal(a, b)


class StopAfter(keras.callbacks.Callback):
    """Stops its network's training at the end of evaluation interval `epochs` (as early-bird does)."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            self.model.stop_training = True


class Jitter(keras.callbacks.Callback):
    """Moves the starting weights by a draw from the global generator (which the round's seed seeds)."""

    def on_train_begin(self, logs=None):
        weights.restore(self.model, [w + 0.01 * np.random.standard_normal(w.shape).astype(w.dtype)
                                     for w in weights.take(self.model)])


@pytest.mark.parametrize("jit_compile, with_stop", [(True, False), (False, True)])  # XLA compiles are slow
def test_each_packed_network_trains_bitwise_as_alone(tiny_splits, jit_compile, with_stop):
    """Network 1 draws its start from the global generator and records θ30, network 2 has a data order of its
    own; with `with_stop`, network 0 stops after its first evaluation (as early-bird may) and the others go
    on without it."""
    settings = hparams(iterations=40, jit_compile=jit_compile)
    seeds, data_seeds = [0, 1, 2][1 - with_stop:], [None, None, 7][1 - with_stop:]

    def train(pack):
        models, theta = [network(s) for s in seeds], RecordWeights([30])
        callbacks = [[StopAfter(1)], [Jitter(), theta], []][1 - with_stop:]
        if pack:
            histories = packing.train_packed([packing.Member(m, s, c, data_seed=d) for m, s, c, d in
                                              zip(models, seeds, callbacks, data_seeds)], tiny_splits, settings)
        else:
            histories = [loop.train_round(m, tiny_splits, settings, s, c, data_seed=d)
                         for m, s, c, d in zip(models, seeds, callbacks, data_seeds)]
        return models, histories, theta

    alone, alone_histories, alone_theta = train(pack=False)
    packed, histories, packed_theta = train(pack=True)
    assert [[r["iteration"] for r in h.records] for h in histories] == [[20], [20, 40], [20, 40]][1 - with_stop:]
    for a, p, history, alone_history in zip(alone, packed, histories, alone_histories, strict=True):
        assert_same(a, p)
        assert history.records == alone_history.records  # every evaluation, so the early stop too
        assert history.early_stop == alone_history.early_stop
        assert history.final_train_accuracy == alone_history.final_train_accuracy
        for key, mask in masking.get_masks(p).items():
            assert not np.any(masking.prunable_weights(p)[key].numpy()[~mask]), "a pruned weight moved"
    for a, p in zip(alone_theta.snapshots[30], packed_theta.snapshots[30], strict=True):
        np.testing.assert_array_equal(a, p)  # θk recorded inside the pack, as alone
    assert len({h.records[0]["val_loss"] for h in histories}) == len(seeds), "the networks trained alike: no test"


def test_a_packed_round_resumes_from_its_checkpoints_as_if_never_stopped(tiny_splits, tmp_path):
    settings = hparams(iterations=40, jit_compile=False)
    alone = [network(s) for s in (0, 1)]
    alone_histories = [loop.train_round(m, tiny_splits, settings, s) for s, m in enumerate(alone)]
    checkpoints = [NetworkCheckpoint(tmp_path / str(s), 20) for s in (0, 1)]
    first = [network(s) for s in (0, 1)]  # "killed" after iteration 20: its checkpoints are what is left
    packing.train_packed([packing.Member(m, s, checkpoint=c) for s, (m, c) in enumerate(zip(first, checkpoints))],
                         tiny_splits, settings, iterations=20)
    resumed = [network(s) for s in (0, 1)]
    histories = packing.train_packed([packing.Member(m, s, checkpoint=c)
                                      for s, (m, c) in enumerate(zip(resumed, checkpoints))], tiny_splits, settings)
    for a, p, history, alone_history in zip(alone, resumed, histories, alone_histories):
        assert_same(a, p)
        assert history.records == alone_history.records

    NetworkCheckpoint(tmp_path / "0", 20).remove()
    with pytest.raises(packing.PackingError, match="different iterations"):
        packing.train_packed([packing.Member(network(s), s, checkpoint=c) for s, c in enumerate(checkpoints)],
                             tiny_splits, settings)


def with_dropout():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Dense(16, activation="relu", name="fc1")(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, keras.layers.Dense(4, name="output")(keras.layers.Dropout(0.5)(x)))


def test_networks_that_cannot_share_a_program_are_refused(tiny_splits):
    with pytest.raises(packing.PackingError, match="one architecture"):
        packing.check_packable([network(0), network(1, lambda: small_model(classes=3))])
    with pytest.raises(packing.PackingError, match="random layers"):
        packing.check_packable([network(0, with_dropout), network(1, with_dropout)])
