"""Movement (Zhou et al. 2019): keep the weights that moved most in training."""

import numpy as np


def score(final: np.ndarray, initial: np.ndarray, rng: np.random.Generator, change=None) -> np.ndarray:
    """Keep the weights that moved most in training, |θ_final - θ0|, whatever their size."""
    return np.abs(final - initial)
