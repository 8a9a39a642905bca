"""Pruning criteria: a score per weight; the lowest-scoring surviving weights are pruned.

A criterion sees the weights after training and at the round's start (θ0 for a ticket),
so the criteria of Zhou et al., "Deconstructing Lottery Tickets", which look at how
weights moved, share one signature with the paper's magnitude criterion. `random` is the
criterion-level control: masks stay nested across rounds but ignore the weights.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from lth_tf.registry import Registry

Criterion = Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]
"""(final weights, initial weights, rng) -> scores of the same shape; higher is kept."""

CRITERIA = Registry("criterion")
register = CRITERIA.register
get = CRITERIA.lookup


@register("magnitude")
def magnitude(final: np.ndarray, initial: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The paper's criterion ("large_final"): keep the weights with the largest final magnitude."""
    return np.abs(final)


@register("movement")
def movement(final: np.ndarray, initial: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Keep the weights that moved most in training, |θ_final - θ0|, whatever their size."""
    return np.abs(final - initial)


@register("magnitude_increase")
def magnitude_increase(final: np.ndarray, initial: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Keep the weights whose magnitude grew most, |θ_final| - |θ0| (Zhou et al.'s best performer)."""
    return np.abs(final) - np.abs(initial)


@register("random")
def random(final: np.ndarray, initial: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ignore the weights: a uniformly random ranking, drawn from the round's seeded generator."""
    return rng.random(final.shape)
