"""Replicates train one model object (`lottery.trial_models`), so one compiled step serves them all:
every summary and mask bitwise as when each replicate's network is built anew (lth-tf before issue 22)."""

import dataclasses

import numpy as np

from conftest import small_model
from lth_tf.training import loop
from pipelines.experiments import lottery

LAYOUT = lottery._layout


def _run(tiny_config, tiny_splits, name, reuse, monkeypatch):
    monkeypatch.setattr(loop, "REUSE_STEP", reuse)
    # Before: never alike, so a model per replicate. (Not monkeypatch.undo: it would undo the store fixture too.)
    monkeypatch.setattr(lottery, "_layout", LAYOUT if reuse else lambda model: id(model))
    cfg = dataclasses.replace(tiny_config, replicates=2, experiment_name=name,
                              training=dataclasses.replace(tiny_config.training, iterations=20),
                              pruning=dataclasses.replace(tiny_config.pruning, rounds=1))
    return lottery.run(cfg, splits=tiny_splits, model=small_model, echo=lambda _: None)


def test_replicates_on_one_model_object_train_bitwise_as_on_their_own(store, tiny_config, tiny_splits, monkeypatch):
    models = [model for _, _, model in lottery.trial_models(dataclasses.replace(tiny_config, replicates=2),
                                                          tiny_splits, small_model)]
    assert models[0] is models[1]
    before = _run(tiny_config, tiny_splits, "a model per replicate", False, monkeypatch)
    after = _run(tiny_config, tiny_splits, "one model", True, monkeypatch)
    assert len(after.rounds) == len(before.rounds) == 4
    for a, b in zip(before.rounds, after.rounds, strict=True):
        assert dataclasses.replace(a, run_id="", parent_run_id="") == dataclasses.replace(b, run_id="",
                                                                                          parent_run_id="")
    for a, b in zip(before.trials, after.trials, strict=True):
        assert a.keys() == b.keys() and all(np.array_equal(a[k][m], b[k][m]) for k in a for m in a[k])
