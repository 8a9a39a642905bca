"""Pruning criteria: a score per weight; the lowest-scoring surviving weights are pruned.

A criterion sees the weights after training and at the round's start (θ0 for a ticket),
so the criteria of Zhou et al., "Deconstructing Lottery Tickets", which look at how
weights moved, share one signature with the paper's magnitude criterion. `random` is the
criterion-level control: masks stay nested across rounds but ignore the weights.
`local_change` is the seed notes' idea: keep the weights that still move fast from one
iteration to the next at the end of training; its evidence (`change`, mean |w_t - w_{t-1}|
per weight) is recorded during training by `callbacks.LocalChange`.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from lth_tf.registry import Registry

Criterion = Callable[[np.ndarray, np.ndarray, np.random.Generator, Optional[np.ndarray]], np.ndarray]
"""(final weights, initial weights, rng, recorded per-iteration change or None) -> scores; higher is kept."""

NEEDS_CHANGE = ("local_change",)
"""Criteria whose evidence is recorded during training (`callbacks.LocalChange`)."""

CRITERIA = Registry("criterion")
register = CRITERIA.register
get = CRITERIA.lookup


@register("magnitude")
def magnitude(final: np.ndarray, initial: np.ndarray, rng: np.random.Generator, change=None) -> np.ndarray:
    """The paper's criterion ("large_final"): keep the weights with the largest final magnitude."""
    return np.abs(final)


@register("movement")
def movement(final: np.ndarray, initial: np.ndarray, rng: np.random.Generator, change=None) -> np.ndarray:
    """Keep the weights that moved most in training, |θ_final - θ0|, whatever their size."""
    return np.abs(final - initial)


@register("magnitude_increase")
def magnitude_increase(final: np.ndarray, initial: np.ndarray, rng: np.random.Generator, change=None) -> np.ndarray:
    """Keep the weights whose magnitude grew most, |θ_final| - |θ0| (Zhou et al.'s best performer)."""
    return np.abs(final) - np.abs(initial)


@register("random")
def random(final: np.ndarray, initial: np.ndarray, rng: np.random.Generator, change=None) -> np.ndarray:
    """Ignore the weights: a uniformly random ranking, drawn from the round's seeded generator."""
    return rng.random(final.shape)


@register("local_change")
def local_change(final: np.ndarray, initial: np.ndarray, rng: np.random.Generator,
                 change: Optional[np.ndarray] = None) -> np.ndarray:
    """Keep the weights that moved most per iteration near the end of training; prune the slow ones."""
    if change is None:
        raise ValueError("the local_change criterion needs the updates recorded while training (callbacks.LocalChange)")
    return change
