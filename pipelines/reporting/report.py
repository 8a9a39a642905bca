"""An experiment's report: the paper's figures and a summary table, on disk and in MLflow.

`write_report` reads the FINISHED child runs of one or more pooled parent runs, averages
them per kind and round, and writes PNG figures plus `mean_std.csv` / `mean_std.md` into a
folder. `log_report` does the same into a temporary folder and logs it as the parent
run's `report/` artifacts; `lottery.run` calls it at the end of every experiment, so it
never fails a finished experiment over a figure: a figure without data is simply not
drawn, and one that errors is logged as a warning and skipped.
"""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence

from mlflow.tracking import MlflowClient

from lth_tf import naming
from lth_tf.errors import UserError
from lth_tf.reports import aggregate, baselines, figures, results, tables, verdict
from lth_tf.reports.rows import NetworkSummary
from pipelines.runs.summary import as_networks

log = logging.getLogger(__name__)

FIGURES = ("accuracy_vs_remaining.png", "paired_difference.png", "early_stop_vs_remaining.png",
           "accuracy_over_iterations.png", "train_vs_test.png", "one_shot_vs_iterative.png", "accuracy_vs_flops.png")
SPARSE_METHODS_FIGURE = "sparse_methods.png"
"""Drawn when the runs hold sanity checks of mask-drawing methods: one line per method, checks left out."""
VERDICT_TABLE = "verdict"
"""The report's per-level verdict table (`report/verdict.csv`, `.md`)."""
CURVE_KINDS = ("ticket", "reinit")


@dataclass
class Report:
    """What a report was made from and what it wrote."""

    results: results.Results
    points: List[aggregate.Level]
    rounds: List[int]
    files: List[Path]
    table: str  # the Markdown table alone, for the terminal


def write_report(parents: Sequence[results.ParentRun], out_dir, rounds: Optional[Sequence[int]] = None,
                 client: Optional[MlflowClient] = None,
                 on_error: Optional[Callable[[str, Exception], None]] = None) -> Report:
    """Figures and tables for `parents` (pooled as replicates) in `out_dir`.

    `rounds` picks the learning curves (default: dense plus the rounds nearest 51%, 21%
    and 7% remaining). `on_error(name, error)`, if given, is told about a figure that
    failed and the report goes on; without it the error propagates.
    """
    client = client or MlflowClient()
    found = results.load(client, parents)
    if not found.rows:
        raise UserError(f"no finished rounds in run(s) {', '.join(p.run_id for p in parents)}"
                        + (f" ({found.skipped} unfinished)" if found.skipped else ""))
    robust = sorted({m for r in found.rows for m in r.metrics() if naming.ROBUSTNESS_SUMMARY.match(m)})
    points = aggregate.levels(found.rows, (*results.SUMMARY_METRICS, *robust))
    chosen = _check_rounds(rounds, found.rows) if rounds else aggregate.default_rounds(points)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    context = describe(found)
    remaining = {lv.round: lv.remaining_fraction for lv in points if lv.kind == "ticket"}
    judged = verdict.level_verdicts(as_networks(found.rows))
    won = {lv.round for lv in judged if lv.verdict.winning}
    winning = [lv for lv in points if lv.kind == (judged[0].ticket_kind if judged else "ticket") and lv.round in won]
    budget_end = last_evaluation(found.parents[0].params)
    drawings = {
        "accuracy_vs_remaining.png": lambda path: figures.metric_vs_remaining(
            points, "early_stop_test_accuracy", f"Test accuracy at early stop: {context}", path, winning=winning,
            budget_end=budget_end),
        "paired_difference.png": lambda path: figures.paired_differences(
            judged, f"Ticket - control, paired by seed: {context}", path),
        "early_stop_vs_remaining.png": lambda path: figures.metric_vs_remaining(
            points, "early_stop_iteration", f"Early-stop iteration: {context}", path, budget_end=budget_end),
        "accuracy_over_iterations.png": lambda path: figures.accuracy_over_iterations(
            _curves(client, found.rows, chosen), remaining, f"Test accuracy while training: {context}", path),
        "train_vs_test.png": lambda path: figures.train_vs_test(
            points, f"Train vs test accuracy (generalization gap): {context}", path),
        "one_shot_vs_iterative.png": lambda path: figures.one_shot_vs_iterative(
            points, f"One-shot vs iterative pruning: {context}", path),
        "accuracy_vs_flops.png": lambda path: figures.accuracy_vs_flops(
            points, f"Test accuracy at early stop against forward-pass FLOPs: {context}", path),
        **{f"robustness_{metric.replace('_test_accuracy', '')}.png": _robustness_figure(points, metric, context)
           for metric in robust},
    }
    kinds = {row.kind for row in found.rows}
    if baselines.has_method_checks(kinds):  # the figure above holds every sanity check too: one without them
        drawings[SPARSE_METHODS_FIGURE] = lambda path: figures.metric_vs_remaining(
            points, baselines.METRIC, f"Ways to a sparse network, test accuracy at early stop: {context}", path,
            kinds=baselines.method_kinds(kinds), budget_end=budget_end)
    files = []
    for name, draw in drawings.items():
        try:
            written = draw(out / name)
        except Exception as error:  # noqa: BLE001 - only with on_error: a report must not sink a run
            if on_error is None:
                raise
            on_error(name, error)
            continue
        if written:
            files.append(written)
    table = tables.summary_markdown(points)
    csv_file, md_file = (out / f"{naming.MEAN_STD_TABLE}{suffix}" for suffix in (".csv", ".md"))
    csv_file.write_text(tables.summary_csv(points))
    md_file.write_text(_heading(found) + "\n" + table)
    files += [csv_file, md_file]
    if judged:
        verdicts = tables.verdict_markdown(judged)
        table += "\nVerdict per level (ticket - control paired by seed, 95% t-interval):\n\n" + verdicts
        csv_file, md_file = (out / f"{VERDICT_TABLE}{suffix}" for suffix in (".csv", ".md"))
        csv_file.write_text(tables.verdict_csv(judged))
        md_file.write_text(_heading(found) + "\n" + verdicts)
        files += [csv_file, md_file]
    compared = baselines.markdown(found.rows)  # tickets against the other sparse networks (issue 20)
    if compared:
        (out / "sparse_baselines.md").write_text(_heading(found) + "\n" + compared)
        files.append(out / "sparse_baselines.md")
    return Report(found, points, chosen, files, table)


