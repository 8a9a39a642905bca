"""The one place lth-tf imports Keras (and so TensorFlow).

tfmot's pruning registry and wrappers only understand Keras 2 (`tf_keras`); a Keras 3
model reaching them raises `ValueError`. Everything in lth-tf takes `keras` from here so
a stray `import keras` can never mix the two.
"""

import contextlib
import os
import sys

# Must be set before TensorFlow is imported so `tf.keras` also resolves to Keras 2.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def _quiet_native_startup():
    """TensorFlow's C++ start-up notes (oneDNN, CUDA probing) go straight to file
    descriptor 2 and ignore every log-level variable; hide them unless the user lowered
    TF_CPP_MIN_LOG_LEVEL. Python errors still surface: the exception outlives the redirect."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "3":
        yield
        return
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextlib.contextmanager
def _keras3_hidden():
    """tfmot's pruning registry probes `from keras.src.engine import base_layer` (Keras 2's private module
    under the name `keras`); with TensorFlow 2.21 that name is Keras 3, so the probe loads all of Keras 3
    (~500 modules, matplotlib among them, about a quarter of lth-tf's start-up) only to fail and fall back
    to `base_layer = None`. Hidden while tfmot loads, the probe fails at once, with the same result; the
    name is given back after, so a later `import keras` (`lth_tf.models.keras3`, the user's code) works.
    Nothing is hidden if Keras 3 is already loaded."""
    if "keras" in sys.modules:
        yield
        return
    sys.modules["keras"] = None  # `import keras` raises ImportError, as tfmot expects of a missing module
    try:
        yield
    finally:
        if sys.modules.get("keras", 0) is None:
            del sys.modules["keras"]


with _quiet_native_startup():
    import tensorflow  # noqa: F401,E402
    import tf_keras as keras  # noqa: E402

    with _keras3_hidden():
        import tensorflow_model_optimization  # noqa: F401,E402

from lth_tf.runtime.gpu import grow_memory  # noqa: E402

grow_memory()  # before TensorFlow first uses a GPU, so that processes can share one

__all__ = ["keras"]
