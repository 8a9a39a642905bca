"""Error along the straight line between two trained networks: the instability of Frankle et al. 2020.

"Linear Mode Connectivity and the Lottery Ticket Hypothesis" (ICML 2020) trains two copies
of one network from θk with different SGD noise and evaluates the network whose weights are
θ(α) = (1 - α) θ_a + α θ_b at evenly spaced α in [0, 1] (30 points in the paper). The
error barrier (instability) is the maximum error on the path minus the mean of the two
endpoints' errors; the paper calls a network stable when it is under 2%.

Both snapshots belong to one masked model (the same mask), so a pruned weight, zero at
both ends, is exactly zero at every point; the masks are not part of a snapshot and are
never interpolated.

BatchNorm. Every network variable is interpolated, the moving mean and variance too, and
each point is evaluated in inference mode with those interpolated statistics; nothing is
recomputed. The public LMC implementations we found do the same (they interpolate the
whole PyTorch state dict and evaluate in eval mode), it needs no extra pass over the
data, and it keeps each endpoint exactly the trained network it stands for, so its errors
are that network's own evaluation. Recomputing the statistics at every point (as
permutation-alignment work such as REPAIR does) lowers barriers between unrelated
networks; we did not find what the LMC paper itself did.

Endpoints are the snapshots themselves and interior points are θ_a + α (θ_b - θ_a), so a
network interpolated with itself gives the same weights, bit for bit, at every point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterator, Tuple

import numpy as np

from lth_tf.training import weights
from lth_tf.training.evaluation import Arrays, evaluator_for
from lth_tf.tfkeras import keras

POINTS = 30
"""The paper's number of evenly spaced points on the path, endpoints included."""

STABLE_BELOW = 0.02
"""The paper's threshold: a network whose error barrier is under 2% is stable to SGD noise."""


@dataclass
class Path:
    """Errors (1 - accuracy) and losses per split at each point of the path."""

    alphas: np.ndarray
    errors: Dict[str, np.ndarray]
    losses: Dict[str, np.ndarray]

    def barrier(self, split: str) -> float:
        """The error barrier: maximum error on the path minus the mean of the endpoints' errors."""
        errors = self.errors[split]
        return float(np.max(errors) - (errors[0] + errors[-1]) / 2)

    def barriers(self) -> Dict[str, float]:
        return {split: self.barrier(split) for split in self.errors}

    def stable(self, split: str = "test", below: float = STABLE_BELOW) -> bool:
        return self.barrier(split) < below


def points(start: weights.Snapshot, end: weights.Snapshot, count: int = POINTS
           ) -> Iterator[Tuple[float, weights.Snapshot]]:
    """(α, θ(α)) at `count` evenly spaced α from 0 to 1; the endpoints are `start` and `end` themselves.

    Non-float variables (none in lth-tf's models) cannot be interpolated: they keep `start`'s
    value inside the path.
    """
    if count < 2:
        raise ValueError(f"a path needs at least 2 points (its endpoints), not {count}")
    if len(start) != len(end):
        raise ValueError(f"the snapshots hold {len(start)} and {len(end)} variables: not one network")
    for index, alpha in enumerate(np.linspace(0.0, 1.0, count)):
        if index == 0:
            yield 0.0, start
        elif index == count - 1:
            yield 1.0, end
        else:
            yield float(alpha), [_between(a, b, alpha) for a, b in zip(start, end)]


def _between(a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    if a.shape != b.shape:
        raise ValueError(f"cannot interpolate a variable of shape {a.shape} with one of shape {b.shape}")
    if not np.issubdtype(a.dtype, np.floating):
        return a
    return (a + alpha * (b.astype(np.float64) - a)).astype(a.dtype)


def evaluate_path(model: keras.Model, start: weights.Snapshot, end: weights.Snapshot,
                  splits: Dict[str, Arrays], count: int = POINTS, jit_compile: bool = False) -> Path:
    """Loss and error of each split at `count` points from `start` to `end`, both snapshots of `model`.

    Each point is written into `model` under its masks (`weights.restore`) and evaluated
    with the model's cached one-pass evaluator; the model's own weights are put back at the
    end. `splits` maps a name (`train`, `test`) to (images, labels).
    """
    evaluator = evaluator_for(model, splits, jit_compile)
    own = weights.take(model)
    alphas, records = [], []
    try:
        for alpha, snapshot in points(start, end, count):
            weights.restore(model, snapshot)
            alphas.append(alpha)
            records.append(evaluator())
    finally:
        weights.restore(model, own)
    return Path(
        alphas=np.array(alphas),
        errors={name: np.array([1.0 - r[f"{name}_accuracy"] for r in records]) for name in splits},
        losses={name: np.array([r[f"{name}_loss"] for r in records]) for name in splits},
    )
