"""Reading finished experiments back out of MLflow, as plain rows the report can use.

An experiment is a parent run (`kind=experiment`) whose nested child runs are the
networks it trained: tickets, one-shot tickets and controls, one per round and
replicate. Reports read the children (never the parent's copies of the ticket
summaries), and only FINISHED ones: a crashed or interrupted round has no trustworthy
summary, so it is counted as skipped and said so.

What the user names (`lth-tf report X`) resolves to parent runs: a parent's run id is
that run, a child's run id is its parent, and an experiment name (or id) is every
FINISHED parent in it. Those are pooled as replicates only if they share the `family`
tag (the same command, data, model, transfer source and settings, apart from the seed:
`ExperimentConfig.family`); otherwise it is ambiguous which to report and the user is
asked for a run id. Two trials with the same seed (e.g. a rerun) are both
kept, since they are separate runs, but the report notes it: they are not independent.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Sequence, Tuple

from lth_tf import naming
from lth_tf.settings import NOT_FAMILY
from lth_tf.errors import UserError
from lth_tf.reports.rows import NetworkSummary, as_int
from lth_tf.tracking.search import search

if TYPE_CHECKING:  # mlflow loads on first use: the CLI reads SUMMARY_METRICS for its --help
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

SUMMARY_METRICS = (
    "early_stop_test_accuracy",
    "early_stop_iteration",
    "early_stop_val_accuracy",
    "early_stop_val_loss",
    "final_test_accuracy",
    "final_train_accuracy",
    "nonzero_weights",
    "flops",
    "dense_flops",
)
"""The per-network summaries a child run logs once (as `summary/NAME`); every table and figure reads these."""

KIND_ORDER = ("ticket", "one_shot", "reinit", "random_prune", "fine_tune", "noise", "rewind", "prune_at_init",
              "transfer", "target_ticket", "supermask")
"""Known kinds in the order tables list them; unknown kinds follow, alphabetically."""

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class ParentRun:
    """One experiment run: its settings (params) and where it lives."""

    run_id: str
    experiment_id: str
    experiment_name: str
    run_name: str
    status: str
    params: Dict[str, str] = field(hash=False, compare=False)
    tags: Dict[str, str] = field(hash=False, compare=False)

    @property
    def family(self) -> str:
        """Runs of equal family are replicates. Runs written before the `family` tag existed
        get one from their params, leaving out the same settings the tag leaves out."""
        if self.tags.get(naming.FAMILY_TAG):
            return self.tags[naming.FAMILY_TAG]
        relevant = sorted((k, v) for k, v in self.params.items() if k not in NOT_FAMILY)
        return "params-" + hashlib.sha256(json.dumps(relevant).encode()).hexdigest()[:12]

    @property
    def seed(self) -> Optional[int]:
        return as_int(self.params.get(naming.SEED_TAG))


@dataclass
class Results:
    """The FINISHED child rows of some pooled parent runs, plus what was left out."""

    parents: List[ParentRun]
    rows: List[NetworkSummary]
    skipped: int = 0

    @property
    def label(self) -> str:
        return self.parents[0].experiment_name

    @property
    def trials(self) -> int:
        """Independent trials pooled: distinct (parent, replicate) pairs."""
        return len({(r.parent_run_id, r.replicate) for r in self.rows}) or len(self.parents)

    def notes(self) -> List[str]:
        """Caveats a reader of the report should see."""
        notes = []
        if self.skipped:
            notes.append(f"{self.skipped} child run(s) skipped (not FINISHED)")
        trial_seeds = {(r.parent_run_id, r.replicate): r.seed for r in self.rows}
        repeated = sorted(s for s, n in Counter(trial_seeds.values()).items() if n > 1 and s is not None)
        if repeated:
            notes.append(f"seed(s) {', '.join(map(str, repeated))} appear in more than one pooled trial "
                         "(kept; they are not independent trials)")
        return notes


def kind_sort_key(kind: str) -> Tuple[int, str]:
    return (KIND_ORDER.index(kind), "") if kind in KIND_ORDER else (len(KIND_ORDER), kind)


def is_run_id(target: str) -> bool:
    """Whether `target` has the shape of an MLflow run id (32 hex digits)."""
    return bool(_RUN_ID.match(target))


def resolve(client: MlflowClient, target: str) -> List[ParentRun]:
    """The parent run(s) that `target` (run id or experiment name/id) names; a one-line error if none."""
    if is_run_id(target):
        run = _get_run(client, target)
        if run is not None:
            parent_id = run.data.tags.get(naming.PARENT_TAG)
            if run.data.tags.get(naming.KIND_TAG) != naming.EXPERIMENT_KIND and parent_id:  # a network: its experiment run
                run = _get_run(client, parent_id)  # (an experiment run may itself be a sweep's point)
            if run is not None and run.data.tags.get(naming.KIND_TAG) == naming.SWEEP_KIND:
                raise UserError(f"run {target} is a sweep; name one of its points' runs, or compare them "
                                "(`lth-tf sweep` printed the command)")
            if run is None or run.data.tags.get(naming.KIND_TAG) != naming.EXPERIMENT_KIND:
                raise UserError(f"run {target} is not an lth-tf experiment run (nor one of its rounds)")
            return [_parent(client, run)]
    experiment = _experiment(client, target)
    parents = [_parent(client, r, experiment.name) for r in search(
        experiment.experiment_id, naming.tag_filter(naming.KIND_TAG, naming.EXPERIMENT_KIND), client)]
    finished = [p for p in parents if p.status == "FINISHED"]
    if not finished:
        unfinished = f" ({len(parents)} unfinished; pass a run id to report one)" if parents else ""
        raise UserError(f"experiment '{experiment.name}' has no finished lth-tf runs{unfinished}")
    families = defaultdict(list)
    for p in finished:
        families[p.family].append(p.run_id)
    if len(families) > 1:
        listing = "; ".join(f"family {f}: {', '.join(ids)}" for f, ids in sorted(families.items()))
        raise UserError(f"experiment '{experiment.name}' holds runs of different settings ({listing}); "
                        "pass one run id")
    return sorted(finished, key=lambda p: (p.seed if p.seed is not None else -1, p.run_id))


def load(client: MlflowClient, parents: Sequence[ParentRun]) -> Results:
    """Every FINISHED child of `parents` as a row; unfinished children are only counted."""
    rows, skipped = [], 0
    for parent in parents:
        for run in search(parent.experiment_id, naming.tag_filter(naming.PARENT_TAG, parent.run_id), client):
            if run.info.status != "FINISHED":
                skipped += 1
                continue
            rows.append(_row(run, parent))
    rows.sort(key=lambda r: (kind_sort_key(r.kind), r.round, r.parent_run_id, r.replicate, r.run_id))
    return Results(list(parents), rows, skipped)


def histories(client: MlflowClient, rows: Iterable[NetworkSummary], split: str, metric: str) -> Dict[str, Dict[int, float]]:
    """`{run_id: {iteration: value}}` of one learning curve (e.g. `test`, `accuracy`).

    Reads `test/accuracy`, or `test_accuracy` from runs written before grouped names.
    """
    def history(run_id: str) -> Dict[int, float]:
        points = client.get_metric_history(run_id, naming.curve(split, metric)) or \
            client.get_metric_history(run_id, naming.legacy_curve(split, metric))
        return {m.step: m.value for m in points}

    return {r.run_id: history(r.run_id) for r in rows}


def _row(run: Run, parent: ParentRun) -> NetworkSummary:
    row = NetworkSummary.from_run(run.data.tags, run.data.metrics, run_id=run.info.run_id,
                                  parent_run_id=parent.run_id, experiment=parent.experiment_name)
    return row if row.seed is not None else replace(row, seed=parent.seed)


def _parent(client: MlflowClient, run: Run, experiment_name: Optional[str] = None) -> ParentRun:
    if experiment_name is None:
        experiment_name = client.get_experiment(run.info.experiment_id).name
    return ParentRun(run.info.run_id, run.info.experiment_id, experiment_name, run.info.run_name or run.info.run_id,
                     run.info.status, dict(run.data.params), dict(run.data.tags))


def _get_run(client: MlflowClient, run_id: str) -> Optional[Run]:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id)
    except MlflowException:
        return None


def _experiment(client: MlflowClient, name_or_id: str):
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name_or_id)
    if experiment is None and name_or_id.isdigit():
        try:
            experiment = client.get_experiment(name_or_id)
        except MlflowException:
            experiment = None
    if experiment is None:
        known = sorted(e.name for e in client.search_experiments())
        raise UserError(f"no experiment or run '{name_or_id}' in {client.tracking_uri}"
                        + (f"; experiments: {', '.join(known)}" if known else ""))
    return experiment
