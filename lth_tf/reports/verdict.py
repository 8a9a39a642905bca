"""Is a level's ticket a *winning* ticket? Paired (same seed) differences with their uncertainty.

A ticket and its control trained from the same seed share the data order and θ0's draw,
so their difference is far less noisy than the two kinds' separate means (seeds' dense
networks can differ by points). Each level therefore compares per seed: d_i = ticket_i -
other_i for every seed both have, then reports the mean of d and a 95% confidence
interval, mean ± t(0.975, n-1) · s/√n (Student's t-interval, sample standard deviation s,
n-1 degrees of freedom; the quantile from scipy, which mlflow and tfmot install). One
seed gives a difference but no interval: it says "1 replicate: no interval".

The verdict rule. The paper's hypothesis says a winning ticket, trained in isolation,
"can match the test accuracy of the original network"; its controls (random
reinitialization, random pruning) are what show that the initialization matters, and
"the controls are what decide" (Liu et al., PAPER.md). So a level is *winning* only when

1. the ticket matches the dense network: the mean paired difference ticket - dense is at
   least -`tolerance`. "Match" is read as "not below": `DENSE_TOLERANCE` is 0, the paper's
   own bar; a user may pass a small tolerance (in accuracy, 0.005 = half a point) and
   every report prints the difference and its interval, so a reader sees how close;
2. there is at least one control, and the ticket is ahead of every control beyond the
   interval: the lower end of each paired difference's interval is above zero. With one
   seed there is no interval, so one seed never makes a level winning.

Pure numbers in, plain records out: no MLflow, no plotting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Tuple

from lth_tf.reports.aggregate import mean_std

CONFIDENCE = 0.95
DENSE_TOLERANCE = 0.0
"""How far (in accuracy) a ticket's mean may fall below the dense network's and still "match" it."""
NO_INTERVAL = "1 replicate: no interval"


@dataclass(frozen=True)
class PairedDifference:
    """Mean of `ticket - other` over the seeds both have, with its t-interval (None below two seeds)."""

    n: int
    mean: float
    low: Optional[float]
    high: Optional[float]
    confidence: float = CONFIDENCE

    @property
    def has_interval(self) -> bool:
        return self.low is not None

    @property
    def ahead(self) -> bool:
        """Ahead beyond the interval: the whole interval lies above zero."""
        return self.has_interval and self.low > 0

    def describe(self, scale: float = 100.0, unit: str = "points") -> str:
        """`+2.00 points, 95% CI [+0.76, +3.24] (t-interval, 3 seeds)`; one seed:
        `+2.50 points (1 replicate: no interval)`."""
        mean = f"{self.mean * scale:+.2f} {unit}"
        if not self.has_interval:
            return f"{mean} ({NO_INTERVAL})"
        return (f"{mean}, {self.confidence:.0%} CI [{self.low * scale:+.2f}, {self.high * scale:+.2f}] "
                f"(t-interval, {self.n} seeds)")


def t_quantile(confidence: float, degrees_of_freedom: int) -> float:
    """The two-sided Student's t critical value: t(1 - (1 - confidence)/2, df)."""
    from scipy import stats  # scipy loads on first use: importing this module stays light

    return float(stats.t.ppf(1 - (1 - confidence) / 2, degrees_of_freedom))


def paired_difference(ticket: Mapping[int, float], other: Mapping[int, float],
                      confidence: float = CONFIDENCE) -> PairedDifference:
    """`ticket - other` paired by seed (`{seed: value}` each); seeds only one side has are left out.

    Raises `ValueError` when no seed has a finite value on both sides.
    """
    seeds = sorted(s for s in set(ticket) & set(other)
                   if math.isfinite(ticket[s]) and math.isfinite(other[s]))
    if not seeds:
        raise ValueError(f"no seed has both values to pair (seeds {sorted(ticket)} and {sorted(other)})")
    mean, sd = mean_std([ticket[s] - other[s] for s in seeds])
    if len(seeds) < 2:
        return PairedDifference(1, mean, None, None, confidence)
    half = t_quantile(confidence, len(seeds) - 1) * sd / math.sqrt(len(seeds))
    return PairedDifference(len(seeds), mean, mean - half, mean + half, confidence)


