"""The report's tables: CSV for analysis, Markdown (mean ± std) for reading.

The CSV keeps every summary metric to 12 significant digits (`_number`), one `<metric>_mean` and
`<metric>_std` column each; the Markdown shows the columns a reader compares, in the
same short titles as the per-round table `lth-tf run` prints.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Iterable, List, Sequence, Tuple

from lth_tf.reports.aggregate import Level
from lth_tf.reports.results import SUMMARY_METRICS

TITLES = {
    "early_stop_test_accuracy": "test acc @stop",
    "early_stop_iteration": "early-stop it",
    "early_stop_val_accuracy": "val acc @stop",
    "early_stop_val_loss": "val loss @stop",
    "final_test_accuracy": "final test acc",
    "final_train_accuracy": "final train acc",
}
MARKDOWN_METRICS = ("early_stop_test_accuracy", "early_stop_iteration", "early_stop_val_accuracy",
                    "final_test_accuracy", "final_train_accuracy")


def percent(fraction: float) -> str:
    """A remaining fraction as the paper writes it: 100, 51.3, 7.0, 0.45 (percent)."""
    value = 100 * fraction
    if math.isnan(value):
        return "?"
    if value >= 99.95:
        return "100"
    return f"{value:.1f}" if value >= 0.95 else f"{value:.2g}"


def mean_pm_std(metric: str, mean: float, std: float, n: int) -> str:
    if math.isnan(mean):
        return "–"
    digits = 0 if metric == "early_stop_iteration" else 4
    text = f"{mean:.{digits}f}"
    return text + (f" ± {std:.{digits}f}" if n > 1 else "")


def summary_csv(points: Iterable[Level], metrics: Sequence[str] = SUMMARY_METRICS) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kind", "round", "remaining_percent", "n"] + [f"{m}_{s}" for m in metrics for s in ("mean", "std")])
    for lv in points:
        writer.writerow([lv.kind, lv.round, _number(100 * lv.remaining_fraction), lv.n]
                        + [_number(v) for m in metrics for v in (lv.mean[m], lv.std[m])])
    return out.getvalue()


def summary_markdown(points: Iterable[Level], metrics: Sequence[str] = MARKDOWN_METRICS) -> str:
    header = ["kind", "round", "remaining %", "n"] + [TITLES[m] for m in metrics]
    cells = [[lv.kind, str(lv.round), percent(lv.remaining_fraction), str(lv.n)]
             + [mean_pm_std(m, lv.mean[m], lv.std[m], lv.n) for m in metrics] for lv in points]
    return _markdown(header, cells)


def compare_csv(series: Sequence[Tuple[str, List[Level]]], metric: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["experiment", "kind", "round", "remaining_percent", "n", f"{metric}_mean", f"{metric}_std"])
    for label, points in series:
        for lv in points:
            writer.writerow([label, lv.kind, lv.round, _number(100 * lv.remaining_fraction), lv.n,
                             _number(lv.mean[metric]), _number(lv.std[metric])])
    return out.getvalue()


def compare_markdown(series: Sequence[Tuple[str, List[Level]]], metric: str) -> str:
    header = ["experiment", "kind", "round", "remaining %", "n", TITLES.get(metric, metric)]
    cells = [[label, lv.kind, str(lv.round), percent(lv.remaining_fraction), str(lv.n),
              mean_pm_std(metric, lv.mean[metric], lv.std[metric], lv.n)] for label, points in series for lv in points]
    return _markdown(header, cells)


def _markdown(header: List[str], cells: List[List[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    """12 significant digits: beyond what a float32 metric holds (~7), short of a mean's float noise
    (0.7715000000000001 is 0.7715)."""
    return "" if math.isnan(value) else f"{float(value):.12g}"
