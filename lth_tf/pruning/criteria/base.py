"""What a pruning criterion is: a score per weight; the lowest-scoring surviving weights are pruned."""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

Criterion = Callable[[np.ndarray, np.ndarray, np.random.Generator, Optional[np.ndarray]], np.ndarray]
"""(final weights, initial weights, rng, recorded per-iteration change or None) -> scores; higher is kept."""
