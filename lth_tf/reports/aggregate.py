"""Pooling replicates: mean and standard deviation per kind and pruning level.

The paper reports each point as the mean over trials with error bars; here the spread
is the sample standard deviation (ddof=1), and 0 for a single trial, so one run still
gives a complete table. Pure numpy over plain rows: no MLflow, no plotting.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Sequence, Tuple

import numpy as np

from lth_tf.reports.results import SUMMARY_METRICS, kind_sort_key
from lth_tf.reports.rows import NetworkSummary

DEFAULT_ROUND_TARGETS = (0.513, 0.211, 0.07)
"""Remaining fractions the paper's curves highlight (LeNet rounds 3, 7, 12)."""


@dataclass
class Level:
    """One (kind, round) point of a figure or row of a table."""

    kind: str
    round: int
    remaining_fraction: float
    n: int
    mean: Dict[str, float]
    std: Dict[str, float]


def mean_std(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (0 for fewer than two values, nan for none)."""
    values = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if values.size == 0:
        return float("nan"), float("nan")
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0


def levels(rows: Iterable[NetworkSummary], metrics: Sequence[str] = SUMMARY_METRICS) -> List[Level]:
    """One Level per (kind, round), ordered by kind (tickets first) then round."""
    groups: Dict[Tuple[str, int], List[NetworkSummary]] = defaultdict(list)
    for row in rows:
        groups[(row.kind, row.round)].append(row)
    result = []
    for (kind, round_), group in sorted(groups.items(), key=lambda item: (kind_sort_key(item[0][0]), item[0][1])):
        stats = {m: mean_std([r.metrics().get(m, float("nan")) for r in group]) for m in metrics}
        result.append(Level(kind, round_, mean_std([r.remaining_fraction for r in group])[0], len(group),
                            {m: s[0] for m, s in stats.items()}, {m: s[1] for m, s in stats.items()}))
    return result


def by_kind(points: Iterable[Level]) -> Dict[str, List[Level]]:
    """Levels grouped into one series per kind, each sorted from dense to sparse."""
    series: Dict[str, List[Level]] = defaultdict(list)
    for level in points:
        series[level.kind].append(level)
    return {k: sorted(v, key=lambda lv: -lv.remaining_fraction) for k, v in series.items()}


def curve(histories: Iterable[Mapping[int, float]]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, mean, std) over runs, at the steps every run logged (replicates share the eval grid)."""
    histories = [h for h in histories if h]
    if not histories:
        return np.array([]), np.array([]), np.array([])
    steps = sorted(set.intersection(*(set(h) for h in histories)))
    values = np.array([[h[s] for s in steps] for h in histories], dtype=float)
    std = values.std(axis=0, ddof=1) if len(histories) > 1 else np.zeros(len(steps))
    return np.array(steps), values.mean(axis=0), std


def default_rounds(points: Iterable[Level], kind: str = "ticket",
                   targets: Sequence[float] = DEFAULT_ROUND_TARGETS) -> List[int]:
    """The dense round plus the rounds nearest (on a log scale) to the paper's highlighted levels."""
    available = {lv.round: lv.remaining_fraction for lv in points if lv.kind == kind and lv.remaining_fraction > 0}
    if not available:
        return []
    chosen = {min(available, key=lambda r: -available[r])}  # the densest: round 0 when present
    for target in targets:
        chosen.add(min(available, key=lambda r: (abs(math.log(available[r] / target)), r)))
    return sorted(chosen)
