"""What an experiment's runs already hold in MLflow: its networks by (kind, round, replicate).

A network of an experiment is identified by its parent run and its `NetworkKey`, the
child run's tags. Whoever may meet a network a second time (a resumed run, a worker
retrying it) looks it up here instead of creating a second child run: `child_runs`
gives each network's run, `children` filters by tags and status. `MetricLog` logs every (metric, step) of a run once,
so a resumed run that re-reaches a step it had logged before the kill does not log it twice.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Set, Tuple

from mlflow.entities import Run, RunStatus
from mlflow.tracking import MlflowClient

from lth_tf import naming
from lth_tf.tracking import artifacts, store as tracking
from lth_tf.tracking.search import search

NetworkKey = Tuple[str, int, int]
"""(kind, round, replicate): `ticket`, `one_shot` or a control's name; the round; the replicate."""


def network_key(run: Run) -> Optional[NetworkKey]:
    tags = run.data.tags
    if any(tag not in tags for tag in naming.NETWORK_TAGS):
        return None
    return tags[naming.KIND_TAG], int(tags[naming.ROUND_TAG]), int(tags[naming.REPLICATE_TAG])


def network_tags(kind: str, round_: int, replicate: int) -> Dict[str, str]:
    """The tags that make a child run findable by its `NetworkKey`."""
    return {naming.KIND_TAG: kind, naming.ROUND_TAG: str(round_), naming.REPLICATE_TAG: str(replicate)}


def _children_filter(parent_run_id: str) -> str:
    return naming.tag_filter(naming.PARENT_TAG, parent_run_id)


def children(parent_run_id: str, tags: Optional[Dict[str, str]] = None, status: Optional[str] = None,
             client: Optional[MlflowClient] = None) -> List[Run]:
    """The parent's live child runs (newest first), only those with `tags` and `status` if given."""
    client = client or MlflowClient()
    clauses = [_children_filter(parent_run_id), *(naming.tag_filter(k, v) for k, v in (tags or {}).items())]
    if status:
        clauses.append(f"attributes.status = '{status}'")
    return search(client.get_run(parent_run_id).info.experiment_id, " AND ".join(clauses), client)


def child_runs(parent: Run, client: Optional[MlflowClient] = None) -> Dict[NetworkKey, Run]:
    """The parent's child run of each network: a FINISHED one if any, else the newest."""
    return _best(search(parent.info.experiment_id, _children_filter(parent.info.run_id), client))


def _best(runs: Iterable[Run]) -> Dict[NetworkKey, Run]:
    best: Dict[NetworkKey, Run] = {}
    for run in runs:  # newest first
        key = network_key(run)
        if key is None:
            continue
        if key not in best or (is_finished(run) and not is_finished(best[key])):
            best[key] = run
    return best


def is_finished(run: Run) -> bool:
    return run.info.status == RunStatus.to_string(RunStatus.FINISHED)


class MetricLog:
    """Logs metrics to one run, each (metric, step) at most once.

    `resumed=True` first reads what the run holds: a network resumed from its last
    checkpoint re-reaches the steps it logged after that checkpoint, with the same values.
    """

    def __init__(self, run_id: str, resumed: bool = False):
        self.run_id = run_id
        self.logged: Set[Tuple[str, int]] = set()
        if resumed:
            client = MlflowClient()
            for key, history in metric_histories(client.get_run(run_id), client).items():
                self.logged.update((key, step) for step, _ in history)

    def __call__(self, metrics: Dict[str, float], step: int) -> None:
        new = {k: v for k, v in metrics.items() if (k, step) not in self.logged}
        if new:
            tracking.log_metrics(self.run_id, new, step)
            self.logged.update((k, step) for k in new)


def network_records(parent: Run, client: Optional[MlflowClient] = None) -> Dict[NetworkKey, dict]:
    """Everything the parent's networks hold, to compare two runs of one experiment exactly:
    per network its status, mask and metric histories ([(step, value)] per metric).

    Raises if a network has two child runs (a resume must never duplicate one).
    """
    client = client or MlflowClient()
    records: Dict[NetworkKey, dict] = {}
    for child in search(parent.info.experiment_id, _children_filter(parent.info.run_id), client):
        key = network_key(child)
        if key in records:
            raise AssertionError(f"two child runs of network {key} under run {parent.info.run_id}")
        records[key] = {"status": child.info.status, "metrics": metric_histories(child, client),
                        "masks": artifacts.load_arrays(child.info.run_id, naming.mask_artifact(key[1]))}
    return records


def metric_histories(run: Run, client: Optional[MlflowClient] = None) -> Dict[str, List[Tuple[int, float]]]:
    client = client or MlflowClient()
    return {key: [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, key)]
            for key in sorted(run.data.metrics)}
