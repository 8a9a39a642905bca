"""Training with no MLflow: the loop reports metrics and checkpoints to plain in-memory hooks."""

import shutil
from pathlib import Path

import numpy as np

from conftest import small_model
from lth_tf import masking
from lth_tf.settings import build_config
from lth_tf.tfkeras import keras
from lth_tf.training import weights
from lth_tf.training.checkpoints import STATE_FILE, NetworkCheckpoint
from lth_tf.training.hooks import CheckpointCopies, ReportMetrics
from lth_tf.training.loop import train_round


class FolderCopies(CheckpointCopies):
    """Keeps the last checkpoint in another folder: what the MLflow hook does with a run's artifacts."""

    def __init__(self, folder: Path):
        self.folder, self.announced, self.discarded = folder, [], False

    def saved(self, directory, iteration, files):
        self.announced.append(iteration)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        for path in [*files, directory / STATE_FILE]:
            shutil.copy(path, self.folder / path.name)

    def fetch(self, directory):
        shutil.copytree(self.folder, directory, dirs_exist_ok=True)

    def discard(self):
        self.discarded = True


def test_a_round_trains_reports_and_resumes_from_its_copy_without_mlflow(tmp_path, tiny_splits, monkeypatch):
    monkeypatch.chdir(tmp_path)
    hp = build_config({"iterations": 40, "eval_interval": 10, "batch_size": 30, "steps_per_execution": 5}).training
    keras.utils.set_random_seed(0)
    model = masking.mask_model(small_model())
    start = weights.take(model)
    reported = []
    checkpoint = NetworkCheckpoint(tmp_path / "ckpt", every=20)
    checkpoint.copies = FolderCopies(tmp_path / "copy")
    history = train_round(model, tiny_splits, hp, seed=0, callbacks=[ReportMetrics(lambda m, step: reported.append((step, m)))],
                          checkpoint=checkpoint)
    assert [step for step, _ in reported] == [10, 20, 30, 40]
    assert {"val/loss", "val/accuracy", "test/accuracy"} <= set(reported[0][1])
    assert checkpoint.copies.announced == [20, 40]
    assert [r["iteration"] for r in history.records] == [10, 20, 30, 40]
    trained = weights.take(model)

    checkpoint.remove()  # the local disk is gone: the copy brings the last checkpoint back
    checkpoint.fetch()
    assert checkpoint.latest_iteration() == 40
    weights.restore(model, start)
    again = train_round(model, tiny_splits, hp, seed=0, checkpoint=checkpoint)  # nothing left to train
    assert [r["iteration"] for r in again.records] == [10, 20, 30, 40]
    assert all(np.array_equal(a, b) for a, b in zip(weights.take(model), trained))
    checkpoint.discard()
    assert checkpoint.copies.discarded
    assert not (tmp_path / "mlruns").exists()
