"""lth-tf: find lottery tickets (Frankle & Carbin, ICLR 2019) in Keras models, tracked in MLflow.

The library a TF user imports: masks (`masking`), pruning (`pruning`, `criteria`), the
reset-to-θ0 and evaluation callbacks (`callbacks`), weight snapshots (`weights`), models,
data, config, tracking, and `reports` (finished experiments read back as figures and tables).
`pipelines/` composes them into experiments; `lth_tf.find_tickets` (in `api`) runs one
on your own model and data.
"""

import os

# Keras 2 (tf_keras) must be chosen before TensorFlow loads, wherever it is first imported; TensorFlow itself
# is imported only when work starts (`lth_tf.tfkeras`, the one Keras import), so `lth-tf --help` and a
# mistyped flag answer without it.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"


def __getattr__(name):
    """`lth_tf.find_tickets`, `find_supermasks`, `to_keras3` and `save_keras3`, imported on first use."""
    if name in ("find_tickets", "find_supermasks"):
        from lth_tf import api

        return getattr(api, name)
    if name in ("to_keras3", "save_keras3"):  # a ticket back in Keras 3 (TensorFlow 2.21's `import keras`)
        from lth_tf.models import keras3

        return getattr(keras3, name)
    raise AttributeError(f"module 'lth_tf' has no attribute '{name}'")
