"""In-memory train / validation / test arrays and the tf.data pipelines over them.

The datasets lth-tf trains on (MNIST, Fashion-MNIST, CIFAR-10, a user's arrays) fit in
memory, so each split is a pair of arrays and batches are gathered by index: a full
shuffle every epoch costs one permutation, not a per-example shuffle buffer.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np
import tensorflow as tf

from lth_tf.data.augment import flip_and_crop
from lth_tf.errors import UserError

Arrays = Tuple[np.ndarray, np.ndarray]

SPLIT_SEED = 0
"""Validation is held out with this fixed seed, not the experiment's, so every experiment
on a dataset (every seed, replicate and control) is judged on the same examples."""


@dataclass
class Splits:
    name: str
    train: Arrays
    validation: Arrays
    test: Arrays
    num_classes: int
    augment: bool = False
    """Flip and pad-and-crop the training batches (see `augment`); needs images (height, width, channels)."""

    def __post_init__(self):
        if self.augment and len(self.input_shape) != 3:
            raise UserError(f"--augment needs images of shape (height, width, channels), not {self.input_shape}")

    @property
    def input_shape(self) -> Tuple[int, ...]:
        return tuple(self.train[0].shape[1:])

    def sizes(self) -> dict:
        return {f"{split}_size": len(getattr(self, split)[1]) for split in ("train", "validation", "test")}

    def check_batch_size(self, batch_size: int) -> None:
        n = len(self.train[1])
        if batch_size > n:
            raise UserError(f"--batch-size {batch_size} exceeds the {n} training examples")

    def train_batches(self, batch_size: int, seed: int, start: int = 0) -> tf.data.Dataset:
        """Endless batches; every epoch is a fresh full permutation, the same for the same seed.

        With `augment`, each batch is flipped and cropped with draws keyed by the seed and
        the batch number, so augmented batches repeat per seed too. Batch i is a pure
        function of (seed, i), so `start` skips the first `start` batches without computing
        them: a killed run resumes the exact order, and a round that begins at iteration k
        (rewinding) sees the dense run's batches from its k-th on.
        """
        x, y = as_tensors(self.train) if ONE_COPY else (tf.constant(a) for a in self.train)
        batches = self.batch_indices(batch_size, seed, start).map(lambda *where: self.gather(x, y, *where))
        return quiet(batches.prefetch(8))

    def batch_indices(self, batch_size: int, seed: int, start: int = 0) -> tf.data.Dataset:
        """(indices of batch i, seed, i) for i from `start`: what `gather` makes batch i of.

        `train_batches` gathers in the tf.data pipeline (on the host);
        `lth_tf.training.device_data` gathers inside the training step, on the device.
        """
        self.check_batch_size(batch_size)
        n = len(self.train[1])
        per_epoch = n // batch_size

        def epoch(index):
            order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=tf.stack([seed, index]))
            return tf.data.Dataset.from_tensor_slices(tf.reshape(order[: per_epoch * batch_size], (per_epoch, batch_size)))

        first_epoch, offset = divmod(start, per_epoch)
        indices = tf.data.Dataset.range(first_epoch, 2**62).flat_map(epoch).skip(offset)
        key = tf.constant(seed, tf.int64)
        return quiet(indices.enumerate(start).map(lambda step, i: (i, key, step)))

    def gather(self, x: tf.Tensor, y: tf.Tensor, indices: tf.Tensor, seed: tf.Tensor, step: tf.Tensor):
        """The batch of these `indices` (of the training set `x`, `y`), augmented for (`seed`, `step`) if asked."""
        images = tf.gather(x, indices)
        if self.augment:
            images = flip_and_crop(images, seed, step)
        return images, tf.gather(y, indices)


def quiet(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """`dataset` without tf.data's autotuner and (with `ONE_COPY`) its default graph rewrites.

    The autotuner wakes up periodically and, on a 2-core machine, stalls the training step
    for seconds at a time; a gather needs no tuning. The default rewrites serialize the
    pipeline, the training set inside, when an iterator is made: 0.1-0.3 s per round for
    Fashion-MNIST; the batches are the same.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = not ONE_COPY
    return dataset.with_options(options)

ONE_COPY = True
"""False: a tensor copy of the training set per round, and tf.data's default rewrites, as lth-tf did
before issue 22 (kept for benchmarks/round_overhead.py)."""
_TENSORS: Dict[tuple, Tuple[tf.Tensor, ...]] = {}


def as_tensors(arrays: Arrays, device: Optional[str] = None) -> Tuple[tf.Tensor, ...]:
    """The arrays as tensors (on `device`, default TF's choice), copied once per process while the arrays live.

    Not once per round: `tf.constant` copies, and for Fashion-MNIST's 172 MB of training images
    that took 0.05-1.2 s per round on the shared 2-core machine (benchmarks/round_overhead.py).
    The arrays must not change in place afterwards (the splits are standardized before).
    """
    key = (device, *(id(a) for a in arrays))
    if key not in _TENSORS:
        _TENSORS[key] = tuple(tf.constant(a) for a in arrays)
        if device:
            with tf.device(device):
                _TENSORS[key] = tuple(tf.identity(t) for t in _TENSORS[key])
        for array in arrays:  # an id is reused only after its array is gone
            weakref.finalize(array, _TENSORS.pop, key, None)
    return _TENSORS[key]


def hold_out(x: np.ndarray, y: np.ndarray, size: int) -> Tuple[Arrays, Arrays]:
    """(rest, held out): `size` examples chosen with `SPLIT_SEED`."""
    if size >= len(y):
        raise ValueError(f"cannot hold out {size} of {len(y)} examples")
    order = np.random.default_rng(SPLIT_SEED).permutation(len(y))
    held, rest = order[:size], order[size:]
    return (x[rest], y[rest]), (x[held], y[held])


def standardize(splits: Tuple[Arrays, ...]) -> Tuple[Arrays, ...]:
    """Each channel shifted and scaled by the first split's (the training split's) mean and std, in place."""
    x = splits[0][0]
    channels = x.reshape(len(x), -1, x.shape[-1])
    total, squares = np.zeros(x.shape[-1]), np.zeros(x.shape[-1])
    for start in range(0, len(x), 4096):  # in chunks: CIFAR-10 in float64 would take 1.1 GB
        chunk = channels[start:start + 4096].astype(np.float64)
        total += chunk.sum(axis=(0, 1))
        squares += (chunk**2).sum(axis=(0, 1))
    count = channels.shape[0] * channels.shape[1]
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    std = np.where(std > 0, std, 1.0)
    for images, _ in splits:
        images -= mean.astype(images.dtype)
        images /= std.astype(images.dtype)
    return splits


def to_images(x: np.ndarray, shape: Tuple[int, ...]) -> np.ndarray:
    """Pixels in [0, 255] to float32 images in [0, 1] of the given per-example shape."""
    return (np.asarray(x, dtype=np.float32) / 255.0).reshape((-1, *shape))