@dataclass(frozen=True)
class Verdict:
    """One level's verdict: winning or not, the differences it rests on, and why not."""

    winning: bool
    versus_dense: PairedDifference
    versus_controls: Dict[str, PairedDifference]
    reasons: Tuple[str, ...]
    """Why the level is not winning, one phrase per failed condition (empty when winning)."""

    @property
    def label(self) -> str:
        """What figures and tables call the ticket: "winning ticket" only when the rule says so."""
        return "winning ticket" if self.winning else "ticket"


def verdict(ticket: Mapping[int, float], dense: Mapping[int, float], controls: Mapping[str, Mapping[int, float]],
            tolerance: float = DENSE_TOLERANCE, confidence: float = CONFIDENCE) -> Verdict:
    """The level's verdict from `{seed: accuracy}` of its ticket, the dense network and each control."""
    versus_dense = paired_difference(ticket, dense, confidence)
    versus_controls = {kind: paired_difference(ticket, values, confidence) for kind, values in controls.items()}
    reasons = []
    if versus_dense.mean < -tolerance:
        reasons.append(f"below the dense network by {-versus_dense.mean * 100:.2f} points "
                       f"(tolerance {tolerance * 100:.2f})")
    if not versus_controls:
        reasons.append("no control to compare with")
    for kind, difference in versus_controls.items():
        if not difference.has_interval:
            reasons.append(f"vs {kind}: {NO_INTERVAL}")
        elif not difference.ahead:
            reasons.append(f"vs {kind}: not ahead beyond the interval ({difference.describe()})")
    return Verdict(not reasons, versus_dense, versus_controls, tuple(reasons))


TICKET_KINDS = ("ticket", "one_shot")
"""Kinds that are tickets (found by pruning and reset to θ0), not controls of one."""


@dataclass(frozen=True)
class Network:
    """What a level's verdict needs of one trained network (a summary row, from a run or from MLflow)."""

    kind: str
    round: int
    seed: int
    remaining_fraction: float
    accuracy: float
    """Test accuracy at early stop: the paper's measure."""


@dataclass(frozen=True)
class LevelVerdict:
    """One pruning level (round) of the primary ticket kind, judged against the dense network and its controls."""

    round: int
    remaining_fraction: float
    ticket_kind: str
    verdict: Verdict

    def line(self) -> str:
        """`round  7 (21.1% remaining): ticket: vs reinit +2.00 points, 95% CI [...]; vs dense ...`."""
        parts = [f"vs {kind} {d.describe()}" for kind, d in self.verdict.versus_controls.items()]
        parts.append(f"vs dense {self.verdict.versus_dense.describe()}")
        return (f"round {self.round:>2} ({self.remaining_fraction:6.1%} remaining): {self.verdict.label}: "
                + "; ".join(parts))


def primary_ticket_kind(networks) -> str:
    """The iterative ticket, unless only one-shot tickets were pruned."""
    return "ticket" if any(n.kind == "ticket" and n.round > 0 for n in networks) else "one_shot"


def level_verdicts(networks, tolerance: float = DENSE_TOLERANCE, confidence: float = CONFIDENCE):
    """A `LevelVerdict` per pruned round of the primary ticket kind, dense = the ticket of round 0 (same seed).

    Controls are the other kinds trained at that round; `one_shot` is a ticket, never a control.
    Rounds without a dense network to pair with are left out.
    """
    networks = list(networks)
    primary = primary_ticket_kind(networks)
    values: Dict[Tuple[str, int], Dict[int, float]] = {}
    remaining: Dict[int, list] = {}
    for n in networks:
        values.setdefault((n.kind, n.round), {})[n.seed] = n.accuracy
        if n.kind == primary:
            remaining.setdefault(n.round, []).append(n.remaining_fraction)
    dense = values.get(("ticket", 0))
    result = []
    for round_ in sorted(r for r in remaining if r > 0):
        if not dense:
            break
        controls = {kind: v for (kind, r), v in sorted(values.items()) if r == round_ and kind not in TICKET_KINDS}
        try:
            judged = verdict(values[(primary, round_)], dense, controls, tolerance, confidence)
        except ValueError:  # no seed shared with the dense network or a control
            continue
        result.append(LevelVerdict(round_, sum(remaining[round_]) / len(remaining[round_]), primary, judged))
    return result


def stopped_at_budget_end(early_stop_iteration: int, iterations: int) -> bool:
    """Early stop at the last evaluation: validation loss was still falling, so more training might help and
    "sooner than dense" comparisons are cut off by the budget."""
    return iterations > 0 and early_stop_iteration >= iterations
