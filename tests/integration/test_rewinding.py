"""`--reset-to k`: every round resets to θk and resumes the dense run's schedule and data order at k."""

import mlflow
import numpy as np
import pytest

from conftest import small_model
from lth_tf import masking
from lth_tf.training import weights
from lth_tf.data.splits import Splits
from lth_tf.tfkeras import keras
from pipelines.runs import network_run as child_runs
from pipelines.experiments import lottery


def test_rounds_reset_to_theta_k_with_schedule_and_data_order_advanced(store, tiny_config, tiny_splits, monkeypatch):
    cfg = tiny_config
    cfg.pruning.rounds, cfg.pruning.reset_to = 1, 20
    cfg.training.warmup_iterations, cfg.training.lr_drops = 30, (25,)  # the rate differs at every step < 30
    cfg.controls.controls, cfg.controls.rewind_to, cfg.controls.control_rounds = ("rewind",), 10, ()
    used, starts, ends, data_starts = {}, {}, {}, {}

    class Watch(keras.callbacks.Callback):
        def __init__(self, kind):
            super().__init__()
            self.kind = kind

        def on_train_begin(self, logs=None):
            starts[self.kind] = weights.take(self.model)

        def on_train_batch_begin(self, batch, logs=None):
            step = int(self.model.optimizer.iterations.numpy())
            if self.kind == "ticket0" and step in (10, 20):
                ends[step] = weights.take(self.model)  # θk, before the update of iteration k + 1

        def on_train_batch_end(self, batch, logs=None):
            # The rate the optimizer applied at its latest update, by updates done in this round.
            used.setdefault(self.kind, {})[int(self.model.optimizer.iterations.numpy())] = float(
                self.model.optimizer.learning_rate)

    real_train, real_batches = child_runs.train_round, Splits.train_batches

    def watched(model, splits, hp, seed, callbacks, align_to, *rest):
        tags = mlflow.active_run().data.tags
        kind = tags["kind"] + ("0" if tags["round"] == "0" else "")
        return real_train(model, splits, hp, seed, [*callbacks, Watch(kind)], align_to, *rest)

    def batches(self, batch_size, seed, start=0):
        data_starts[mlflow.active_run().data.tags["kind"] + mlflow.active_run().data.tags["round"]] = start
        return real_batches(self, batch_size, seed, start)

    monkeypatch.setattr(child_runs, "train_round", watched)
    monkeypatch.setattr(Splits, "train_batches", batches)
    result = lottery.run(cfg, splits=tiny_splits, model=masking.mask_model(small_model()), echo=lambda _: None)

    dense = used["ticket0"]  # steps per execution 5: the rate of updates 5, 10, ...
    assert len({dense[5], dense[15], dense[25], dense[30]}) == 4
    assert used["ticket"][5] == pytest.approx(dense[25])  # a round from k = 20 applies the dense run's rates
    assert used["ticket"][10] == pytest.approx(dense[30])
    assert used["rewind"][5] == pytest.approx(dense[15])  # and the rewind control from its k = 10
    assert data_starts == {"ticket0": 0, "ticket1": 20, "rewind1": 10}
    mask = result.trials[0][("ticket", 1)]
    kernel = {"fc1": 0, "fc2": 2, "output": 4}
    for key, index in kernel.items():
        np.testing.assert_array_equal(starts["ticket"][index], np.where(mask[key], ends[20][index], 0.0))
        np.testing.assert_array_equal(starts["rewind"][index], np.where(mask[key], ends[10][index], 0.0))
    history = mlflow.tracking.MlflowClient().get_metric_history(
        next(r for r in mlflow.search_runs([result.experiment_id], output_format="list")
             if r.data.tags.get("kind") == "ticket" and r.data.tags.get("round") == "1").info.run_id, "val/accuracy")
    assert [m.step for m in history] == [30, 40]  # it trains the remaining T - k iterations, numbered from k
    stops = {r.kind: r.early_stop_iteration for r in result.rounds if r.round == 1}
    assert stops["ticket"] in (30, 40) and stops["rewind"] in (20, 30, 40)  # evaluated from k on
