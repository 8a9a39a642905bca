"""What an instability analysis found, and how MLflow holds it: the pairs' results, the parent's
summary metrics and figures, and reading both back (to resume, or to return a finished analysis).

`pipelines.experiments.instability` trains; this module only reads and writes runs.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mlflow.tracking import MlflowClient

from lth_tf import naming
from lth_tf.reports import instability as figures
from lth_tf.tracking import search, store as tracking

KIND = "instability"
PAIR_KIND = "instability_pair"
PATH_FIGURE = "instability/path_round_{:02d}.png"
BARRIER_FIGURE = "instability/barrier_vs_k.png"


@dataclass
class PairResult:
    """One (network, k, pair): its test and train barriers, its two copies' final test accuracy, its run."""

    round: int
    k: int
    pair: int
    remaining_fraction: float
    barriers: Dict[str, float]
    copy_test_accuracy: Tuple[float, float]
    run_id: str


@dataclass


class InstabilityResult:
    """Every pair of the analysis, the earliest stable k per round (None: none in the sweep), the figures."""

    experiment_id: str
    run_id: str
    pairs: List[PairResult] = field(default_factory=list)
    earliest_stable: Dict[int, Optional[int]] = field(default_factory=dict)
    figures: List[str] = field(default_factory=list)
    finished_before: bool = False


def previous(client: MlflowClient, experiment_id: str, ident: str):
    runs = search.search(experiment_id, f"{naming.tag_filter(naming.KIND_TAG, KIND)} AND "
                         f"{naming.tag_filter(naming.IDENTITY_TAG, ident)}", client)
    finished = [r for r in runs if r.info.status == "FINISHED"]
    return finished[0] if finished else (runs[0] if runs else None)


def children(client: MlflowClient, parent_id: str, experiment_id: str):
    return search.search(experiment_id, naming.tag_filter(naming.PARENT_TAG, parent_id), client)


def finished_pairs(client: MlflowClient, parent) -> Dict[Tuple[int, int, int], tuple]:
    """The pairs an interrupted analysis finished: (round, k, pair) -> (result, pair-0 path errors).

    Pair runs cut short (RUNNING, KILLED, FAILED) are deleted: they are redone whole.
    """
    out = {}
    for run in children(client, parent.info.run_id, parent.info.experiment_id):
        if run.info.status != "FINISHED":
            client.delete_run(run.info.run_id)
            continue
        result = pair_from_run(run)
        errors = {split: np.array([m.value for m in sorted(client.get_metric_history(run.info.run_id,
                                                                                     f"path/{split}_error"),
                                                           key=lambda m: m.step)])
                  for split in ("test", "train")}
        out[(result.round, result.k, result.pair)] = (result, errors)
    return out


def pair_from_run(run) -> PairResult:
    tags, metrics = run.data.tags, run.data.metrics
    return PairResult(int(tags[naming.ROUND_TAG]), int(tags[naming.K_TAG]), int(tags[naming.PAIR_TAG]),
                      float(tags[naming.REMAINING]),
                      {"test": metrics["barrier/test"], "train": metrics["barrier/train"]},
                      (metrics["copy1/final_test_accuracy"], metrics["copy2/final_test_accuracy"]), run.info.run_id)


def earliest_stable(pairs: Sequence[PairResult], round_: int, below: float) -> Optional[int]:
    """The smallest k whose mean test barrier (over pairs) is under `below`, for `round_`; None if none is."""
    by_k: Dict[int, List[float]] = {}
    for p in pairs:
        if p.round == round_:
            by_k.setdefault(p.k, []).append(p.barriers["test"])
    return next((k for k in sorted(by_k) if float(np.mean(by_k[k])) < below), None)


def log_parent(client: MlflowClient, result: InstabilityResult, below: float, ks: Sequence[int],
                rounds: Sequence[int], paths) -> None:
    parent_id = result.run_id
    barriers: Dict[str, Dict[int, List[float]]] = {}
    for round_ in rounds:
        mine = [p for p in result.pairs if p.round == round_]
        label = "dense" if round_ == 0 else f"round {round_} ({mine[0].remaining_fraction:.1%})"
        for k in ks:
            at_k = [p for p in mine if p.k == k]
            barriers.setdefault(label, {})[k] = [p.barriers["test"] for p in at_k]
            tracking.log_metrics(parent_id, {
                f"barrier/test/round_{round_}": float(np.mean([p.barriers["test"] for p in at_k])),
                f"barrier/train/round_{round_}": float(np.mean([p.barriers["train"] for p in at_k])),
                f"copies_test_accuracy/round_{round_}": float(np.mean([a for p in at_k for a in p.copy_test_accuracy])),
            }, step=k)
        result.earliest_stable[round_] = earliest_stable(result.pairs, round_, below)
        found = result.earliest_stable[round_]
        tracking.log_metrics(parent_id, {f"earliest_stable_k/round_{round_}": -1 if found is None else found}, step=0)
    with tempfile.TemporaryDirectory() as tmp:
        written = [(figures.barrier_vs_k(barriers, below, "Instability: test error barrier vs rewinding point",
                                         Path(tmp) / Path(BARRIER_FIGURE).name), BARRIER_FIGURE)]
        for round_, by_k in paths.items():
            name = PATH_FIGURE.format(round_)
            written.append((figures.path_errors(by_k, f"Error along the linear path, round {round_}",
                                                Path(tmp) / Path(name).name), name))
        for local, name in written:
            if local is not None:
                client.log_artifact(parent_id, str(local), str(Path(name).parent))
                result.figures.append(name)


def read_back(client: MlflowClient, parent, below: float) -> InstabilityResult:
    result = InstabilityResult(parent.info.experiment_id, parent.info.run_id, finished_before=True)
    result.pairs = sorted((pair_from_run(r) for r in children(client, parent.info.run_id, parent.info.experiment_id)
                           if r.info.status == "FINISHED"), key=lambda p: (p.round, p.k, p.pair))
    for round_ in sorted({p.round for p in result.pairs}):
        result.earliest_stable[round_] = earliest_stable(result.pairs, round_, below)
    return result


def table(result: InstabilityResult) -> str:
    """Mean test/train barrier and copies' test accuracy per (round, k), and the earliest stable k per round."""
    lines = ["round  remaining      k  test barrier  train barrier  copies' test acc"]
    keys = sorted({(p.round, p.k) for p in result.pairs})
    for round_, k in keys:
        at = [p for p in result.pairs if (p.round, p.k) == (round_, k)]
        lines.append(f"{round_:5d}  {at[0].remaining_fraction:9.1%}  {k:5d}  "
                     f"{np.mean([p.barriers['test'] for p in at]):12.4f}  "
                     f"{np.mean([p.barriers['train'] for p in at]):13.4f}  "
                     f"{np.mean([a for p in at for a in p.copy_test_accuracy]):16.4f}")
    for round_, k in sorted(result.earliest_stable.items()):
        lines.append(f"round {round_}: earliest stable k = {'none in the sweep' if k is None else k}")
    return "\n".join(lines)
