"""Every trained network, ticket or control, as one nested MLflow run of the experiment.

A child run is tagged with what it is (`kind`, `round`, `replicate`, `seed`,
`remaining_fraction`, also params so the runs table sorts them), holds its mask and its
learning curves with step = iteration, and ends with its summary. The parent charts each
summary against the round as `rounds/KIND/METRIC` (the mean over replicates once every
replicate has that round), so the MLflow UI compares tickets with their controls round by
round. Every name comes from `lth_tf.naming`.

On Ray (`pipelines.fanout`) the same class runs inside the workers: child runs name their
parent explicitly, a network that Ray retries replaces the child run its dead attempt
left behind, and a control can be handed to another worker (`spawn`) while the trial goes
on; the driver then logs the parent's means (`ParentMetrics`).
"""

from __future__ import annotations

import os
import socket
from collections import defaultdict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import mlflow
import numpy as np

from lth_tf import masking, naming, pruning, robustness, tracking, weights
from lth_tf.callbacks import MlflowMetrics, Progress, StartFrom
from lth_tf.config import ExperimentConfig
from lth_tf.data import Splits
from lth_tf.tfkeras import keras
from lth_tf.training import RoundHistory, train_round
from pipelines.summary import RoundSummary, summarize

Echo = Callable[[str], None]
Spawn = Callable[[str, int, int, int, masking.Masks, weights.Snapshot, int], Callable[[], RoundSummary]]
"""Starts training a network elsewhere: (kind, round, replicate, seed, masks, start, start step) -> wait for
its summary."""


class ParentMetrics:
    """The parent's `KIND.METRIC` at step = round: the mean over replicates, once all of them are in.

    Replicates may finish in any order on Ray; the mean is taken in replicate order, so it
    is bitwise the same as the sequential run's.
    """

    def __init__(self, cfg: ExperimentConfig, parent_run_id: str):
        self.replicates, self.parent_run_id = cfg.replicates, parent_run_id
        self._by_key: Dict[Tuple[str, int], List[RoundSummary]] = defaultdict(list)

    def record(self, summary: RoundSummary) -> None:
        same = self._by_key[(summary.kind, summary.round)]
        same.append(summary)
        if len(same) == self.replicates:
            ordered = sorted(same, key=lambda s: s.replicate)
            means = {naming.per_round(summary.kind, name): float(np.mean([s.metrics()[name] for s in ordered]))
                     for name in summary.metrics()}
            tracking.log_metrics(self.parent_run_id, means, step=summary.round)


