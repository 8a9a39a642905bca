"""The per-round summary: what a user compares across rounds, in MLflow and as a table."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import asdict, dataclass, field, fields, replace
from statistics import fmean
from typing import Dict, List, Optional

from lth_tf import naming
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

    def metrics(self) -> Dict[str, float]:
        """The summary as metrics (numbers only); `naming` gives their MLflow names."""
        plain = {k: float(v) for k, v in asdict(self).items() if k not in IDENTIFIERS and k != "robustness"}
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
        values["early_stop_iteration"] = int(values["early_stop_iteration"])
        values["robustness"] = naming.read_robustness(metrics)
        return cls(round=int(tags["round"]), kind=tags["kind"], replicate=int(tags["replicate"]),
                   seed=int(tags["seed"]), **values)


IDENTIFIERS = ("round", "kind", "replicate", "seed")
"""Fields that say which network a summary is about: the child run's tags, not metrics."""


def summarize(round_: int, kind: str, replicate: int, seed: int, remaining: float, history: RoundHistory,
              robustness: Optional[Dict[str, float]] = None) -> RoundSummary:
    stop = history.early_stop
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


TICKET_KINDS = ("ticket", "one_shot")


def versus_controls(rows: List[RoundSummary]) -> List[str]:
    """One line per control and round: the ticket's test accuracy at early stop against the control's.

    This is the paper's question (is it the initialization that matters?), so a run ends by
    answering it. Means over replicates; the ticket is the iterative one unless only
    one-shot tickets ran.
    """
    groups = defaultdict(list)
    for row in rows:
        groups[(row.kind, row.round)].append(row)
    primary = "ticket" if any(k == "ticket" and r > 0 for k, r in groups) else "one_shot"

    def accuracy(key):
        return fmean(r.early_stop_test_accuracy for r in groups[key])

    lines = []
    for kind, round_ in sorted(groups, key=lambda key: (key[1], key[0])):
        ticket = (primary, round_)
        if kind in TICKET_KINDS or ticket not in groups:
            continue
        difference = accuracy(ticket) - accuracy((kind, round_))
        lines.append(f"round {round_:>2} ({groups[ticket][0].remaining_fraction:6.1%} remaining): {primary} "
                     f"{accuracy(ticket):.4f} vs {kind} {accuracy((kind, round_)):.4f}: {100 * difference:+.2f} points")
    return lines


def log_network_table(rows: List[RoundSummary]) -> None:
    """The active parent run's one-row-per-network table, as CSV and Markdown artifacts."""
    artifacts.log_text(to_csv(rows), f"{naming.NETWORK_TABLE}.csv")
    artifacts.log_text(to_markdown(rows), f"{naming.NETWORK_TABLE}.md")
