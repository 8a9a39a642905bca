"""Dataset names to loaders: adding a dataset is one module and one `@register` line.

A spec is either a name (`mnist-5k`) or `kind:argument` (`idx:DIR`, `tfds:NAME`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional, Tuple

from lth_tf.errors import UserError
from lth_tf.registry import Registry

if TYPE_CHECKING:  # the arrays' module imports TensorFlow: loaded when data is
    from lth_tf.data.splits import Arrays, Splits


@dataclass
class RawData:
    train: Arrays
    test: Arrays
    num_classes: int
    validation: Optional[Arrays] = None
    """A validation split of the data's own; None: held out of `train`."""
    prepared: Tuple[str, ...] = ()
    """What the loader did to the examples on their way to the model, in words (`input_note`):
    `("npz images of shape (28, 28) given a channel axis", "integer pixels 0-255 scaled to [0, 1]")`."""


@dataclass
class Entry:
    loader: Callable[[str, object], RawData]
    default_validation: int
    takes_argument: bool


REGISTRY = Registry("dataset")
"""Kind (`mnist-5k`, `idx`, ...) -> its `Entry`, on the one registry mechanism (`lth_tf.registry`)."""


def register(kind: str, default_validation: int, takes_argument: bool = False):
    """`@register("kind", default_validation)` above a loader: a dataset of your own."""
    def add(loader):
        REGISTRY.register(kind)(Entry(loader, default_validation, takes_argument))
        return loader

    return add


def describe() -> str:
    return ", ".join(f"{k}:ARG" if e.takes_argument else k for k, e in sorted(REGISTRY.items()))


def parse(spec: str):
    kind, _, arg = spec.partition(":")
    entry = REGISTRY.get(kind)
    if entry is None or entry.takes_argument != bool(arg):
        raise UserError(f"unknown dataset '{spec}'; use one of: {describe()}")
    return entry, arg


def load(hparams) -> Splits:
    """The dataset named by `hparams.dataset`, with validation held out of the training set,
    normalized, and augmented on the fly if `hparams.augment`."""
    from lth_tf.data.splits import Splits, hold_out

    entry, arg = parse(hparams.dataset)
    raw = entry.loader(arg, hparams)
    if raw.validation is not None:
        train, validation = raw.train, raw.validation
    else:
        size = hparams.validation_size or entry.default_validation
        if size >= len(raw.train[1]):
            raise UserError(
                f"--validation-size {size} leaves no training data ({len(raw.train[1])} training examples)"
            )
        train, validation = hold_out(*raw.train, size)
    standardized = standardizes(train[0], hparams.normalization)
    normalized = normalize((train, validation, raw.test), hparams.normalization)
    splits = Splits(hparams.dataset, *normalized, raw.num_classes, augment=hparams.augment)
    # said in the run header, the parent run's description and `lth-tf export` (`input_note`)
    splits.prepared = raw.prepared + (("each channel standardized by the training split's mean and std",)
                                      if standardized else ())
    return splits


def input_note(splits) -> str:
    """`(28, 28, 1) per example (npz images of shape (28, 28) given a channel axis; ...)`: the shape a model
    receives and what the loader did to get it (nothing said for data given in Python, taken as it is)."""
    shape = "(" + ", ".join(map(str, splits.input_shape)) + ("," if len(splits.input_shape) == 1 else "") + ")"
    prepared = getattr(splits, "prepared", ())
    return f"{shape} per example" + (f" ({'; '.join(prepared)})" if prepared else "")


def normalize(splits: Tuple[Arrays, ...], normalization: str) -> Tuple[Arrays, ...]:
    """Loaders give pixels in [0, 1]. 'standardize' (and 'auto' on color images, such as
    CIFAR-10's) then shifts and scales each channel by the training split's mean and std;
    'unit' (and 'auto' on grayscale images, such as MNIST's, as the paper's LeNet) keeps [0, 1]."""
    from lth_tf.data.splits import standardize

    return standardize(splits) if standardizes(splits[0][0], normalization) else splits


def standardizes(x, normalization: str) -> bool:
    """Whether `normalization` standardizes training images `x`: always with 'standardize', on color with 'auto'."""
    color = x.ndim == 4 and x.shape[-1] == 3
    return normalization == "standardize" or (normalization == "auto" and color)



