"""The per-round summary: what a user compares across rounds, in MLflow and as a table."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, fields
from typing import Dict, List, Optional

from lth_tf import naming
from lth_tf.reports.flops import ForwardCost
from lth_tf.reports import verdict as verdicts
from lth_tf.reports.rows import LOCATION, NetworkSummary
from lth_tf.tracking import artifacts
from lth_tf.training.loop import RoundHistory


def summarize(round_: int, kind: str, replicate: int, seed: int, remaining: float, history: RoundHistory,
              robustness: Optional[Dict[str, float]] = None, cost: Optional[ForwardCost] = None) -> NetworkSummary:
    stop = history.early_stop
    saved = ({} if cost is None else
             dict(nonzero_weights=float(cost.surviving_weights), flops=float(cost.flops), dense_flops=float(cost.dense_flops)))
    return NetworkSummary(
        round=round_,
        kind=kind,
        replicate=replicate,
        seed=seed,
        remaining_fraction=remaining,
        early_stop_iteration=int(stop["iteration"]),
        early_stop_val_loss=stop["val_loss"],
        early_stop_val_accuracy=stop["val_accuracy"],
        early_stop_test_accuracy=stop["test_accuracy"],
        final_test_accuracy=history.final["test_accuracy"],
        final_train_accuracy=history.final_train_accuracy,
        robustness=dict(robustness or {}),
        **saved,
    )


COLUMNS = [
    ("round", "round", "{}"),
    ("kind", "kind", "{}"),
    ("seed", "seed", "{}"),
    ("remaining_fraction", "remaining %", "{:.1%}"),
    ("early_stop_iteration", "early-stop it", "{}"),
    ("early_stop_val_accuracy", "val acc @stop", "{:.4f}"),
    ("early_stop_test_accuracy", "test acc @stop", "{:.4f}"),
    ("final_test_accuracy", "final test acc", "{:.4f}"),
    ("final_train_accuracy", "final train acc", "{:.4f}"),
    ("nonzero_weights", "nonzero weights", "{:,.0f}"),
    ("flops", "MFLOPs", "{:.3g}"),
]


def _cells(row: NetworkSummary) -> List[str]:
    values = asdict(row)
    return [fmt.format(values[key]) for key, _, fmt in COLUMNS]


def to_csv(rows: List[NetworkSummary]) -> str:
    """One row per network; `--robustness` metrics as columns of their own."""
    extra = sorted({name for r in rows for name in r.robustness})
    out = io.StringIO()
    columns = [f.name for f in fields(NetworkSummary) if f.name not in ("robustness", *LOCATION)]
    writer = csv.DictWriter(out, fieldnames=columns + extra)
    writer.writeheader()
    for row in rows:
        values = asdict(row)
        writer.writerow({**{k: values[k] for k in columns}, **row.robustness})
    return out.getvalue()


def to_markdown(rows: List[NetworkSummary]) -> str:
    header = [title for _, title, _ in COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def to_text(rows: List[NetworkSummary]) -> str:
    """An aligned plain-text table for the terminal."""
    table = [[title for _, title, _ in COLUMNS]] + [_cells(r) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in table) + "\n"


def as_networks(rows: List[NetworkSummary]) -> List[verdicts.Network]:
    """What the verdict needs of each summary (a row read without a seed pairs as seed -1)."""
    return [verdicts.Network(r.kind, r.round, -1 if r.seed is None else r.seed, r.remaining_fraction,
                             r.early_stop_test_accuracy) for r in rows]


def versus_controls(rows: List[NetworkSummary], tolerance: float = verdicts.DENSE_TOLERANCE) -> List[str]:
    """One line per round with controls: the verdict, and the ticket's paired difference to each control and to dense.

    This is the paper's question (is it the initialization that matters?), so a run ends by
    answering it: `ticket - control` paired by seed with its 95% t-interval
    (`lth_tf.reports.verdict`); "winning ticket" only when the rule says so.
    """
    return [level.line() for level in verdicts.level_verdicts(as_networks(rows), tolerance)
            if level.verdict.versus_controls]  # the other levels: the report's verdict table


def last_evaluation(training) -> int:
    """The budget's last evaluated iteration (`--iterations` on the `--eval-interval` grid)."""
    return training.iterations - training.iterations % training.eval_interval


def budget_warnings(rows: List[NetworkSummary], last_evaluation: int) -> List[str]:
    """A warning per network whose early stop is the last evaluation (validation loss still falling)."""
    late = [r for r in rows if verdicts.stopped_at_budget_end(r.early_stop_iteration, last_evaluation)]
    if not late:
        return []
    names = ", ".join(f"{r.kind} r{r.round:02d} s{r.seed}" for r in late[:6]) + (" ..." if len(late) > 6 else "")
    return [f"warning: early stop at the end of the budget (iteration {last_evaluation}) for {len(late)} of "
            f"{len(rows)} networks ({names}): validation loss was still falling, so their accuracy and "
            "early-stop iteration are cut off by --iterations; train longer to compare them"]


def log_network_table(rows: List[NetworkSummary]) -> None:
    """The active parent run's one-row-per-network table, as CSV and Markdown artifacts."""
    artifacts.log_text(to_csv(rows), f"{naming.NETWORK_TABLE}.csv")
    artifacts.log_text(to_markdown(rows), f"{naming.NETWORK_TABLE}.md")
