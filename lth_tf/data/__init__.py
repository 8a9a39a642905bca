"""Datasets by name; importing the package registers every built-in loader.

The registry and the loaders' declarations import no TensorFlow (`parse` checks `--dataset` while the
CLI validates its flags); `Splits` and the loading itself bring it in on first use.
"""

from lth_tf.data import idx, mnist5k, npz, python, tfds  # noqa: F401  (registration)
from lth_tf.data.registry import input_note, load, parse


def __getattr__(name):
    if name == "Splits":
        from lth_tf.data.splits import Splits

        return Splits
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["input_note", "load", "parse", "Splits"]
