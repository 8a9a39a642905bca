"""Edge-popup: does an untrained random network already contain a good subnetwork?

One MLflow parent run (`kind=experiment`, `method=edge_popup`) and, for each keep
fraction k, one nested run (`kind=supermask`, `keep_fraction`): the same random
weights (drawn once from `seed`, which the parent logs as `weights_seed`, so they can
be rebuilt) wrapped in `SupermaskLayer`s, only the scores trained, metrics with step =
iteration, and the final mask as `masks/keep_K.npz`. The weights are never trained.

Beside them, the trained dense network for reference: trained here (a `ticket` round 0
run, the report's dense line) unless `compare_to` names a lottery run of the same model
and data, whose dense round and tickets then stand beside the supermasks in the
parent's `report/supermask_vs_tickets.png`.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
from mlflow.tracking import MlflowClient

from lth_tf import data, masking, models, naming
from lth_tf.tracking import fingerprints, store as tracking
from lth_tf.models import checks, initializers
from lth_tf.settings import ExperimentConfig
from lth_tf.errors import UserError
from lth_tf.reports import aggregate, figures, results
from lth_tf.tfkeras import keras
from pipelines.experiments import lottery
from pipelines.runs.network_run import ChildRuns, Echo
from pipelines.experiments.lottery import ModelSource, log_report_or_warn
from lth_tf.reports.rows import NetworkSummary
from pipelines.runs.summary import log_network_table

FIGURE = "supermask_vs_tickets.png"


@dataclass
class SupermaskResult:
    experiment_id: str
    run_id: str
    weights_seed: int
    rounds: List[NetworkSummary] = field(default_factory=list)
    """The dense network (when trained here) and one summary per keep fraction, in training order."""
    masks: Dict[float, masking.Masks] = field(default_factory=dict)
    """The final supermask of each keep fraction."""


def experiment_name(cfg: ExperimentConfig) -> str:
    """`--experiment-name`, else MODEL-DATASET-supermask: apart from the lottery runs, so that
    `lth-tf report MODEL-DATASET` keeps pooling only those."""
    return cfg.experiment_name or f"{cfg.resolved_experiment_name}-supermask"


def score_training(cfg: ExperimentConfig):
    """The training settings of the scores: `TrainingHparams` with the supermask's optimizer."""
    s = cfg.supermask
    return dataclasses.replace(cfg.training, optimizer=s.score_optimizer, learning_rate=s.score_learning_rate,
                               momentum=s.score_momentum, weight_decay=s.score_weight_decay,
                               cosine_decay=s.score_cosine_decay, lr_drops=(), warmup_iterations=0)


def mask_artifact(keep_fraction: float) -> str:
    """Where a supermask's final mask is logged in its run: `masks/keep_0.5.npz`."""
    return f"masks/keep_{keep_fraction:g}.npz"


def build_supermask_model(cfg: ExperimentConfig, splits: data.Splits, keep_fraction: float,
                          model: ModelSource = None) -> keras.Model:
    """The random network of `cfg.seed`, every prunable layer a `SupermaskLayer` keeping `keep_fraction`."""
    network = random_network(cfg, splits.input_shape, splits.num_classes, keep_fraction, model)
    checks.check(network, splits)  # a model that does not fit its data: one true line, before any run
    return masking.supermask_model(network, keep_fraction, cfg.model.unpruned_layers)


def random_network(cfg: ExperimentConfig, input_shape, num_classes: int, keep_fraction: float,
                   model: ModelSource = None) -> keras.Model:
    """The plain network whose frozen weights the supermask keeping `keep_fraction` selects from.

    Drawn from `cfg.seed` (the parent's `weights_seed`), so that `lth-tf export` rebuilds
    it bitwise. With `--scale-initializer`, the variance is divided by k: a named
    `--initializer` draws so; without one, the model's own initializer's draws are
    multiplied by 1/sqrt(k), the same scaling.
    """
    keras.utils.set_random_seed(cfg.seed)
    if model is None:
        model = models.build(cfg.model.model, input_shape, num_classes, cfg.model)
    elif isinstance(model, keras.Model):  # a copy: the supermask freezes its layers, the dense net trains them
        model = _copy(model)
    else:
        model = model()
    scale = keep_fraction if cfg.supermask.scale_initializer else 1.0
    if cfg.model.initializer:
        initializers.apply(model, cfg.model.initializer, scale)
    elif scale != 1.0:
        initializers.scale(model, scale)
    return model


