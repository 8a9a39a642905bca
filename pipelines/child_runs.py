"""Every trained network, ticket or control, as one nested MLflow run of the experiment.

A child run is tagged with what it is (`kind`, `round`, `replicate`, `seed`,
`remaining_fraction`, also params so the runs table sorts them), holds its mask and its
learning curves with step = iteration, and ends with its summary. The parent charts each
summary against the round as `rounds/KIND/METRIC` (the mean over replicates once the last
replicate has that round), so the MLflow UI compares tickets with their controls round by
round. Every name comes from `lth_tf.naming`.

Resuming: a network whose child run FINISHED earlier is not trained again; its summary
and what later rounds need from it (`keep`: θ0, θk, its trained weights, saved as the
run's `state/` artifacts before it finished) are read back. A network interrupted
mid-training continues in its own child run from its last local checkpoint
(`lth_tf.checkpoints`), logging only the steps it had not logged yet.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import mlflow
import numpy as np
from mlflow.entities import Run

from lth_tf import masking, naming, pruning, tracking, weights
from lth_tf.callbacks import MlflowMetrics, Progress
from lth_tf.checkpoints import NetworkCheckpoint
from lth_tf.config import ExperimentConfig
from lth_tf.data import Splits
from lth_tf.tfkeras import keras
from lth_tf.training import train_round
from pipelines.run_index import MetricLog, NetworkKey, is_finished, mask_artifact, network_tags
from pipelines.summary import RoundSummary, summarize

Echo = Callable[[str], None]
Kept = Dict[str, weights.Snapshot]


class ChildRuns:
    """Trains networks of one experiment, each in its own nested MLflow run.

    `existing`: the parent's child runs from before an interruption, by network;
    `checkpoints`: the parent's local checkpoint directory.
    """

    def __init__(self, cfg: ExperimentConfig, splits: Splits, parent_run_id: str,
                 echo: Echo = print, status: Optional[Echo] = None,
                 existing: Optional[Mapping[NetworkKey, Run]] = None, checkpoints: Optional[Path] = None):
        self.cfg, self.splits, self.parent_run_id = cfg, splits, parent_run_id
        self.echo, self.status = echo, status
        self.existing = dict(existing or {})
        self.checkpoints = checkpoints
        self.summaries: List[RoundSummary] = []
        self._by_key: Dict[Tuple[str, int], List[RoundSummary]] = defaultdict(list)
        self._parent_log = MetricLog(parent_run_id, resumed=bool(self.existing))

    def train(
        self,
        model: keras.Model,
        kind: str,
        round_: int,
        replicate: int,
        seed: int,
        masks: masking.Masks,
        callbacks: Sequence[keras.callbacks.Callback],
        align_to: Sequence[int] = (),
        keep: Optional[Mapping[str, Callable[[], weights.Snapshot]]] = None,
    ) -> Tuple[RoundSummary, Kept]:
        """Sets `masks`, trains with `callbacks` (the first sets the starting weights), tracks it.

        `keep`: snapshots later rounds need, taken after training and saved with the run;
        returned (read back from MLflow if the network had finished before).
        """
        keep = keep or {}
        masking.set_masks(model, masks)
        remaining = pruning.remaining_fractions(masks)
        label = f"seed {seed} {kind} round {round_} ({remaining['total']:.1%} remaining)"
        previous = self.existing.get((kind, round_, replicate))
        if previous is not None and is_finished(previous):
            summary, kept = self._reuse(previous, masks, keep)
            self.echo(f"{label}: finished before, in run {previous.info.run_id}")
            return summary, kept
        tags = {**network_tags(kind, round_, replicate), "seed": str(seed),
                "remaining_fraction": f"{remaining['total']:.6f}"}
        started = (dict(run_id=previous.info.run_id) if previous is not None else
                   dict(run_name=naming.network_run_name(kind, round_, seed, remaining["total"]), tags=tags))
        checkpoint = self._checkpoint(kind, round_, replicate)
        with tracking.run_scope(nested=True, **started) as child:
            child_id = child.info.run_id
            log = MetricLog(child_id, resumed=previous is not None)
            mlflow.log_params(naming.network_params(round_, replicate, seed, remaining["total"]))
            tracking.log_arrays(masks, mask_artifact(round_))
            callbacks = [*callbacks, MlflowMetrics(log)]
            if self.status:
                callbacks.append(Progress(label, self.cfg.training.iterations, self.status))
            history = train_round(model, self.splits, self.cfg.training, seed, callbacks, align_to, checkpoint)
            summary = summarize(round_, kind, replicate, seed, remaining["total"], history)
            summary = summary.as_tracked()  # what MLflow holds, so a resumed run reads back the same
            per_layer = {naming.layer_remaining(k): v for k, v in remaining.items() if k != "total"}
            log({**{naming.summary(k): v for k, v in summary.metrics().items()}, **per_layer}, step=round_)
            kept = {name: take() for name, take in keep.items()}
            for name, snapshot in kept.items():
                tracking.log_arrays(weights.as_arrays(snapshot), state_artifact(name))
        if checkpoint is not None:
            checkpoint.remove()
        self._record(summary)
        self.echo(
            f"{label}: early stop at {summary.early_stop_iteration}, test acc "
            f"{summary.early_stop_test_accuracy:.4f} there, {summary.final_test_accuracy:.4f} at the end"
        )
        return summary, kept

    def _checkpoint(self, kind: str, round_: int, replicate: int) -> Optional[NetworkCheckpoint]:
        if self.checkpoints is None:
            return None
        return NetworkCheckpoint(self.checkpoints / f"{kind}-round{round_:02d}-replicate{replicate}",
                                 self.cfg.checkpoint_every)

    def _reuse(self, run: Run, masks: masking.Masks, keep) -> Tuple[RoundSummary, Kept]:
        """A network that finished before the interruption: its summary and kept snapshots, checked."""
        run_id = run.info.run_id
        stored = tracking.load_arrays(run_id, mask_artifact(int(run.data.tags["round"])))
        if stored.keys() != masks.keys() or any(not np.array_equal(stored[k], masks[k]) for k in masks):
            raise RuntimeError(f"the mask of run {run_id} differs from the one these settings give now "
                               "(changed code or data?); pass --restart for a fresh run")
        summary = RoundSummary.from_run(run.data.tags, run.data.metrics)
        kept = {name: weights.from_arrays(tracking.load_arrays(run_id, state_artifact(name))) for name in keep}
        self._record(summary)
        return summary, kept

    def _record(self, summary: RoundSummary) -> None:
        self.summaries.append(summary)
        same = self._by_key[(summary.kind, summary.round)]
        same.append(summary)
        if summary.replicate == self.cfg.replicates - 1:
            means = {naming.per_round(summary.kind, name): float(np.mean([s.metrics()[name] for s in same]))
                     for name in summary.metrics()}
            self._parent_log(means, step=summary.round)


def state_artifact(name: str) -> str:
    """Where a network's kept snapshot (θ0, θk, trained weights) is saved in its run."""
    return f"state/{name}.npz"
