"""The sanity checks of Frankle et al. 2021 ("Pruning Neural Networks at Initialization:
Why Are We Missing the Mark?"), each changing one thing about a drawn mask:

- *layerwise shuffle*: each layer keeps its count, at uniformly random positions
  (`layerwise_shuffle`). If accuracy holds, the method found per-layer densities, not
  particular weights. On a ticket this is the `random_prune` control.
- *reinitialize*: the same mask on weights drawn afresh from the initializers: that is
  `lth_tf.training.weights.fresh_initialization`, as the `reinit` control.
- *score inversion*: keep the lowest-scored weights instead of the highest: every
  method's `invert=True` (`base.inverted`).
"""

from __future__ import annotations

import numpy as np

from lth_tf.pruning import counts as pruning
from lth_tf.pruning.at_init.base import Arrays


def layerwise_shuffle(masks: Arrays, rng: np.random.Generator) -> Arrays:
    """Each layer's mask with its count kept and its positions drawn uniformly at random.

    A uniformly random permutation of a mask and a uniformly random choice of as many
    positions are the same distribution, so this is `pruning.random_masks_like`.
    """
    return pruning.random_masks_like(masks, rng)
