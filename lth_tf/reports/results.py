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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Sequence, Tuple

from lth_tf import naming
from lth_tf.settings import NOT_FAMILY
from lth_tf.errors import UserError

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
        if self.tags.get("family"):
            return self.tags["family"]
        relevant = sorted((k, v) for k, v in self.params.items() if k not in NOT_FAMILY)
        return "params-" + hashlib.sha256(json.dumps(relevant).encode()).hexdigest()[:12]

    @property
    def seed(self) -> Optional[int]:
        return _int(self.params.get("seed"))


@dataclass
class ChildRow:
    """One trained network's summary, flattened."""

    run_id: str
    parent_run_id: str
    experiment: str
    kind: str
    round: int
    replicate: int
    seed: Optional[int]
    remaining_fraction: float
    metrics: Dict[str, float]


@dataclass
class Results:
    """The FINISHED child rows of some pooled parent runs, plus what was left out."""

    parents: List[ParentRun]
    rows: List[ChildRow]
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
            parent_id = run.data.tags.get("mlflow.parentRunId")
            if run.data.tags.get("kind") != "experiment" and parent_id:  # a network: its experiment run
                run = _get_run(client, parent_id)  # (an experiment run may itself be a sweep's point)
            if run is not None and run.data.tags.get("kind") == "sweep":
                raise UserError(f"run {target} is a sweep; name one of its points' runs, or compare them "
                                "(`lth-tf sweep` printed the command)")
            if run is None or run.data.tags.get("kind") != "experiment":
                raise UserError(f"run {target} is not an lth-tf experiment run (nor one of its rounds)")
            return [_parent(client, run)]
    experiment = _experiment(client, target)
    parents = [_parent(client, r, experiment.name) for r in _search(
        client, experiment.experiment_id, "tags.kind = 'experiment'")]
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
        for run in _search(client, parent.experiment_id, f"tags.`mlflow.parentRunId` = '{parent.run_id}'"):
            if run.info.status != "FINISHED":
                skipped += 1
                continue
            rows.append(_row(run, parent))
    rows.sort(key=lambda r: (kind_sort_key(r.kind), r.round, r.parent_run_id, r.replicate, r.run_id))
    return Results(list(parents), rows, skipped)


def histories(client: MlflowClient, rows: Iterable[ChildRow], split: str, metric: str) -> Dict[str, Dict[int, float]]:
    """`{run_id: {iteration: value}}` of one learning curve (e.g. `test`, `accuracy`).

    Reads `test/accuracy`, or `test_accuracy` from runs written before grouped names.
    """
    def history(run_id: str) -> Dict[int, float]:
        points = client.get_metric_history(run_id, naming.curve(split, metric)) or \
            client.get_metric_history(run_id, naming.legacy_curve(split, metric))
        return {m.step: m.value for m in points}

    return {r.run_id: history(r.run_id) for r in rows}


def _row(run: Run, parent: ParentRun) -> ChildRow:
    tags, metrics = run.data.tags, run.data.metrics
    remaining = naming.read_summary(metrics, naming.REMAINING)
    remaining = remaining if remaining is not None else _float(tags.get("remaining_fraction"))
    seed = _int(tags.get("seed"))
    return ChildRow(
        run_id=run.info.run_id,
        parent_run_id=parent.run_id,
        experiment=parent.experiment_name,
        kind=tags.get("kind", "ticket"),
        round=_int(tags.get("round")) or 0,
        replicate=_int(tags.get("replicate")) or 0,
        seed=seed if seed is not None else parent.seed,
        remaining_fraction=remaining if remaining is not None else float("nan"),
        metrics={**{k: v for k in SUMMARY_METRICS if (v := naming.read_summary(metrics, k)) is not None},
                 **naming.read_robustness(metrics)},
    )


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


def _search(client: MlflowClient, experiment_id: str, filter_string: str) -> List[Run]:
    """All matching active runs, page by page."""
    from mlflow.entities import ViewType

    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], filter_string, ViewType.ACTIVE_ONLY, max_results=1000,
                                  page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _int(value) -> Optional[int]:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _float(value) -> Optional[float]:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