def run(cfg: ExperimentConfig, splits: Optional[data.Splits] = None, model: ModelSource = None,
        compare_to: Optional[str] = None, echo: Echo = print, status: Optional[Echo] = None) -> SupermaskResult:
    """Trains a supermask per keep fraction (and the dense network unless `compare_to` gives one)."""
    splits = splits or data.load(cfg.dataset)
    fractions = cfg.supermask.keep_fractions
    first = build_supermask_model(cfg, splits, fractions[0], model)  # bad models fail before any MLflow run
    cfg = lottery.with_resolved_jit_compile(cfg, first)  # what ran, in the params and the identity
    subject = fingerprints.subject("supermask", cfg, splits, first, model)
    experiment_id = tracking.open_experiment(cfg.tracking_uri, experiment_name(cfg))
    compared = _compared_run(cfg, compare_to) if compare_to else None
    with tracking.run_scope(
        experiment_id=experiment_id, run_name=f"supermask-seed{cfg.seed}",
        tags={naming.KIND_TAG: naming.EXPERIMENT_KIND, naming.METHOD_TAG: "edge_popup",
              naming.IDENTITY_TAG: cfg.identity(subject), naming.FAMILY_TAG: cfg.family(subject),
              **({"compare_to": compare_to} if compare_to else {})},
    ) as parent:
        result = SupermaskResult(experiment_id, parent.info.run_id, cfg.seed)
        prunable = sum(m.size for m in masking.get_masks(first).values())
        tracking.log_params({**cfg.params(), **splits.sizes(), "prunable_weights": prunable, "weights_seed": cfg.seed})
        runs = ChildRuns(cfg, splits, parent.info.run_id, echo, status)
        result.rounds = runs.summaries
        try:
            scores = score_training(cfg)
            for index, fraction in enumerate(fractions, start=1):
                network = first if index == 1 else build_supermask_model(cfg, splits, fraction, model)
                runs.train(network, "supermask", index, 0, cfg.seed, None, [], hparams=scores,
                           tags={naming.KEEP_FRACTION_TAG: f"{fraction:g}"}, mask_file=mask_artifact(fraction))
                result.masks[fraction] = masking.get_masks(network)
            if compared is None:  # last: it trains a given model's own layers in place
                _train_dense(cfg, splits, runs, model)
        finally:
            if result.rounds:
                log_network_table(result.rounds)
        log_report_or_warn(result.run_id, echo)
        _log_figure(result.run_id, compared, echo)
    return result


def _copy(model: keras.Model) -> keras.Model:
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _train_dense(cfg: ExperimentConfig, splits: data.Splits, runs: ChildRuns, model: ModelSource) -> None:
    """The trained dense network of the same seed and initializer (unscaled): the report's dense line."""
    network = lottery.build_masked_model(cfg, splits, model)
    ones = {k: np.ones_like(m) for k, m in masking.get_masks(network).items()}
    runs.train(network, "ticket", 0, 0, cfg.seed, ones, [], tags={naming.NETWORK_ROLE_TAG: "dense"})


def _compared_run(cfg: ExperimentConfig, run_id: str) -> List[results.ParentRun]:
    """The lottery run `run_id`, checked to be of the same model and data."""
    client = MlflowClient()
    parents = results.resolve(client, run_id)
    params = parents[0].params
    for name, value in (("model", cfg.model.model), ("dataset", cfg.dataset.dataset)):
        if params.get(name) != str(value):
            raise UserError(f"--compare-to {run_id}: its {name} is {params.get(name)}, not {value}")
    if parents[0].tags.get(naming.METHOD_TAG) == "edge_popup":
        raise UserError(f"--compare-to {run_id} is a supermask run; give a lottery run (`lth-tf run`)")
    return parents


def _log_figure(run_id: str, compared: Optional[List[results.ParentRun]], echo: Echo) -> None:
    """`report/supermask_vs_tickets.png`: test accuracy vs % of weights kept, supermasks beside trained nets."""
    client = MlflowClient()
    try:
        rows = results.load(client, results.resolve(client, run_id)).rows
        if compared:
            rows += [r for r in results.load(client, compared).rows if r.kind == "ticket"]
        params = client.get_run(run_id).data.params
        title = f"Supermasks (weights untrained) vs trained: {params.get('model')} on {params.get('dataset')}"
        with tempfile.TemporaryDirectory() as tmp:
            path = figures.metric_vs_remaining(aggregate.levels(rows), "early_stop_test_accuracy", title,
                                               Path(tmp) / FIGURE, kinds=("supermask", "ticket"))
            if path:
                client.log_artifact(run_id, str(path), naming.REPORT)
    except Exception as error:  # noqa: BLE001 - a figure never fails a finished experiment
        echo(f"warning: no {FIGURE} for run {run_id} ({type(error).__name__}: {error})")
