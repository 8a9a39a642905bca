"""Magnitude increase (Zhou et al. 2019's best performer): |θ_final| - |θ0|."""

import numpy as np


def score(final: np.ndarray, initial: np.ndarray, rng: np.random.Generator, change=None) -> np.ndarray:
    """Keep the weights whose magnitude grew most, |θ_final| - |θ0| (Zhou et al.'s best performer)."""
    return np.abs(final) - np.abs(initial)
