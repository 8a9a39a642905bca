"""lth-tf: find lottery tickets (Frankle & Carbin, ICLR 2019) in Keras models, tracked in MLflow.

The library a TF user imports: masks (`masking`), pruning (`pruning`, `criteria`), the
reset-to-θ0 and evaluation callbacks (`callbacks`), weight snapshots (`weights`), models,
data, config, tracking, and `reports` (finished experiments read back as figures and tables).
`pipelines/` composes them into experiments; `lth_tf.find_tickets` (in `api`) runs one
on your own model and data.
"""

from lth_tf import tfkeras  # noqa: F401  (first: selects Keras 2 before TensorFlow loads)

__version__ = "0.1.0"


def __getattr__(name):
    """`lth_tf.find_tickets`, imported on first use (it pulls in MLflow and the pipelines)."""
    if name == "find_tickets":
        from lth_tf.api import find_tickets

        return find_tickets
    raise AttributeError(f"module 'lth_tf' has no attribute '{name}'")
