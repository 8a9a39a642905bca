"""Datasets by name; importing the package registers every built-in loader."""

from lth_tf.data import idx, mnist5k, npz, python, tfds  # noqa: F401  (registration)
from lth_tf.data.registry import load, parse
from lth_tf.data.splits import Splits

__all__ = ["load", "parse", "Splits"]
