"""The lottery-ticket experiment: one MLflow parent run, one trial per replicate.

Each trial (`pipelines.trial`) trains a seed's dense network, its tickets and their
controls; every trained network is a nested run (`pipelines.child_runs`). The parent
holds the settings as params, `identity` and `family` tags (replicates of one
experiment share a family), θ0 per seed, and the summary table of every network.
Data and the model are built before any MLflow run exists, so bad input leaves no trace.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Union

import mlflow
import numpy as np

from lth_tf import compile_settings, data, distribute, masking, models, naming, precision, tracking, weights
from lth_tf.config import ExperimentConfig
from lth_tf.errors import UserError
from lth_tf.tfkeras import keras
from pipelines import fanout, report
from pipelines.child_runs import ChildRuns, Echo
from pipelines.summary import RoundSummary, to_csv, to_markdown
from pipelines.trial import MasksByRound, run_trial

ModelSource = Union[keras.Model, Callable[[], keras.Model], None]
"""A built Keras model, a zero-argument factory, or None for `cfg.model.model` from the registry."""


@dataclass
class LotteryResult:
    experiment_id: str
    run_id: str
    rounds: List[RoundSummary] = field(default_factory=list)
    """Every trained network's summary (tickets and controls), in training order."""
    trials: List[MasksByRound] = field(default_factory=list)
    """Per replicate: the tickets' masks by (kind, round), kind `ticket` or `one_shot`."""

    @property
    def masks(self) -> List[masking.Masks]:
        """The first trial's tickets by round (the one-shot ones if only one-shot ran): round 0 is dense."""
        if not self.trials:
            return []
        by_round = {r: m for (kind, r), m in self.trials[0].items() if kind == "ticket"}
        if len(by_round) == 1:  # one-shot only
            by_round.update({r: m for (kind, r), m in self.trials[0].items() if kind == "one_shot"})
        return [by_round[r] for r in sorted(by_round)]


def build_masked_model(cfg: ExperimentConfig, splits: data.Splits, model: ModelSource = None,
                       seed: Optional[int] = None) -> keras.Model:
    """The masked network, initialized with `seed` (default `cfg.seed`) unless a built model brings its θ0.

    Built in the `--distribute` strategy's scope, so that it trains on every device.
    """
    if isinstance(model, keras.Model) and cfg.engine.distribute != "none":
        raise UserError("--distribute builds the network under a tf.distribute strategy: pass a function "
                        "that builds the model, not a built model")
    keras.utils.set_random_seed(cfg.seed if seed is None else seed)
    with distribute.scope(cfg.engine.distribute), precision.policy(cfg.training.precision):
        if model is None:
            model = models.build(cfg.model.model, splits.input_shape, splits.num_classes, cfg.model)
        elif not isinstance(model, keras.Model):
            model = model()
        else:
            precision.check_built(model, cfg.training.precision)
        model = precision.float32_logits(model)
        if masking.masked_layers(model):
            return model
        return masking.mask_model(model, cfg.model.unpruned_layers)


def trial_models(cfg: ExperimentConfig, splits: data.Splits, source: ModelSource):
    """(replicate, seed, model initialized for that seed), one trial at a time.

    Registry models and factories are built anew with each seed. A built model keeps its
    own weights as θ0 for the first replicate; later replicates redraw them from its
    initializers.
    """
    built = build_masked_model(cfg, splits, source) if isinstance(source, keras.Model) else None
    for replicate, seed in enumerate(cfg.seeds()):
        if built is None:
            yield replicate, seed, build_masked_model(cfg, splits, source, seed)
            continue
        if replicate > 0:  # dense again first: the last trial's masks must not zero the new θ0
            masking.set_masks(built, {k: np.ones_like(m) for k, m in masking.get_masks(built).items()})
            weights.restore(built, weights.fresh_initialization(built, seed))
        yield replicate, seed, built