class ChildRuns:
    """Trains networks of one experiment, each in its own nested MLflow run.

    `log_parent_means=False` leaves the parent's means to the caller (a Ray worker's driver);
    `spawn` trains controls elsewhere (see `train_from`); `on_worker` (a Ray task) tags each
    run with the worker (`host:pid`) and deletes the child run that an earlier, killed
    attempt at the same network left behind.
    """

    def __init__(self, cfg: ExperimentConfig, splits: Splits, parent_run_id: str,
                 echo: Echo = print, status: Optional[Echo] = None, *,
                 log_parent_means: bool = True, spawn: Optional[Spawn] = None, on_worker: bool = False):
        self.cfg, self.splits, self.parent_run_id = cfg, splits, parent_run_id
        self.echo, self.status = echo, status
        self.summaries: List[RoundSummary] = []
        self.parent_metrics = ParentMetrics(cfg, parent_run_id) if log_parent_means else None
        self.spawn, self.on_worker = spawn, on_worker
        self._pending: List[Tuple[int, Callable[[], RoundSummary]]] = []

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
        start_step: int = 0,
        iterations: Optional[int] = None,
        tags: Optional[Dict[str, str]] = None,
    ) -> Tuple[RoundSummary, RoundHistory]:
        """Sets `masks`, trains with `callbacks` (the first sets the starting weights), tracks it.

        Training runs from iteration `start_step` to `iterations` (default: the budget);
        `tags` are added to the child run's own.
        """
        masking.set_masks(model, masks)
        remaining = pruning.remaining_fractions(masks)
        label = f"seed {seed} {kind} round {round_} ({remaining['total']:.1%} remaining)"
        tags = {"kind": kind, "round": str(round_), "replicate": str(replicate), "seed": str(seed),
                "remaining_fraction": f"{remaining['total']:.6f}", **(tags or {})}
        if self.on_worker:
            replace_earlier_attempts(self.parent_run_id, kind, round_, replicate)
            tags["worker"] = f"{socket.gethostname()}:{os.getpid()}"
        name = naming.network_run_name(kind, round_, seed, remaining["total"])
        with tracking.run_scope(nested=True, parent_run_id=self.parent_run_id, run_name=name, tags=tags) as child:
            child_id = child.info.run_id
            tracking.log_params(naming.network_params(round_, replicate, seed, remaining["total"]))
            tracking.log_arrays(masks, f"masks/round_{round_:02d}.npz")
            callbacks = [*callbacks, MlflowMetrics(lambda metrics, step: tracking.log_metrics(child_id, metrics, step))]
            if self.status:
                callbacks.append(Progress(label, self.cfg.training.iterations, self.status))
            history = train_round(model, self.splits, self.cfg.training, seed, callbacks, align_to,
                                  start_step, iterations)
            attacked = robustness.evaluate(model, self.splits.test, self.cfg.robustness.robustness,
                                           seed)
            summary = summarize(round_, kind, replicate, seed, remaining["total"], history, attacked)
            per_layer = {naming.layer_remaining(k): v for k, v in remaining.items() if k != "total"}
            summary_metrics = {naming.summary(k): v for k, v in summary.metrics().items()}
            tracking.log_metrics(child_id, {**summary_metrics, **per_layer}, step=round_)
            if history.diverged_at is not None:
                tracking.set_tag("diverged_at", str(history.diverged_at), child_id)
                self.echo(f"warning: {label} diverged: its loss is not finite from iteration "
                          f"{history.diverged_at}; its NaN weights rank lowest when the next mask is pruned")
        self._record(summary)
        self.summaries.append(summary)
        self.echo(
            f"{label}: early stop at {summary.early_stop_iteration}, test acc "
            f"{summary.early_stop_test_accuracy:.4f} there, {summary.final_test_accuracy:.4f} at the end"
        )
        return summary, history

    def train_from(self, model: keras.Model, kind: str, round_: int, replicate: int, seed: int,
                   masks: masking.Masks, start: weights.Snapshot, start_step: int = 0) -> None:
        """A network started from `start` at iteration `start_step` whose trained weights nobody needs (a control).

        Trained here, or with `spawn` handed to another worker while the trial goes on;
        `join` collects it, in its place in `summaries`.
        """
        if self.spawn is None:
            self.train(model, kind, round_, replicate, seed, masks, [StartFrom(start)], start_step=start_step)
            return
        self.summaries.append(None)
        self._pending.append((len(self.summaries) - 1,
                              self.spawn(kind, round_, replicate, seed, masks, start, start_step)))

    def join(self) -> List[RoundSummary]:
        """Waits for every spawned network; returns all summaries in the order they were started."""
        for index, wait in self._pending:
            self.summaries[index] = wait()
            self._record(self.summaries[index])
        self._pending = []
        return self.summaries

    def _record(self, summary: RoundSummary) -> None:
        if self.parent_metrics is not None:
            self.parent_metrics.record(summary)


def child_runs_of(parent_run_id: str, kind: Optional[str] = None, round_: Optional[int] = None,
                  replicate: Optional[int] = None, status: Optional[str] = None) -> List[mlflow.entities.Run]:
    """The parent's live (not deleted) nested runs, optionally one network's: (kind, round, replicate)."""
    clauses = [f"tags.mlflow.parentRunId = '{parent_run_id}'"]
    for tag, value in (("kind", kind), ("round", round_), ("replicate", replicate)):
        if value is not None:
            clauses.append(f"tags.{tag} = '{value}'")
    if status:
        clauses.append(f"attributes.status = '{status}'")
    parent = mlflow.MlflowClient().get_run(parent_run_id)
    return mlflow.MlflowClient().search_runs([parent.info.experiment_id], " and ".join(clauses), max_results=1000)


def replace_earlier_attempts(parent_run_id: str, kind: str, round_: int, replicate: int) -> None:
    """Deletes the child runs an earlier attempt at this network left (a worker killed mid-round)."""
    for run in child_runs_of(parent_run_id, kind, round_, replicate):
        mlflow.MlflowClient().delete_run(run.info.run_id)


def end_dangling(parent_run_id: str, status: str) -> int:
    """Ends the parent's child runs still RUNNING (their worker died and was not retried) with `status`."""
    dangling = child_runs_of(parent_run_id, status="RUNNING")
    for run in dangling:
        mlflow.MlflowClient().set_terminated(run.info.run_id, status)
    return len(dangling)
