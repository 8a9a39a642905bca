"""Pruning criteria: a score per weight; the lowest-scoring surviving weights are pruned.

A criterion sees the weights after training and at the round's start (θ0 for a ticket),
so criteria that look at how weights moved (Zhou et al., "Deconstructing Lottery
Tickets") fit the same signature as the paper's magnitude criterion.
"""

from __future__ import annotations

from typing import Callable, Dict

import numpy as np

Criterion = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(final weights, initial weights) -> scores of the same shape; higher is kept."""

CRITERIA: Dict[str, Criterion] = {}


def register(name: str):
    def add(fn: Criterion) -> Criterion:
        CRITERIA[name] = fn
        return fn

    return add


@register("magnitude")
def magnitude(final: np.ndarray, initial: np.ndarray) -> np.ndarray:
    """The paper's criterion: keep the weights with the largest final magnitude."""
    return np.abs(final)


def get(name: str) -> Criterion:
    return CRITERIA[name]
