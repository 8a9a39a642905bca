"""Drawing a mask at initialization, before any training: SNIP, GraSP and SynFlow (issue 20).

The public surface. A method is one file that registers a `draw(model, counts, batch,
loss, invert, **settings)` function in `METHODS`; `counts` comes from `target_counts`
(a ticket's total, or its per-layer counts), `batch` from `scoring_batch` for the
methods that read data. The sanity checks of Frankle et al. 2021 are in `sanity`.
"""

from lth_tf.pruning.at_init.base import (  # noqa: F401
    METHODS, SCOPES, Counts, Method, inverted, keep, one_shot, resolve_loss, scoring_batch, target_counts,
)
from lth_tf.pruning.at_init.grasp import grasp, grasp_scores  # noqa: F401
from lth_tf.pruning.at_init.sanity import layerwise_shuffle  # noqa: F401
from lth_tf.pruning.at_init.snip import snip, snip_scores  # noqa: F401
from lth_tf.pruning.at_init.synflow import exponential_schedule, synflow, synflow_scores  # noqa: F401
