"""The lottery-ticket experiment: dense round 0, then prune, reset to θ0 and retrain.

Iterative mode prunes `rate` of the remaining weights after each of `rounds` rounds;
one-shot mode trains once, prunes straight to (1 - rate)^rounds remaining and trains the
ticket. Everything lands in MLflow as one parent run (settings as params, per-round
summaries with step = round, θ0, the summary table) and one nested run per round
(metrics with step = iteration, its mask).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Union

import mlflow

from lth_tf import criteria, data, masking, models, pruning, tracking
from lth_tf.callbacks import MlflowMetrics, Progress, ResetToInitialWeights
from lth_tf.config import ExperimentConfig
from lth_tf.tfkeras import keras
from lth_tf.training import train_round
from pipelines.summary import RoundSummary, summarize, to_csv, to_markdown

Echo = Callable[[str], None]


@dataclass
class LotteryResult:
    experiment_id: str
    run_id: str
    rounds: List[RoundSummary] = field(default_factory=list)
    masks: List[masking.Masks] = field(default_factory=list)


def pruning_levels(cfg: ExperimentConfig) -> List[int]:
    """For each round, how many rounds of pruning its mask carries (0 = dense)."""
    p = cfg.pruning
    return [0, p.rounds] if p.one_shot else list(range(p.rounds + 1))


def layer_rates(model: keras.Model, cfg: ExperimentConfig) -> Dict[str, float]:
    """The per-round pruning rate of each masked weight, from its layer kind."""
    layers = masking.masked_layers(model)
    keys = [key for layer in layers for key, _, _ in layer.pruned_weights]
    owners = [layer.layer for layer in layers for _ in layer.pruned_weights]
    by_kind = {"fc": cfg.pruning.fc_rate, "conv": cfg.pruning.conv_rate, "output": cfg.output_rate}
    return {key: by_kind[kind] for key, kind in pruning.layer_kinds(keys, owners).items()}


def next_masks(model: keras.Model, cfg: ExperimentConfig, reset: ResetToInitialWeights, level: int):
    """Prunes the trained model down to `level` rounds' worth, keeping the masks nested."""
    masks = masking.get_masks(model)
    final = {k: v.numpy() for k, v in masking.prunable_weights(model).items()}
    initial = reset.initial_prunable(model)
    score = criteria.get(cfg.pruning.criterion)
    scores = {k: score(final[k], initial[k]) for k in masks}
    if cfg.pruning.strategy == "global":
        return pruning.prune_global(scores, masks, cfg.pruning.global_rate, level)
    return pruning.prune_layerwise(scores, masks, layer_rates(model, cfg), level)


ModelSource = Union[keras.Model, Callable[[], keras.Model], None]
"""A built Keras model, a zero-argument factory, or None for `cfg.model.model` from the registry."""


def build_masked_model(cfg: ExperimentConfig, splits: data.Splits, model: ModelSource = None) -> keras.Model:
    """The masked network, initialized with `cfg.seed` unless a built model brings its own θ0."""
    keras.utils.set_random_seed(cfg.seed)
    if model is None:
        model = models.build(cfg.model.model, splits.input_shape, splits.num_classes, cfg.model)
    elif not isinstance(model, keras.Model):
        model = model()
    if masking.masked_layers(model):
        return model
    return masking.mask_model(model, cfg.model.unpruned_layers)


def run(
    cfg: ExperimentConfig,
    splits: Optional[data.Splits] = None,
    model: ModelSource = None,
    echo: Echo = print,
    status: Optional[Echo] = None,
) -> LotteryResult:
    """Runs every round and tracks it; data and model are built before any MLflow run exists."""
    splits = splits or data.load(cfg.dataset)
    model = build_masked_model(cfg, splits, model)
    experiment_id = tracking.open_experiment(cfg.tracking_uri, cfg.resolved_experiment_name)
    levels = pruning_levels(cfg)
    reset = ResetToInitialWeights()
    mode = "one-shot" if cfg.pruning.one_shot else "iterative"

    with tracking.run_scope(
        experiment_id=experiment_id,
        run_name=f"lottery-{mode}-seed{cfg.seed}",
        tags={"kind": "experiment", "mode": mode, "identity": cfg.identity()},
    ) as parent:
        result = LotteryResult(experiment_id, parent.info.run_id)
        prunable = sum(m.size for m in masking.get_masks(model).values())
        mlflow.log_params({**cfg.flat(), **splits.sizes(), "prunable_weights": prunable,
                           "output_rate_used": cfg.output_rate})
        try:
            for round_, level in enumerate(levels):
                if round_ > 0:
                    masking.set_masks(model, next_masks(model, cfg, reset, level))
                result.rounds.append(_run_round(model, splits, cfg, reset, round_, len(levels), echo, status))
                result.masks.append(masking.get_masks(model))
                if round_ == 0:
                    tracking.log_arrays(reset.initial_by_name(), "initial_weights.npz")
        finally:
            if result.rounds:
                tracking.log_text(to_csv(result.rounds), "summary/summary.csv")
                tracking.log_text(to_markdown(result.rounds), "summary/summary.md")
    return result


def _run_round(model, splits, cfg, reset, round_, total, echo, status) -> RoundSummary:
    masks = masking.get_masks(model)
    remaining = pruning.remaining_fractions(masks)
    label = f"round {round_}/{total - 1} ({remaining['total']:.1%} remaining)"
    with tracking.run_scope(
        nested=True,
        run_name=f"round {round_:02d} ({remaining['total']:.1%})",
        tags={"kind": "ticket", "round": str(round_), "remaining_fraction": f"{remaining['total']:.6f}"},
    ) as child:
        child_id = child.info.run_id
        tracking.log_arrays(masks, f"masks/round_{round_:02d}.npz")
        callbacks = [reset, MlflowMetrics(lambda metrics, step: tracking.log_metrics(child_id, metrics, step))]
        if status:
            callbacks.append(Progress(label, cfg.training.iterations, status))
        history = train_round(model, splits, cfg.training, cfg.seed, callbacks)
        summary = summarize(round_, "ticket", remaining["total"], history)
        per_layer = {f"remaining_fraction.{k}": v for k, v in remaining.items() if k != "total"}
        tracking.log_metrics(child_id, {**summary.metrics(), **per_layer}, step=round_)
    tracking.log_metrics(mlflow.active_run().info.run_id, {**summary.metrics(), **per_layer}, step=round_)
    echo(
        f"{label}: early stop at {summary.early_stop_iteration}, test acc {summary.early_stop_test_accuracy:.4f} "
        f"there, {summary.final_test_accuracy:.4f} at the end"
    )
    return summary
