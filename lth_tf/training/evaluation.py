"""Loss and accuracy of several splits in one compiled pass (the periodic evaluation).

The paper evaluates validation and test sets every few hundred iterations, so for conv
nets evaluation can cost more than the training between two evaluations.
`model.evaluate` once per split pays Keras's per-call setup (data handler, callbacks,
metric resets) every time and runs small batches. Here the splits are concatenated and
padded to whole batches once, and one `tf.function`, traced once, loops over every batch
and sums loss and correct predictions per split (`unsorted_segment_sum`): one call per
evaluation, large batches, no retracing. `evaluator_for` keeps one per model and data for
the whole process, so the rounds of an experiment share one trace (a fresh function per
round costs a trace each time, seconds for a conv net, and makes TensorFlow warn). The figures are Keras's own
definitions (mean sparse cross-entropy from logits plus the model's regularization
losses; argmax accuracy), equal to `model.evaluate`'s up to float summation order.
"""

from __future__ import annotations

from typing import Dict, Tuple

import numpy as np
import tensorflow as tf

from lth_tf.tfkeras import keras

Arrays = Tuple[np.ndarray, np.ndarray]

BATCH_SIZE = 1000
"""Examples per inference batch, chosen by measurement (docs/performance.md, Evaluation): on the project's
2-core Xeon, Conv-2's 15,000 evaluation examples took 4.5 s at 250, 500 or 1,000 per
batch and 7.8 s at 2,000 (`benchmarks/eval_share.py --batch-sizes 250,500,1000,2000`;
2,000's 0.5 GB activations also slowed the training around it), Conv-6 was fastest at
1,000, LeNet the same at every size. The figures differ only in float summation order."""


class Evaluator:
    """`evaluator()` -> `{f"{split}_loss": ..., f"{split}_accuracy": ...}` for `model` now."""

    def __init__(self, model: keras.Model, splits: Dict[str, Arrays], jit_compile: bool = False,
                 batch_size: int = BATCH_SIZE):
        self.model, self.names = model, list(splits)
        self.sources = list(splits.values())  # the arrays' ids key `evaluator_for`'s cache: keep them alive
        sizes = [len(labels) for _, labels in splits.values()]
        total = sum(sizes)
        batch_size = min(batch_size, total)
        padding = -total % batch_size
        images = np.concatenate([x for x, _ in splits.values()] + [np.zeros((padding, *splits[self.names[0]][0].shape[1:]),
                                                                           dtype=splits[self.names[0]][0].dtype)])
        labels = np.concatenate([y for _, y in splits.values()] + [np.zeros(padding, dtype=np.int64)]).astype(np.int64)
        # Padding goes to an extra segment that no split reads.
        segments = np.repeat(np.arange(len(sizes) + 1), sizes + [padding]).astype(np.int32)
        batches = (total + padding) // batch_size
        self.images = tf.constant(images.reshape(batches, batch_size, *images.shape[1:]))
        self.labels = tf.constant(labels.reshape(batches, batch_size))
        self.segments = tf.constant(segments.reshape(batches, batch_size))
        self.sizes = np.array(sizes, dtype=np.float64)
        self.first_batches = (-(-sizes[0] // batch_size), sizes[0] // batch_size)
        """(batches holding all of the first split, batches holding only it): `part` picks a range."""
        self._sums = tf.function(self._sums_per_split, jit_compile=jit_compile,
                                 input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32)])

    def _sums_per_split(self, begin, end):
        count = len(self.names) + 1
        loss = tf.zeros([count], tf.float32)
        correct = tf.zeros([count], tf.float32)
        for index in tf.range(begin, end):
            labels, segments = self.labels[index], self.segments[index]
            logits = tf.cast(self.model(self.images[index], training=False), tf.float32)
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
            hits = tf.cast(tf.equal(tf.argmax(logits, axis=-1), labels), tf.float32)
            loss += tf.math.unsorted_segment_sum(losses, segments, count)
            correct += tf.math.unsorted_segment_sum(hits, segments, count)
        regularization = tf.add_n(self.model.losses) if self.model.losses else tf.constant(0.0)
        return loss, correct, regularization

    def __call__(self, part: str = "all") -> Dict[str, float]:
        """Every split's figures ("all"), the first split's ("first") or the others' ("rest").

        Each part sums the batches that hold its splits, in the same order as "all" (a batch
        outside them adds exact zeros there), so its figures are bitwise those of "all".
        """
        total = int(self.images.shape[0])
        begin, end = {"all": (0, total), "first": (0, self.first_batches[0]), "rest": (self.first_batches[1], total)}[part]
        sums = self._sums(tf.constant(begin, tf.int32), tf.constant(end, tf.int32))
        loss, correct, regularization = (t.numpy().astype(np.float64) for t in sums)
        out = {}
        names = {"all": self.names, "first": self.names[:1], "rest": self.names[1:]}[part]
        for index, name in ((self.names.index(n), n) for n in names):
            out[f"{name}_loss"] = float(loss[index] / self.sizes[index] + regularization)
            out[f"{name}_accuracy"] = float(correct[index] / self.sizes[index])
        return out


def evaluator_for(model: keras.Model, splits: Dict[str, Arrays], jit_compile: bool = False,
                  batch_size: int = BATCH_SIZE) -> Evaluator:
    """The model's `Evaluator` of these splits, built (and traced) once per process.

    The cache lives on the model (set past Keras's attribute tracking, so checkpoints never
    see it), so it goes when the model goes.
    """
    cache = model.__dict__.get(_CACHE)
    if cache is None:
        cache = {}
        object.__setattr__(model, _CACHE, cache)
    key = (tuple(splits), tuple(id(array) for pair in splits.values() for array in pair), jit_compile, batch_size)
    if key not in cache:
        cache[key] = Evaluator(model, splits, jit_compile, batch_size)
    return cache[key]


_CACHE = "_lth_tf_evaluators"
