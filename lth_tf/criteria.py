"""Pruning criteria: a score per weight; the lowest-scoring surviving weights are pruned.

A criterion sees the weights after training and at the round's start (θ0 for a ticket),
so criteria that look at how weights moved (Zhou et al., "Deconstructing Lottery
Tickets") fit the same signature as the paper's magnitude criterion.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from lth_tf.registry import Registry

Criterion = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(final weights, initial weights) -> scores of the same shape; higher is kept."""

CRITERIA = Registry("criterion")
register = CRITERIA.register
get = CRITERIA.lookup


@register("magnitude")
def magnitude(final: np.ndarray, initial: np.ndarray) -> np.ndarray:
    """The paper's criterion: keep the weights with the largest final magnitude."""
    return np.abs(final)