def with_resolved_jit_compile(cfg: ExperimentConfig, model: keras.Model) -> ExperimentConfig:
    """`cfg` with `--jit-compile` decided (see `compile_settings`), never left to 'auto'."""
    jit_compile = compile_settings.resolve_jit_compile(cfg.training.jit_compile, model)
    return dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, jit_compile=jit_compile))


def run(
    cfg: ExperimentConfig,
    splits: Optional[data.Splits] = None,
    model: ModelSource = None,
    echo: Echo = print,
    status: Optional[Echo] = None,
) -> LotteryResult:
    """Runs every trial and tracks it; returns the summaries and the tickets' masks."""
    splits = splits or data.load(cfg.dataset)
    splits.check_batch_size(cfg.training.batch_size)
    models_by_trial = trial_models(cfg, splits, model)
    first = next(models_by_trial)  # builds (and checks) the model before any MLflow run exists
    echo(f"compile: {compile_settings.describe(cfg.training.jit_compile, first[2])}, precision {cfg.training.precision}")
    cfg = with_resolved_jit_compile(cfg, first[2])  # what ran, in the params and the identity
    experiment_id = tracking.open_experiment(cfg.tracking_uri, cfg.resolved_experiment_name)
    with _engine(cfg), tracking.run_scope(
        experiment_id=experiment_id,
        run_name=f"lottery-{cfg.pruning.mode}-seed{cfg.seed}" + (f"x{cfg.replicates}" if cfg.replicates > 1 else ""),
        tags={"kind": "experiment", "mode": cfg.pruning.mode, "identity": cfg.identity(), "family": cfg.family()},
    ) as parent:
        result = LotteryResult(experiment_id, parent.info.run_id)
        prunable = sum(m.size for m in masking.get_masks(first[2]).values())
        tracking.log_params(parent_params(cfg, splits, prunable))
        runs = ChildRuns(cfg, splits, parent.info.run_id, echo, status)
        result.rounds = runs.summaries
        try:
            if cfg.fans_out:
                store = fanout.Store(mlflow.get_tracking_uri(), experiment_id, parent.info.run_id)
                for summaries, tickets in fanout.run_trials(cfg, splits, _chain(first, models_by_trial), store,
                                                            runs.parent_metrics.record):
                    result.rounds.extend(summaries)
                    result.trials.append(tickets)
            else:
                for replicate, seed, network in _chain(first, models_by_trial):
                    result.trials.append(run_trial(network, cfg, runs, replicate, seed))
        finally:
            if result.rounds:
                tracking.log_text(to_csv(result.rounds), f"{naming.NETWORK_TABLE}.csv")
                tracking.log_text(to_markdown(result.rounds), f"{naming.NETWORK_TABLE}.md")
        _log_report(result.run_id, echo)
    return result


def parent_params(cfg: ExperimentConfig, splits: data.Splits, prunable: int) -> dict:
    """The parent's params: every setting, the split sizes, and the rates pruning really used.

    `output_rate_used` is logged with the layerwise strategy only: the global strategy ranks
    the output layer in its one pool at `global_rate`.
    """
    used = {"output_rate_used": cfg.output_rate} if cfg.pruning.strategy == "layerwise" else {}
    return {**cfg.flat(), **splits.sizes(), "prunable_weights": prunable, **used}


def _engine(cfg: ExperimentConfig):
    """The Ray session the networks train in, or nothing: one after another in this process."""
    return fanout.ray_session(cfg.engine) if cfg.fans_out else contextlib.nullcontext()


def _log_report(run_id: str, echo: Echo) -> None:
    """Figures and the mean ± std table as the parent's `report/` artifacts.

    A finished experiment is never failed over its figures: a report that cannot be made
    is reported in one line, and `lth-tf report RUN_ID` can redo it later.
    """
    try:
        report.log_report(run_id)
    except Exception as error:  # noqa: BLE001 - any plotting/store problem is only a warning here
        echo(f"warning: no report for run {run_id} ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})")


def _chain(first, rest):
    yield first
    yield from rest
