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
from lth_tf.reports.verdict import LevelVerdict

TITLES = {
    "early_stop_test_accuracy": "test acc @stop",
    "early_stop_iteration": "early-stop it",
    "early_stop_val_accuracy": "val acc @stop",
    "early_stop_val_loss": "val loss @stop",
    "final_test_accuracy": "final test acc",
    "final_train_accuracy": "final train acc",
    "nonzero_weights": "nonzero weights",
    "flops": "FLOPs",
    "dense_flops": "dense FLOPs",
}
COUNTS = ("nonzero_weights", "flops", "dense_flops")
MARKDOWN_METRICS = ("early_stop_test_accuracy", "early_stop_iteration", "early_stop_val_accuracy",
                    "final_test_accuracy", "final_train_accuracy", "nonzero_weights", "flops")


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
    if metric in COUNTS:  # the same for every replicate of a level (up to its mask's exact count)
        return f"{mean:,.0f}" if mean < 1e6 else f"{mean / 1e6:,.2f}M"
    digits = 0 if metric == "early_stop_iteration" else 4
    text = f"{mean:.{digits}f}"
    return text + (f" ± {std:.{digits}f}" if n > 1 else "")


def verdict_markdown(levels: Sequence[LevelVerdict]) -> str:
    """One row per level: its verdict and the ticket's paired differences (mean, 95% t-interval, points)."""
    against = sorted({k for lv in levels for k in lv.verdict.versus_controls}) + ["dense"]
    header = ["round", "remaining %", "verdict"] + [f"ticket - {k}" for k in against] + ["why not winning"]
    cells = []
    for lv in levels:
        diffs = {**lv.verdict.versus_controls, "dense": lv.verdict.versus_dense}
        cells.append([str(lv.round), percent(lv.remaining_fraction), lv.verdict.label]
                     + [diffs[k].describe() if k in diffs else "–" for k in against]
                     + ["; ".join(lv.verdict.reasons) or "–"])
    return _markdown(header, cells)


def verdict_csv(levels: Sequence[LevelVerdict]) -> str:
    """The verdicts for analysis: one row per level and comparison, the interval's ends empty with one seed."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["round", "remaining_percent", "winning", "versus", "n", "difference_mean", "difference_low",
                     "difference_high"])
    for lv in levels:
        for kind, d in {**lv.verdict.versus_controls, "dense": lv.verdict.versus_dense}.items():
            writer.writerow([lv.round, _number(100 * lv.remaining_fraction), int(lv.verdict.winning), kind, d.n,
                             _number(d.mean), "" if d.low is None else _number(d.low),
                             "" if d.high is None else _number(d.high)])
    return out.getvalue()


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
