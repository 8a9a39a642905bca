"""Every trained network, ticket or control, as one nested MLflow run of the experiment.

A child run is tagged with what it is (`kind`, `round`, `replicate`, `seed`,
`remaining_fraction`, also params so the runs table sorts them), holds its mask and its
learning curves with step = iteration, and ends with its summary. The parent charts each
summary against the round as `rounds/KIND/METRIC` (the mean over replicates once every
replicate has that round), so the MLflow UI compares tickets with their controls round by
round. If `--log-models` selects it, the trained network is also logged as an MLflow
Model. Every name comes from `lth_tf.naming`.

On Ray (`pipelines.execution.ray`) the same class runs inside the workers: child runs name their
parent explicitly, a network that Ray retries replaces the child run its dead attempt
left behind, and a control can be handed to another worker (`spawn`) while the trial goes
on; the driver then logs the parent's means (`ParentMetrics`).

Resuming: a network whose child run FINISHED earlier is not trained again; its summary
and what later rounds need from it (`keep`: θk, its trained weights, saved as the run's
`state/` artifacts before it finished) are read back. A network interrupted
mid-training continues in its own child run from its last checkpoint (`lth_tf.training.checkpoints`:
local, else the copy in the run's artifacts), logging only the steps it had not logged yet
(`MetricLog`). The copy leaves the run before it is marked FINISHED.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import mlflow
import numpy as np
from mlflow.entities import Run

from lth_tf import masking, naming
from lth_tf.errors import UserError
from lth_tf.reports import colours, flops
from lth_tf.tracking import artifacts, store as tracking
from lth_tf.pruning import counts as pruning
from lth_tf.training import robustness, weights
from lth_tf.training.callbacks import Progress, StartFrom
from lth_tf.training.hooks import ReportMetrics
from lth_tf.tracking.hook import MlflowCheckpointCopies
from lth_tf.training.checkpoints import NetworkCheckpoint
from lth_tf.settings import ExperimentConfig
from lth_tf.data import Splits
from lth_tf.tfkeras import keras
from lth_tf.training.loop import RoundHistory, train_round
from pipelines.runs import logged_models, run_index
from pipelines.runs.descriptions import NOTE, network_note
from pipelines.runs.resume import Changed
from pipelines.runs.run_index import MetricLog, NetworkKey, is_finished, network_tags
from lth_tf.reports.rows import NetworkSummary
from pipelines.runs.summary import summarize

Echo = Callable[[str], None]
Kept = Dict[str, weights.Snapshot]
Spawn = Callable[[str, int, int, int, masking.Masks, weights.Snapshot, int], Callable[[], NetworkSummary]]
"""Starts training a network elsewhere: (kind, round, replicate, seed, masks, start, start step) -> wait for
its summary."""


class ParentMetrics:
    """The parent's `rounds/KIND/METRIC` at step = round: the mean over replicates, once all of them are in.

    Replicates may finish in any order on Ray; the mean is taken in replicate order, so it
    is bitwise the same as the sequential run's.
    """

    def __init__(self, cfg: ExperimentConfig, parent_run_id: str, resumed: bool = False):
        self.replicates, self.parent_run_id = cfg.replicates, parent_run_id
        self.log = MetricLog(parent_run_id, resumed)  # a resumed parent holds some means already
        self._by_key: Dict[Tuple[str, int], List[NetworkSummary]] = defaultdict(list)

    def record(self, summary: NetworkSummary) -> None:
        same = self._by_key[(summary.kind, summary.round)]
        same.append(summary)
        if len(same) == self.replicates:
            ordered = sorted(same, key=lambda s: s.replicate)
            means = {naming.per_round(summary.kind, name): float(np.mean([s.metrics()[name] for s in ordered]))
                     for name in summary.metrics()}
            self.log(means, step=summary.round)


class ChildRuns:
    """Trains networks of one experiment, each in its own nested MLflow run.

    `log_parent_means=False` leaves the parent's means to the caller (a Ray worker's driver);
    `spawn` trains controls elsewhere (see `train_from`); `on_worker` (a Ray task) tags each
    run with the worker (`host:pid`) and deletes the child run that an earlier, killed
    attempt at the same network left behind. `existing`: the parent's child runs from before
    an interruption, by network; `checkpoints`: the parent's local checkpoint directory.
    """

    def __init__(self, cfg: ExperimentConfig, splits: Splits, parent_run_id: str,
                 echo: Echo = print, status: Optional[Echo] = None, *,
                 log_parent_means: bool = True, spawn: Optional[Spawn] = None, on_worker: bool = False,
                 existing: Optional[Mapping[NetworkKey, Run]] = None, checkpoints: Optional[Path] = None,
                 inputs: Sequence = ()):
        self.cfg, self.splits, self.parent_run_id, self.inputs = cfg, splits, parent_run_id, list(inputs)
        self.echo, self.status = echo, status
        self.existing, self.checkpoints = dict(existing or {}), checkpoints
        self.summaries: List[NetworkSummary] = []
        self.parent_metrics = ParentMetrics(cfg, parent_run_id, bool(self.existing)) if log_parent_means else None
        self.spawn, self.on_worker = spawn, on_worker
        self._pending: List[Tuple[int, Callable[[], NetworkSummary]]] = []

    def train(
        self,
        model: keras.Model,
        kind: str,
        round_: int,
        replicate: int,
        seed: int,
        masks: Optional[masking.Masks],
        callbacks: Sequence[keras.callbacks.Callback],
        align_to: Sequence[int] = (),
        *,
        keep: Optional[Mapping[str, Callable[[], weights.Snapshot]]] = None,
        hparams=None,
        tags: Optional[Dict[str, str]] = None,
        mask_file: Optional[str] = None,
        start_step: int = 0,
        iterations: Optional[int] = None,
        own_masks: Optional[Callable[[keras.Model], masking.Masks]] = None,
        early_stop_from: int = 0,
    ) -> Tuple[NetworkSummary, Kept]:
        """Sets `masks`, trains with `callbacks` (the first sets the starting weights), tracks it.

        Training runs from iteration `start_step` to `iterations` (default: the budget).
        `keep`: snapshots later rounds need, taken after training and saved with the run;
        returned (read back from MLflow if the network had finished before).
        `masks=None`: the model chooses its own masks while training (a supermask); they are
        logged (to `mask_file`) as they end. `hparams` replaces `cfg.training` (the scores'
        optimizer); `tags` are added to the run's. `own_masks`: the model holds its masks its own way
        (tfmot's wrapper, `pipelines.controls.gradual`): `masks` give only each layer's final count, and
        the masks logged are read with `own_masks(model)` after training. `early_stop_from`: the
        early stop is chosen among evaluations from this iteration on (where such a model is at its sparsity).

        The network's run is a `NetworkRecord`; the training itself is `_fit` (`train_round`).
        """
        keep = keep or {}
        fixed = masks is not None and own_masks is None  # masks set before training, logged as they are
        if fixed:
            masking.set_masks(model, masks)
        remaining = pruning.remaining_fractions(masks if masks is not None else masking.get_masks(model))
        label = f"seed {seed} {kind} {_position(kind, round_, tags, self.cfg)} ({remaining['total']:.1%} remaining)"
        previous = self.existing.get((kind, round_, replicate))
        if previous is not None and is_finished(previous):
            summary, kept = self._reuse(previous, None if own_masks else masks, keep)
            self.echo(f"{label}: finished before, in run {previous.info.run_id}")
            return summary, kept
        record = NetworkRecord(self.parent_run_id, kind, round_, replicate, seed, remaining, previous=previous,
                               mask_file=mask_file, checkpoint=self._checkpoint(kind, round_, replicate))
        with record.opened(tags, self.inputs, self.on_worker):
            if fixed:
                record.log_masks(masks)
            history = self._fit(model, record, label, callbacks, align_to, hparams, seed, start_step, iterations)
            if not fixed:
                record.log_masks((own_masks or masking.get_masks)(model))
            summary = self._summarize(model, record, masks, history, early_stop_from)
            record.log_summary(summary)
            kept = record.keep({name: take() for name, take in keep.items()})
            if history.diverged_at is not None:
                record.diverged(history.diverged_at)
                self.echo(f"warning: {label} diverged: its loss is not finite from iteration "
                          f"{history.diverged_at}; its NaN weights rank lowest when the next mask is pruned")
            if logged_models.wanted(self.cfg.log_models, kind, round_, self.cfg.pruning.rounds):
                record.log_model(model, self.splits.test[0])
        self._record(summary)
        self.summaries.append(summary)
        self.echo(
            f"{label}: early stop at {summary.early_stop_iteration}, test acc "
            f"{summary.early_stop_test_accuracy:.4f} there, {summary.final_test_accuracy:.4f} at the end"
        )
        return summary, kept

    def _fit(self, model: keras.Model, record: "NetworkRecord", label: str,
             callbacks: Sequence[keras.callbacks.Callback], align_to: Sequence[int], hparams, seed: int,
             start_step: int, iterations: Optional[int]) -> RoundHistory:
        """The training call: `train_round` with the run's metrics (and progress) reported, from its checkpoint."""
        callbacks = [*callbacks, ReportMetrics(record.log)]
        if self.status:
            callbacks.append(Progress(label, iterations or self.cfg.training.iterations, self.status))
        return train_round(model, self.splits, hparams or self.cfg.training, seed, callbacks, align_to,
                           start_step, iterations, record.checkpoint)

    def _summarize(self, model: keras.Model, record: "NetworkRecord", masks: Optional[masking.Masks],
                   history: RoundHistory, early_stop_from: int) -> NetworkSummary:
        """The trained network's summary (early stop, robustness, forward cost), as MLflow holds it."""
        if early_stop_from:
            history = dataclasses.replace(history, records=[r for r in history.records
                                                            if r["iteration"] >= early_stop_from])
        attacked = robustness.evaluate(model, self.splits.test, self.cfg.robustness.robustness, record.seed)
        cost = forward_cost(model, masks if masks is not None else masking.get_masks(model), self.echo)
        summary = summarize(record.round, record.kind, record.replicate, record.seed, record.remaining["total"],
                            history, attacked, cost)
        return summary.as_tracked()  # what MLflow holds, so a resumed run reads back the same

    def _checkpoint(self, kind: str, round_: int, replicate: int) -> Optional[NetworkCheckpoint]:
        if self.checkpoints is None:
            return None
        return NetworkCheckpoint(self.checkpoints / f"{kind}-round{round_:02d}-replicate{replicate}",
                                 self.cfg.checkpoint_every)

    def _reuse(self, run: Run, masks: masking.Masks, keep) -> Tuple[NetworkSummary, Kept]:
        """A network that finished before the interruption: its summary and kept snapshots, checked."""
        run_id = run.info.run_id
        stored = artifacts.load_arrays(run_id, naming.mask_artifact(int(run.data.tags[naming.ROUND_TAG])))
        changed = masks is not None and (stored.keys() != masks.keys()
                                         or any(not np.array_equal(stored[k], masks[k]) for k in masks))
        if changed:
            raise Changed(f"the mask of run {run_id} differs from the one these settings give now "
                          "(changed code or data?); pass --restart for a fresh run")
        summary = NetworkSummary.from_run(run.data.tags, run.data.metrics)
        kept = {name: weights.from_arrays(artifacts.load_arrays(run_id, state_artifact(name))) for name in keep}
        self._record(summary)
        self.summaries.append(summary)
        return summary, kept

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

    def join(self) -> List[NetworkSummary]:
        """Waits for every spawned network; returns all summaries in the order they were started."""
        for index, wait in self._pending:
            self.summaries[index] = wait()
            self._record(self.summaries[index])
        self._pending = []
        return self.summaries

    def _record(self, summary: NetworkSummary) -> None:
        if self.parent_metrics is not None:
            self.parent_metrics.record(summary)


class NetworkRecord:
    """The run record of one network: its nested MLflow run, started or continued, and what it holds.

    `opened` starts the run under the parent (tags, params, dataset inputs) or continues
    `previous` (an interrupted attempt); the network's checkpoint copies go to it. Within,
    the masks, the summary, the kept snapshots (`state/`), divergence and the MLflow Model
    are logged to it. On success the checkpoint leaves the run before it ends FINISHED, and
    the local one after. Training is not its business (`ChildRuns._fit`).
    """

    def __init__(self, parent_run_id: str, kind: str, round_: int, replicate: int, seed: int,
                 remaining: Mapping[str, float], *, previous: Optional[Run] = None, mask_file: Optional[str] = None,
                 checkpoint: Optional[NetworkCheckpoint] = None):
        self.parent_run_id, self.kind, self.round, self.replicate, self.seed = parent_run_id, kind, round_, replicate, seed
        self.remaining, self.previous, self.checkpoint = dict(remaining), previous, checkpoint
        self.mask_file = mask_file or naming.mask_artifact(round_)
        self.run_id: Optional[str] = None
        self.log: Optional[MetricLog] = None
        self.tags: Dict[str, str] = {}
        self.mask_sha256: Optional[str] = None

    @contextlib.contextmanager
    def opened(self, tags: Optional[Dict[str, str]] = None, inputs: Sequence = (),
               on_worker: bool = False) -> Iterator["NetworkRecord"]:
        """The network's run, active inside; `tags` are added to its own. `on_worker` (a Ray task):
        the runs an earlier, killed attempt at this network left are deleted, the worker tagged."""
        total = self.remaining["total"]
        self.tags = {**network_tags(self.kind, self.round, self.replicate), naming.SEED_TAG: str(self.seed),
                     naming.REMAINING: f"{total:.6f}",
                     NOTE: network_note(self.kind, self.round, self.seed, total),
                     colours.RUN_COLOR_TAG: kind_colour(self.kind), **(tags or {})}
        if on_worker:
            replace_earlier_attempts(self.parent_run_id, self.kind, self.round, self.replicate)
            self.tags[naming.WORKER_TAG] = f"{socket.gethostname()}:{os.getpid()}"
        resumed = self.previous is not None
        started = (dict(run_id=self.previous.info.run_id) if resumed else
                   dict(parent_run_id=self.parent_run_id, tags=self.tags,
                        run_name=naming.network_run_name(self.kind, self.round, self.seed, total)))
        with tracking.run_scope(nested=True, **started) as child:
            self.run_id = child.info.run_id
            if self.checkpoint is not None:
                self.checkpoint.copies = MlflowCheckpointCopies(self.run_id)
                if resumed:
                    self.checkpoint.fetch()  # the local copy may be gone (another machine)
            self.log = MetricLog(self.run_id, resumed=resumed)
            tracking.log_params(naming.network_params(self.round, self.replicate, self.seed, total))
            if inputs and not resumed:
                tracking.log_inputs(self.run_id, list(inputs))
            yield self
            if self.checkpoint is not None:
                self.checkpoint.discard()  # no finished run holds a checkpoint
        if self.checkpoint is not None:
            self.checkpoint.remove()

    def log_masks(self, masks: masking.Masks) -> None:
        """The network's mask as its artifact (`mask_file`)."""
        self.mask_sha256 = artifacts.log_arrays(masks, self.mask_file)

    def log_summary(self, summary: NetworkSummary) -> None:
        """The summary and each layer's remaining fraction as `summary/...` metrics, step = round."""
        per_layer = {naming.layer_remaining(k): v for k, v in self.remaining.items() if k != "total"}
        self.log({**{naming.summary(k): v for k, v in summary.metrics().items()}, **per_layer}, step=self.round)

    def keep(self, kept: Kept) -> Kept:
        """Saves the snapshots later rounds need as the run's `state/` artifacts; returns them."""
        for name, snapshot in kept.items():
            artifacts.log_arrays(weights.as_arrays(snapshot), state_artifact(name))
        return kept

    def diverged(self, iteration: int) -> None:
        tracking.set_tag(naming.DIVERGED_TAG, str(iteration), self.run_id)

    def log_model(self, model: keras.Model, examples) -> None:
        """The trained network as an MLflow Model (`--log-models`), and its TFLite sizes as summaries."""
        logged_models.log_network(model, examples, f"{self.kind}-round-{self.round:02d}",
                                  {**self.tags, naming.MASK_SHA256_TAG: self.mask_sha256,
                                   naming.EXPERIMENT_RUN_TAG: self.parent_run_id})
        self.log({naming.summary(k): v for k, v in logged_models.tflite_sizes(model).items()}, step=self.round)


def kind_colour(kind: str) -> str:
    """The hex colour MLflow draws a network of `kind` in: its colour in the report's figures."""
    from lth_tf.reports.figures import style  # matplotlib loads with the first network, not on import

    return colours.hex_colour(style(kind)[0])


def forward_cost(model: keras.Model, masks: masking.Masks, echo: Echo) -> Optional[flops.ForwardCost]:
    """What one forward pass costs dense and with `masks`; None (said once per model) if it cannot be counted."""
    try:
        return flops.forward_cost(model, masks)
    except (UserError, ValueError) as error:
        if not getattr(model, "_lth_cost_warned", False):
            echo(f"note: no FLOPs for model '{model.name}': {error}")
            model._lth_cost_warned = True
        return None


state_artifact = naming.state_artifact
"""Where a network's kept snapshot (θk, trained weights) is saved in its run."""


def replace_earlier_attempts(parent_run_id: str, kind: str, round_: int, replicate: int) -> None:
    """Deletes the child runs an earlier attempt at this network left (a worker killed mid-round)."""
    for run in run_index.children(parent_run_id, network_tags(kind, round_, replicate)):
        mlflow.MlflowClient().delete_run(run.info.run_id)


def end_dangling(parent_run_id: str, status: str) -> int:
    """Ends the parent's child runs still RUNNING (their worker died and was not retried) with `status`."""
    dangling = run_index.children(parent_run_id, status="RUNNING")
    for run in dangling:
        mlflow.MlflowClient().set_terminated(run.info.run_id, status)
    return len(dangling)


def _position(kind: str, round_: int, tags: Optional[Dict[str, str]], cfg) -> str:
    """`round 3`; a supermask's `round` counts its keep fractions, so: `keep fraction 0.5 (1/2)`."""
    if tags and naming.KEEP_FRACTION_TAG in tags:
        return f"keep fraction {tags[naming.KEEP_FRACTION_TAG]} ({round_}/{len(cfg.supermask.keep_fractions)})"
    return f"round {round_}"
