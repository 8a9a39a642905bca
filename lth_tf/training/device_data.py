"""The training set kept on the device, each batch gathered there inside the training step (the GPU path).

On the host path (`Splits.train_batches`) tf.data gathers every batch on the CPU and the
step copies it to the device: for a small network on a GPU that copy and the pipeline's
hand-over cost more than the step. TensorFlow's data-performance guide points to the
cure for a data set that fits in the device's memory: keep it there. Here the training
set is copied to the device once per process (`splits.as_tensors`), tf.data yields only
each batch's indices, seed and number (`Splits.batch_indices`, a few hundred bytes), and
the step gathers (and augments) the batch on the device (`Splits.gather`, the same ops
as the host pipeline's, so the batches are the same; tests/unit/test_device_data.py
checks that, and that training is bitwise the same, on CPU).

`--data-on-device` (`TrainingHparams.data_on_device`): default on when TensorFlow sees
a GPU, off on a CPU (where the host pipeline already runs beside the step).
"""

from __future__ import annotations

from typing import Optional

import tensorflow as tf

from lth_tf.data import Splits
from lth_tf.data.splits import as_tensors
from lth_tf.runtime import compile as compile_settings
from lth_tf.tfkeras import keras

SOURCE = "_lth_tf_batch_source"
"""Set on a model whose step gathers its batches: which training set (the compiled step depends on it)."""


def wanted(setting: Optional[bool]) -> bool:
    """`--data-on-device`, or, not given, whether TensorFlow sees a GPU."""
    return compile_settings.device() == "GPU" if setting is None else setting


def device() -> str:
    """Where the training set is kept: the first GPU, else the CPU."""
    return "/GPU:0" if compile_settings.device() == "GPU" else "/CPU:0"


def batches(model: keras.Model, splits: Splits, batch_size: int, seed: int, start: int,
            on_device: bool) -> tf.data.Dataset:
    """What `fit` iterates for a round from batch `start`: whole batches (host), or their indices (device).

    On the device path the model's step is made to gather (`gather_in_step`); on the host
    path a step that gathered in an earlier round is put back to Keras's own.
    """
    if not on_device:
        if model.__dict__.pop(SOURCE, None) is not None:
            model.__dict__.pop("train_step", None)
        return splits.train_batches(batch_size, seed, start)
    gather_in_step(model, splits)
    return splits.batch_indices(batch_size, seed, start)


def gather_in_step(model: keras.Model, splits: Splits) -> None:
    """Makes `model`'s training step take (indices, seed, batch number) and gather its batch on the device."""
    source = (id(splits.train[0]), id(splits.train[1]), splits.augment)
    if model.__dict__.get(SOURCE) == source:
        return
    x, y = as_tensors(splits.train, device())
    train_step = type(model).train_step

    def gathering_step(data):
        return train_step(model, splits.gather(x, y, *data))

    # Keras calls `model.train_step` when it traces `fit`'s step; set past its attribute tracking.
    object.__setattr__(model, "train_step", gathering_step)
    object.__setattr__(model, SOURCE, source)
