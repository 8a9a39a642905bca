"""The per-round summary: what a user compares across rounds, in MLflow and as a table."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field, fields
from typing import Dict, List, Optional

from lth_tf.training import RoundHistory


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
        """The summary as MLflow metrics (numbers only)."""
        plain = {k: float(v) for k, v in asdict(self).items() if k not in IDENTIFIERS and k != "robustness"}
        return {**plain, **self.robustness}


IDENTIFIERS = ("round", "kind", "replicate", "seed")


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
