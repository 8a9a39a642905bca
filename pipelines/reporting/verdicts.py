"""Each level's verdict where a user looks: the parent's metrics, its description and the shared view.

At the end of an experiment (`pipelines.experiments.lottery`), every pruned round of the
ticket gets its verdict (`lth_tf.reports.verdict`: ticket - control paired by seed, with a
95% t-interval). The parent run then holds, at step = round,

- `rounds/KIND/difference_mean`, `..._low`, `..._high`: ticket - KIND for each control, and
  `rounds/dense/difference_*` for ticket - dense (the interval ends only with 2+ seeds);
- `rounds/TICKET/winning`: 1 when the level is a winning ticket, else 0;

so the shared view draws the difference with its interval as three lines against the
remaining fraction. Its description gains the verdict lines and the warning when early stop
hit the end of the budget; the shared view is rewritten with the x-axis ending at the
sparsest level.
"""

from __future__ import annotations

from typing import List

import mlflow

from lth_tf import naming
from lth_tf.reports import verdict as verdicts
from lth_tf.settings import ExperimentConfig
from lth_tf.tracking import store as tracking
from pipelines.runs import views
from pipelines.runs.descriptions import NOTE
from pipelines.runs.run_index import MetricLog
from lth_tf.reports.rows import NetworkSummary
from pipelines.runs.summary import as_networks, budget_warnings, last_evaluation

VERDICT_HEADING = "**Verdict per level**"


def difference_metrics(level: verdicts.LevelVerdict) -> dict:
    """The parent's metrics of one level (step = its round)."""
    metrics = {naming.per_round(level.ticket_kind, "winning"): float(level.verdict.winning)}
    against = {"dense": level.verdict.versus_dense, **level.verdict.versus_controls}
    for kind, difference in against.items():
        metrics[naming.per_round(kind, "difference_mean")] = difference.mean
        if difference.has_interval:
            metrics[naming.per_round(kind, "difference_low")] = difference.low
            metrics[naming.per_round(kind, "difference_high")] = difference.high
    return metrics


def log_verdicts(experiment_id: str, run_id: str, rows: List[NetworkSummary],
                 cfg: ExperimentConfig) -> List[verdicts.LevelVerdict]:
    """Logs each level's verdict on the parent, adds it to the parent's description, updates the views."""
    rows = [r for r in rows if r is not None]
    levels = verdicts.level_verdicts(as_networks(rows))
    log = MetricLog(run_id, resumed=True)  # a resumed experiment logged some levels already
    for level in levels:
        log(difference_metrics(level), step=level.round)
    warnings = budget_warnings(rows, last_evaluation(cfg.training))
    note = mlflow.MlflowClient().get_run(run_id).data.tags.get(NOTE, "")
    note = note.split("\n\n" + VERDICT_HEADING)[0]
    lines = [level.line() for level in levels] + warnings
    if lines:
        tracking.set_tag(NOTE, note + f"\n\n{VERDICT_HEADING} (ticket - control, paired by seed, 95% t-interval; "
                         "winning: not below dense and ahead of every control beyond the interval):\n\n"
                         + "\n".join(f"- {line}" for line in lines), run_id)
    ticket = levels[0].ticket_kind if levels else verdicts.primary_ticket_kind(as_networks(rows))
    smallest = min((r.remaining_fraction for r in rows if r.kind == ticket), default=None)
    for tag, view in views.experiment_views(cfg.controls.controls, smallest, ticket).items():
        tracking.set_experiment_tag(experiment_id, tag, view)
    return levels
