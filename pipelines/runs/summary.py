"""The per-round summary: what a user compares across rounds, in MLflow and as a table."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Dict, List, Optional

from lth_tf import naming
from lth_tf.reports.flops import ForwardCost
from lth_tf.reports import verdict as verdicts
from lth_tf.tracking import artifacts
from lth_tf.training.loop import RoundHistory


@dataclass
class RoundSummary:
    """One trained network (a ticket or a control) of one trial."""

    round: int
    kind: str
    replicate: int
    seed: int
    remaining_fraction: float
    early_stop_iteration: int
    early_stop_val_loss: float
    early_stop_val_accuracy: float
    early_stop_test_accuracy: float
    final_test_accuracy: float
    final_train_accuracy: float
    robustness: Dict[str, float] = field(default_factory=dict)
    """Test accuracy under attack or noise at the end of training (`--robustness`), by metric name."""
    nonzero_weights: float = math.nan
    """What the ticket saves (`lth_tf.reports.flops`): weights the mask keeps, multiply-adds x 2 of one
    forward pass with the mask and dense. NaN for runs written before they were logged."""
    flops: float = math.nan
    dense_flops: float = math.nan

    def metrics(self) -> Dict[str, float]:
        """The summary as metrics (numbers only); `naming` gives their MLflow names. Unknown costs are left out."""
        plain = {k: float(v) for k, v in asdict(self).items() if k not in IDENTIFIERS and k != "robustness"
                 and not (k in COST and math.isnan(v))}
        return {**plain, **self.robustness}

    def as_tracked(self) -> "RoundSummary":
        """The summary with the values MLflow keeps (`naming.tracked_value`)."""
        tracked = {k: naming.tracked_value(v) for k, v in self.metrics().items()}
        plain = {f.name: tracked[f.name] for f in fields(self)
                 if f.name in tracked and f.name != "early_stop_iteration"}
        return replace(self, **plain, robustness={k: tracked[k] for k in self.robustness})

    @classmethod
    def from_run(cls, tags: Dict[str, str], metrics: Dict[str, float]) -> "RoundSummary":
        """The summary a finished network's run holds (its tags and metrics): the one place that reads
        summaries back from MLflow, the inverse of `metrics` and of the child run's tags."""
        values = {f.name: naming.read_summary(metrics, f.name) for f in fields(cls)
                  if f.name not in IDENTIFIERS and f.name != "robustness"}
        values.update({k: math.nan for k in COST if values[k] is None})
        values["early_stop_iteration"] = int(values["early_stop_iteration"])
        values["robustness"] = naming.read_robustness(metrics)
        return cls(round=int(tags["round"]), kind=tags["kind"], replicate=int(tags["replicate"]),
                   seed=int(tags["seed"]), **values)


IDENTIFIERS = ("round", "kind", "replicate", "seed")
"""Fields that say which network a summary is about: the child run's tags, not metrics."""
COST = ("nonzero_weights", "flops", "dense_flops")


def summarize(round_: int, kind: str, replicate: int, seed: int, remaining: float, history: RoundHistory,
              robustness: Optional[Dict[str, float]] = None, cost: Optional[ForwardCost] = None) -> RoundSummary:
    stop = history.early_stop
    saved = ({} if cost is None else
             dict(nonzero_weights=float(cost.surviving_weights), flops=float(cost.flops), dense_flops=float(cost.dense_flops)))
    return RoundSummary(
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


def _cells(row: RoundSummary) -> List[str]:
    values = asdict(row)
    return [fmt.format(values[key]) for key, _, fmt in COLUMNS]


def to_csv(rows: List[RoundSummary]) -> str:
    """One row per network; `--robustness` metrics as columns of their own."""
    extra = sorted({name for r in rows for name in r.robustness})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[f.name for f in fields(RoundSummary) if f.name != "robustness"] + extra)
    writer.writeheader()
    for row in rows:
        values = asdict(row)
        writer.writerow({**{k: v for k, v in values.items() if k != "robustness"}, **row.robustness})
    return out.getvalue()


def to_markdown(rows: List[RoundSummary]) -> str:
    header = [title for _, title, _ in COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def to_text(rows: List[RoundSummary]) -> str:
    """An aligned plain-text table for the terminal."""
    table = [[title for _, title, _ in COLUMNS]] + [_cells(r) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in table) + "\n"


def as_networks(rows: List[RoundSummary]) -> List[verdicts.Network]:
    """What the verdict needs of each summary."""
    return [verdicts.Network(r.kind, r.round, r.seed, r.remaining_fraction, r.early_stop_test_accuracy) for r in rows]


def versus_controls(rows: List[RoundSummary], tolerance: float = verdicts.DENSE_TOLERANCE) -> List[str]:
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


def budget_warnings(rows: List[RoundSummary], last_evaluation: int) -> List[str]:
    """A warning per network whose early stop is the last evaluation (validation loss still falling)."""
    late = [r for r in rows if verdicts.stopped_at_budget_end(r.early_stop_iteration, last_evaluation)]
    if not late:
        return []
    names = ", ".join(f"{r.kind} r{r.round:02d} s{r.seed}" for r in late[:6]) + (" ..." if len(late) > 6 else "")
    return [f"warning: early stop at the end of the budget (iteration {last_evaluation}) for {len(late)} of "
            f"{len(rows)} networks ({names}): validation loss was still falling, so their accuracy and "
            "early-stop iteration are cut off by --iterations; train longer to compare them"]


def log_network_table(rows: List[RoundSummary]) -> None:
    """The active parent run's one-row-per-network table, as CSV and Markdown artifacts."""
    artifacts.log_text(to_csv(rows), f"{naming.NETWORK_TABLE}.csv")
    artifacts.log_text(to_markdown(rows), f"{naming.NETWORK_TABLE}.md")
