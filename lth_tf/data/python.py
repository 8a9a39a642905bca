"""`python:NAME`: data handed over in Python (`lth_tf.find_tickets`), as tf.data or NumPy.

Each split is a finite `tf.data.Dataset` of `(x, y)` pairs, batched or not, or a pair of
arrays `(x, y)`; `y` holds integer class indices (not one-hot). Datasets are read once
into arrays, since lth-tf shuffles, batches and evaluates them itself (see `splits`).
Inputs become float32 and are otherwise taken as given: no scaling unless the
`normalization` setting asks for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import numpy as np

from lth_tf.data.registry import RawData, normalize, register
from lth_tf.errors import UserError

if TYPE_CHECKING:  # TensorFlow loads with the data, not when the registry is read
    import tensorflow as tf

    from lth_tf.data.splits import Arrays, Splits

READ_BATCH = 4096


@register("python", default_validation=5000, takes_argument=True)
def load(name: str, _hparams) -> RawData:
    raise UserError(f"dataset 'python:{name}' is data given in Python; pass it to lth_tf.find_tickets(...)")


def _from_dataset(dataset: tf.data.Dataset, split: str) -> Arrays:
    import tensorflow as tf

    if dataset.cardinality() == tf.data.INFINITE_CARDINALITY:
        raise UserError(f"the {split} dataset is infinite (a .repeat()?); pass a finite dataset, read once")
    spec = dataset.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2 and all(isinstance(s, tf.TensorSpec) for s in spec)):
        raise UserError(f"the {split} dataset must yield (x, y) pairs of tensors, got {spec}")
    labels = spec[1]
    if not labels.dtype.is_integer or labels.shape.rank not in (0, 1):
        raise UserError(f"the {split} dataset's labels must be integer class indices, one per example "
                        f"(not one-hot), got {labels.dtype.name} of shape {labels.shape}")
    if labels.shape.rank == 0:
        dataset = dataset.batch(READ_BATCH)
    batches = list(dataset.as_numpy_iterator())
    if not batches:
        raise UserError(f"the {split} dataset is empty")
    return _checked(np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches]), split)


def _checked(x, y, split: str) -> Arrays:
    x, y = np.asarray(x), np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer) or y.ndim != 1:
        raise UserError(f"the {split} labels must be a 1-D array of integer class indices (not one-hot), "
                        f"got {y.dtype} of shape {y.shape}")
    if len(x) != len(y) or len(y) == 0:
        raise UserError(f"the {split} data has {len(x)} examples but {len(y)} labels")
    if y.min() < 0:
        raise UserError(f"the {split} labels include negative class indices")
    return x.astype(np.float32), y.astype("int64")  # copies: the caller's arrays stay untouched


def to_arrays(data, split: str) -> Arrays:
    """One split as (x, y) arrays, from a finite tf.data.Dataset or an (x, y) pair."""
    from lth_tf.tfkeras import keras  # noqa: F401  (first: TensorFlow's quiet start)
    import tensorflow as tf

    if isinstance(data, tf.data.Dataset):
        return _from_dataset(data, split)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return _checked(*data, split)
    raise UserError(f"the {split} data must be a tf.data.Dataset of (x, y) or a pair of arrays (x, y), "
                    f"got {type(data).__name__}")


def splits(name: str, train, test, validation=None, validation_size: Optional[int] = None,
           normalization: str = "unit", augment: bool = False) -> Splits:
    """`Splits` from the user's data; without `validation`, it is held out of train (fixed seed)."""
    from lth_tf.data.splits import Splits, hold_out

    train, test = to_arrays(train, "train"), to_arrays(test, "test")
    if validation is None:
        size = validation_size or 5000
        if size >= len(train[1]):
            raise UserError(f"holding out {size} validation examples leaves no training data "
                            f"({len(train[1])} examples); pass validation=... or a smaller validation_size")
        train, validation = hold_out(*train, size)
    else:
        validation = to_arrays(validation, "validation")
    for split, (x, _) in (("validation", validation), ("test", test)):
        if x.shape[1:] != train[0].shape[1:]:
            raise UserError(f"the {split} examples have shape {x.shape[1:]}, the training ones {train[0].shape[1:]}")
    train, validation, test = normalize((train, validation, test), normalization)
    classes = int(max(s[1].max() for s in (train, validation, test))) + 1
    return Splits(name, train, validation, test, classes, augment=augment)
