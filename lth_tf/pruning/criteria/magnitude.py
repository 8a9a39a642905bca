"""The paper's criterion ("large_final"): keep the weights with the largest final magnitude."""

import numpy as np


def score(final: np.ndarray, initial: np.ndarray, rng: np.random.Generator, change=None) -> np.ndarray:
    """The paper's criterion ("large_final"): keep the weights with the largest final magnitude."""
    return np.abs(final)