def last_evaluation(params: dict) -> Optional[int]:
    """The last evaluated iteration of the budget, from the parent's params (None if they do not say)."""
    try:
        iterations, interval = int(params["iterations"]), int(params["eval_interval"])
    except (KeyError, ValueError):
        return None
    return iterations - iterations % interval if interval > 0 else iterations


def _robustness_figure(points, metric: str, context: str):
    """Accuracy under one attack or noise strength vs remaining: tickets, dense (line), controls."""
    kind, strength = metric.split("_")[:2]
    what = f"FGSM attack, eps {strength}" if kind == "fgsm" else f"Gaussian input noise, sigma {strength}"
    return lambda path: figures.metric_vs_remaining(points, metric, f"Test accuracy under {what}: {context}", path)


def log_report(parent_run_id: str, rounds: Optional[Sequence[int]] = None, tracking_uri: Optional[str] = None,
               artifact_path: str = naming.REPORT) -> List[str]:
    """Writes the report of one parent run and logs it as that run's `report/` artifacts.

    Uses the current MLflow tracking URI unless `tracking_uri` is given; returns the
    logged artifact paths ([] when the run has no finished rounds yet).
    """
    client = MlflowClient(tracking_uri)
    parents = results.resolve(client, parent_run_id)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            report = write_report(parents, tmp, rounds, client,
                                  on_error=lambda name, error: log.warning("report: %s skipped (%s: %s)", name,
                                                                           type(error).__name__, error))
        except UserError as error:
            log.warning("report: nothing to report for run %s (%s)", parent_run_id, error)
            return []
        client.log_artifacts(parent_run_id, tmp, artifact_path)
        return [f"{artifact_path}/{path.name}" for path in report.files]


def describe(found: results.Results) -> str:
    """'lenet_300_100 on mnist-5k, 3 trials': what every figure title ends with."""
    params = found.parents[0].params
    trials = found.trials
    return (f"{params.get('model', found.label)} on {params.get('dataset', '?')}, "
            f"{trials} trial{'s' if trials != 1 else ''}")


def default_out_dir(target: str, parents: Sequence[results.ParentRun]) -> Path:
    """./reports/EXPERIMENT for an experiment, ./reports/EXPERIMENT/RUN_NAME-RUN_ID for one run.

    Run names repeat (every seed-0 lottery run is `lottery-iterative-seed0`); the id never does.
    """
    parts = [parents[0].experiment_name]
    if results.is_run_id(target):
        parts.append(f"{parents[0].run_name}-{parents[0].run_id}")
    return Path("reports", *(re.sub(r"[^\w.+=-]+", "_", p) for p in parts))


def _heading(found: results.Results) -> str:
    seeds = sorted({p.seed for p in found.parents if p.seed is not None})
    lines = [f"# {found.label}: {describe(found)}", "",
             f"Parent run(s): {', '.join(p.run_id for p in found.parents)}"
             + (f" (seeds {', '.join(map(str, seeds))})" if seeds else "") + "."]
    lines += [f"Note: {note}." for note in found.notes()]
    return "\n".join(lines) + "\n"


def _check_rounds(rounds: Sequence[int], rows: Sequence[NetworkSummary]) -> List[int]:
    available = sorted({r.round for r in rows if r.kind in CURVE_KINDS})
    missing = sorted(set(rounds) - set(available))
    if missing:
        raise UserError(f"--rounds {','.join(map(str, missing))}: no such finished round "
                        f"(rounds: {','.join(map(str, available))})")
    return sorted(set(rounds))


def _curves(client: MlflowClient, rows: Sequence[NetworkSummary], rounds: Sequence[int]):
    """Mean ± std test-accuracy curve per (kind, round) over the chosen rounds' replicates."""
    wanted = [r for r in rows if r.kind in CURVE_KINDS and r.round in rounds]
    history = results.histories(client, wanted, "test", "accuracy")
    keys = sorted({(r.kind, r.round) for r in wanted})
    return {key: aggregate.curve([history[r.run_id] for r in wanted if (r.kind, r.round) == key]) for key in keys}
