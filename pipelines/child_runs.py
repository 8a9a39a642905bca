"""Every trained network, ticket or control, as one nested MLflow run of the experiment.

A child run is tagged with what it is (`kind`, `round`, `replicate`, `seed`,
`remaining_fraction`, also params so the runs table sorts them), holds its mask and its
learning curves with step = iteration, and ends with its summary. The parent charts each
summary against the round as `rounds/KIND/METRIC` (the mean over replicates once the last
replicate has that round), so the MLflow UI compares tickets with their controls round by
round. Every name comes from `lth_tf.naming`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import mlflow
import numpy as np

from lth_tf import masking, naming, pruning, robustness, tracking
from lth_tf.callbacks import MlflowMetrics, Progress
from lth_tf.config import ExperimentConfig
from lth_tf.data import Splits
from lth_tf.tfkeras import keras
from lth_tf.training import RoundHistory, train_round
from pipelines.summary import RoundSummary, summarize

Echo = Callable[[str], None]


class ChildRuns:
    """Trains networks of one experiment, each in its own nested MLflow run."""

    def __init__(self, cfg: ExperimentConfig, splits: Splits, parent_run_id: str,
                 echo: Echo = print, status: Optional[Echo] = None):
        self.cfg, self.splits, self.parent_run_id = cfg, splits, parent_run_id
        self.echo, self.status = echo, status
        self.summaries: List[RoundSummary] = []
        self._by_key: Dict[Tuple[str, int], List[RoundSummary]] = defaultdict(list)

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
        with tracking.run_scope(nested=True, run_name=naming.network_run_name(kind, round_, seed, remaining["total"]),
                                tags=tags) as child:
            child_id = child.info.run_id
            mlflow.log_params(naming.network_params(round_, replicate, seed, remaining["total"]))
            tracking.log_arrays(masks, f"masks/round_{round_:02d}.npz")
            callbacks = [*callbacks, MlflowMetrics(lambda metrics, step: tracking.log_metrics(child_id, metrics, step))]
            if self.status:
                callbacks.append(Progress(label, self.cfg.training.iterations, self.status))
            history = train_round(model, self.splits, self.cfg.training, seed, callbacks, align_to,
                                  start_step, iterations)
            attacked = robustness.evaluate(model, self.splits.eval_batches("test"), self.cfg.robustness.robustness,
                                           seed)
            summary = summarize(round_, kind, replicate, seed, remaining["total"], history, attacked)
            per_layer = {naming.layer_remaining(k): v for k, v in remaining.items() if k != "total"}
            summary_metrics = {naming.summary(k): v for k, v in summary.metrics().items()}
            tracking.log_metrics(child_id, {**summary_metrics, **per_layer}, step=round_)
        self._record(summary)
        self.echo(
            f"{label}: early stop at {summary.early_stop_iteration}, test acc "
            f"{summary.early_stop_test_accuracy:.4f} there, {summary.final_test_accuracy:.4f} at the end"
        )
        return summary, history

    def _record(self, summary: RoundSummary) -> None:
        self.summaries.append(summary)
        same = self._by_key[(summary.kind, summary.round)]
        same.append(summary)
        if summary.replicate == self.cfg.replicates - 1:
            means = {naming.per_round(summary.kind, name): float(np.mean([s.metrics()[name] for s in same]))
                     for name in summary.metrics()}
            tracking.log_metrics(self.parent_run_id, means, step=summary.round)
