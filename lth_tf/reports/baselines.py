"""Tickets against every other way to get a sparse network (issue 20): two tables from finished runs.

- *Within 0.5 points of dense*: per kind (ticket, its controls, the masks drawn at
  initialization, tfmot's gradual pruning) and round, the change in test accuracy at early
  stop against the dense network of the same replicate, in points, mean ± std over the
  replicates, marked ✓ when the mean is at most `TOLERANCE` points below dense.
- *Sanity checks* (Frankle et al. 2021): per method and round, how much each check
  changes test accuracy against the method's own network of the same replicate (the
  `METHOD_CHECK` kinds of `pipelines.controls.at_init`; for the tickets, `random_prune`
  is the layerwise shuffle and `reinit` the reinitialization).

Pure Python over `lth_tf.reports.rows.NetworkSummary` rows,
like `aggregate`: no MLflow.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from lth_tf.reports.aggregate import mean_std
from lth_tf.reports.results import kind_sort_key
from lth_tf.reports.tables import _markdown, percent

METRIC = "early_stop_test_accuracy"
TOLERANCE = 0.5
"""Points of test accuracy below the dense network that still count as "as good"."""
CHECKS = ("shuffle", "reinit", "invert")
"""The sanity checks' kind suffixes (`METHOD_CHECK`)."""
TICKET_CHECKS = {"random_prune": "shuffle", "reinit": "reinit"}
"""The tickets' sanity checks are existing controls."""


def _by_key(rows) -> Dict[Tuple[str, int], Dict[int, float]]:
    values: Dict[Tuple[str, int], Dict[int, float]] = defaultdict(dict)
    for row in rows:
        values[(row.kind, row.round)][row.replicate] = 100 * row.metrics().get(METRIC, float("nan"))
    return values


def _delta(values: Dict[int, float], reference: Dict[int, float]) -> Optional[Tuple[float, float, int]]:
    paired = [values[r] - reference[r] for r in values if r in reference]
    if not paired:
        return None
    mean, std = mean_std(paired)
    return mean, std, len(paired)


def _cell(delta, mark: bool = False) -> str:
    if delta is None:
        return "–"
    mean, std, n = delta
    text = f"{mean:+.2f}" + (f" ± {std:.2f}" if n > 1 else "")
    return text + (" ✓" if mark and mean >= -TOLERANCE else "")


def check_of(kind: str, kinds: Iterable[str]) -> Optional[Tuple[str, str]]:
    """(method, check) if `kind` is a sanity check of a kind present, else None."""
    if kind in TICKET_CHECKS:
        return "ticket", TICKET_CHECKS[kind]
    method, _, check = kind.rpartition("_")
    return (method, check) if check in CHECKS and method in kinds else None


def method_kinds(kinds: Iterable[str]) -> List[str]:
    """The kinds that are ways to get a sparse network (the ticket, its controls, the masks drawn at
    initialization, gradual pruning), not a sanity check of one; `random_prune` and `reinit` are both."""
    kinds = sorted(set(kinds), key=kind_sort_key)
    return [k for k in kinds if check_of(k, kinds) is None or k in TICKET_CHECKS]


def has_method_checks(kinds: Iterable[str]) -> bool:
    """Whether any kind is a sanity check of a mask-drawing method (not of the ticket)."""
    kinds = set(kinds)
    return any(check_of(k, kinds) is not None and k not in TICKET_CHECKS for k in kinds)


def _rounds(rows) -> Tuple[List[int], Dict[int, float]]:
    remaining: Dict[int, List[float]] = defaultdict(list)
    for row in rows:
        if row.kind == "ticket" and row.round > 0:
            remaining[row.round].append(row.remaining_fraction)
    rounds = sorted({row.round for row in rows if row.round > 0 and row.kind != "ticket"})
    return rounds, {r: sum(v) / len(v) for r, v in remaining.items()}


def within_dense_markdown(rows: Sequence) -> str:
    """Rows = kinds (not their sanity checks), columns = rounds that have controls; '' without a dense network."""
    values = _by_key(rows)
    dense = values.get(("ticket", 0))
    rounds, remaining = _rounds(rows)
    if not dense or not rounds:
        return ""
    methods = method_kinds(k for k, _ in values)
    header = ["kind"] + [f"round {r} ({percent(remaining.get(r, float('nan')))}%)" for r in rounds]
    cells = [[kind] + [_cell(_delta(values[(kind, r)], dense), mark=True) if (kind, r) in values else "–"
                       for r in rounds] for kind in methods]
    return (f"Test accuracy at early stop minus the dense network's (same replicate), points; ✓: within "
            f"{TOLERANCE} points\n\n" + _markdown(header, cells))


def sanity_markdown(rows: Sequence) -> str:
    """Rows = (method, check), columns = rounds: the check's test accuracy minus the method's, points."""
    values = _by_key(rows)
    kinds = sorted({k for k, _ in values}, key=kind_sort_key)
    checks = sorted(((check_of(k, kinds), k) for k in kinds if check_of(k, kinds)),
                    key=lambda item: (kind_sort_key(item[0][0]), CHECKS.index(item[0][1])))
    rounds, remaining = _rounds(rows)
    if not checks or not rounds:
        return ""
    header = ["method", "check"] + [f"round {r} ({percent(remaining.get(r, float('nan')))}%)" for r in rounds]
    cells = [[method, f"{check} ({kind})" if kind in TICKET_CHECKS else check]
             + [_cell(_delta(values[(kind, r)], values[(method, r)]))
                if (kind, r) in values and (method, r) in values else "–" for r in rounds]
             for (method, check), kind in checks]
    return ("Sanity checks (Frankle et al. 2021): test accuracy at early stop of the check minus the method's "
            "(same replicate), points\n\n" + _markdown(header, cells))


def markdown(rows: Sequence) -> str:
    """Both tables, or '' when the runs hold no controls."""
    parts = [t for t in (within_dense_markdown(rows), sanity_markdown(rows)) if t]
    return "\n".join(parts)
