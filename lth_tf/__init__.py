"""lth-tf: find lottery tickets (Frankle & Carbin, ICLR 2019) in Keras models, tracked in MLflow.

The library a TF user imports: masks (`masking`), pruning (`pruning`, `criteria`), the
reset-to-θ0 and evaluation callbacks (`callbacks`), models, data, config and tracking.
`pipelines/` composes them into experiments.
"""

from lth_tf import tfkeras  # noqa: F401  (first: selects Keras 2 before TensorFlow loads)

__version__ = "0.1.0"
