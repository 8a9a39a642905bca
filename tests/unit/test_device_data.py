"""The GPU path's batches gathered in the training step (`device_data`), run on CPU: the same batches,
the same training, bit for bit."""

import dataclasses

import numpy as np
import pytest

from conftest import small_model
from lth_tf import masking
from lth_tf.data import Splits
from lth_tf.data.splits import as_tensors
from lth_tf.settings import build_config
from lth_tf.tfkeras import keras
from lth_tf.training import device_data, loop, weights
from lth_tf.training.callbacks import ResetToInitialWeights


@pytest.mark.parametrize("augment", [False, True])
def test_batches_gathered_from_indices_are_the_host_pipelines(tiny_splits, augment):
    splits = dataclasses.replace(tiny_splits, augment=augment)
    x, y = as_tensors(splits.train, device_data.device())
    host = [(a.numpy(), b.numpy()) for a, b in splits.train_batches(50, 3, start=7).take(15)]
    gathered = [tuple(t.numpy() for t in splits.gather(x, y, *where))
                for where in splits.batch_indices(50, 3, start=7).take(15)]
    for (a, b), (c, d) in zip(host, gathered, strict=True):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


def _two_rounds(splits: Splits, on_device: bool):
    hparams = build_config({"iterations": 40, "eval_interval": 10, "batch_size": 30, "steps_per_execution": 5,
                            "data_on_device": on_device}).training
    keras.utils.set_random_seed(1)
    model, reset = masking.mask_model(small_model()), ResetToInitialWeights()
    first = loop.train_round(model, splits, hparams, seed=2, callbacks=[reset])
    step = model.train_function
    masking.set_masks(model, {k: np.abs(v.numpy()) > np.median(np.abs(v.numpy()))
                              for k, v in masking.prunable_weights(model).items()})
    second = loop.train_round(model, splits, hparams, seed=4, callbacks=[reset], start_step=10)
    assert model.train_function is step, "the gathering step is reused by the next round too"
    return weights.take(model), first.records + second.records, model


def test_training_on_gathered_batches_is_bitwise_the_host_pipelines(tiny_splits):
    host_weights, host_records, _ = _two_rounds(tiny_splits, False)
    device_weights, device_records, model = _two_rounds(tiny_splits, True)
    assert device_data.SOURCE in model.__dict__
    for a, b in zip(host_weights, device_weights, strict=True):
        np.testing.assert_array_equal(a, b)
    assert host_records == device_records
    # Back to the host pipeline on the same model: Keras's own step again, compiled afresh.
    hparams = build_config({"iterations": 20, "eval_interval": 10, "batch_size": 30, "data_on_device": False}).training
    loop.train_round(model, tiny_splits, hparams, seed=0)
    assert device_data.SOURCE not in model.__dict__ and "train_step" not in model.__dict__


def test_the_default_gathers_on_the_device_only_where_there_is_a_gpu():
    assert device_data.wanted(None) is (device_data.device() == "/GPU:0")
    assert device_data.wanted(True) and not device_data.wanted(False)
