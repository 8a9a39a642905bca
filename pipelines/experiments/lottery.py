"""The lottery-ticket experiment: one MLflow parent run, one trial per replicate.

Each trial (`pipelines.experiments.trial`) trains a seed's dense network, its tickets and their
controls; every trained network is a nested run (`pipelines.runs.network_run`). The parent
holds the settings as params, `identity` and `family` tags (replicates of one
experiment share a family), θ0 per seed, and the summary table of every network.
Data and the model are built before any MLflow run exists, so bad input leaves no trace.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Union

import mlflow
import numpy as np
from mlflow.entities import Run

from lth_tf import data, masking, models, naming
from lth_tf.tracking import artifacts, fingerprints, store as tracking
from lth_tf.runtime import compile as compile_settings, distribute, precision
from lth_tf.models import checks, initializers
from lth_tf.training import weights
from lth_tf.settings import ExperimentConfig
from lth_tf.errors import UserError
from lth_tf.tfkeras import keras
from pipelines.runs import descriptions, resume, run_index, views
from pipelines import execution
from pipelines.reporting import report, verdicts
from pipelines.runs.network_run import ChildRuns, Echo
from lth_tf.reports.rows import NetworkSummary
from pipelines.runs.summary import log_network_table
from pipelines.experiments.trial import MasksByRound

ModelSource = Union[keras.Model, Callable[[], keras.Model], None]
"""A built Keras model, a zero-argument factory, or None for `cfg.model.model` from the registry."""


@dataclass
class LotteryResult:
    experiment_id: str
    run_id: str
    rounds: List[NetworkSummary] = field(default_factory=list)
    """Every trained network's summary (tickets and controls), in training order."""
    trials: List[MasksByRound] = field(default_factory=list)
    """Per replicate: the tickets' masks by (kind, round), kind `ticket` or `one_shot`."""
    finished_before: bool = False
    """The experiment had finished in an earlier run: this is that run's result, nothing was trained."""

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
        checks.check(model, splits)  # a model that does not fit its data: one true line, before any run
        if cfg.model.initializer:
            initializers.apply(model, cfg.model.initializer)
        model = precision.float32_logits(model)
        if masking.masked_layers(model):
            return model
        return masking.mask_model(model, cfg.model.unpruned_layers)


def trial_models(cfg: ExperimentConfig, splits: data.Splits, source: ModelSource):
    """(replicate, seed, model initialized for that seed), one trial at a time.

    Registry models and factories are built anew with each seed; a built model keeps its
    own weights as θ0 for the first replicate, and later replicates redraw them from its
    initializers. Either way one model object trains every replicate when it can (the
    same variables by name and shape, no `--distribute`): the new θ0 is written into it, so
    the training step compiled for the first replicate serves them all
    (`lth_tf.training.compiled_step`).
    """
    built = build_masked_model(cfg, splits, source) if isinstance(source, keras.Model) else None
    for replicate, seed in enumerate(cfg.seeds()):
        if replicate == 0:
            built = build_masked_model(cfg, splits, source, seed) if built is None else built
            yield replicate, seed, built
            continue
        if isinstance(source, keras.Model):
            fresh = weights.fresh_initialization(built, seed)
        else:
            model = build_masked_model(cfg, splits, source, seed)
            if cfg.engine.distribute != "none" or _layout(model) != _layout(built):
                yield replicate, seed, model  # a strategy's variables, or another architecture: as built
                continue
            fresh = weights.take(model)
        # dense again first: the last trial's masks must not zero the new θ0
        masking.set_masks(built, {k: np.ones_like(m) for k, m in masking.get_masks(built).items()})
        weights.restore(built, fresh)
        yield replicate, seed, built


def _layout(model: keras.Model) -> list:
    """The model's variables by name and shape: two models alike in it can train as one model object."""
    return [(v.name, tuple(v.shape)) for v in model.weights]


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
    parent_run_id: Optional[str] = None,
) -> LotteryResult:
    """Runs every trial and tracks it; returns the summaries and the tickets' masks.

    `parent_run_id`: nest the experiment's run under it (a sweep's run). Continues an
    unfinished run of the same experiment, or returns a finished one's result untouched
    (`LotteryResult.finished_before`); see `pipelines.runs.resume`.
    """
    splits = splits or data.load(cfg.dataset)
    splits.check_batch_size(cfg.training.batch_size)
    models_by_trial = trial_models(cfg, splits, model)
    first = next(models_by_trial)  # builds (and checks) the model before any MLflow run exists
    echo(f"compile: {compile_settings.describe(cfg.training.jit_compile, first[2])}, precision {cfg.training.precision}")
    cfg = with_resolved_jit_compile(cfg, first[2])  # what ran, in the params and the identity
    subject = fingerprints.subject("lottery", cfg, splits, first[2], model)
    if cfg.controls.controls and not cfg.control_rounds(cfg.pruning.rounds):
        echo(f"note: no control runs: --control-rounds {','.join(map(str, cfg.controls.control_rounds))} are all "
             f"past --rounds {cfg.pruning.rounds} (pass --control-rounds '' for every round)")
    executor = execution.for_settings(cfg)
    experiment_id = tracking.open_experiment(cfg.tracking_uri, cfg.resolved_experiment_name)
    _describe_experiment(experiment_id, cfg)
    root = resume.checkpoint_root(cfg)
    with contextlib.ExitStack() as stack:  # unwinds in reverse: the run ends, then its owner lock is released
        claim = stack.enter_context(resume.owning(root))
        with resume.choosing(root):
            previous = resume.choose_parent(experiment_id, cfg, subject, root, echo)
            if previous is not None and run_index.is_finished(previous):
                return finished_result(previous)
            if previous is not None and not executor.resumes:
                raise UserError(f"run {previous.info.run_id} of this experiment is unfinished; resuming it on Ray "
                                "(--workers, --ray-address) is not supported yet: rerun without them, or pass --restart")
            existing = run_index.child_runs(previous) if previous is not None else {}
            if previous is not None:
                resume.check_unchanged(previous, existing, masking.get_masks(first[2]))
                claim(previous.info.run_id)  # refused while another process runs it, before any run starts or ends
            stack.enter_context(resume.as_before(previous))
            stack.enter_context(executor.session())
            parent = stack.enter_context(tracking.run_scope(**_parent_run(cfg, splits, subject, experiment_id,
                                                                           previous, parent_run_id)))
            if previous is None:
                claim(parent.info.run_id)
        if previous is not None:
            echo(f"resuming run {previous.info.run_id}: {sum(map(run_index.is_finished, existing.values()))} "
                 "networks finished before")
        result = LotteryResult(experiment_id, parent.info.run_id)
        prunable = sum(m.size for m in masking.get_masks(first[2]).values())
        params = parent_params(cfg, splits, prunable)
        logged = previous.data.params if previous is not None else {}
        tracking.log_params({k: v for k, v in params.items() if k not in logged})
        inputs = tracking.dataset_inputs(splits.name, {"train": splits.train, "validation": splits.validation,
                                                       "test": splits.test}, subject.data)
        if previous is None:
            tracking.log_inputs(parent.info.run_id, inputs)
        runs = ChildRuns(cfg, splits, parent.info.run_id, echo, status, existing=existing,
                         checkpoints=root / parent.info.run_id, inputs=inputs)
        result.rounds = runs.summaries
        try:
            result.trials = executor.run_trials(runs, _chain(first, models_by_trial), experiment_id)
        finally:
            if result.rounds:
                log_network_table(result.rounds)
        verdicts.log_verdicts(experiment_id, result.run_id, result.rounds, cfg)
        log_report_or_warn(result.run_id, echo)
    return result


def _parent_run(cfg: ExperimentConfig, splits: data.Splits, subject: fingerprints.Subject, experiment_id: str,
                previous: Optional[Run], parent_run_id: Optional[str]) -> dict:
    """`run_scope`'s arguments: continue `previous`, else a fresh parent run (nested under `parent_run_id`)."""
    if previous is not None:
        return dict(run_id=previous.info.run_id, nested=parent_run_id is not None, log_system_metrics=cfg.system_metrics,
                    tags={resume.RESUMES_TAG: str(resume.resumes(previous) + 1)})
    return dict(
        experiment_id=experiment_id, nested=parent_run_id is not None, parent_run_id=parent_run_id,
        run_name=f"lottery-{cfg.pruning.mode}-seed{cfg.seed}" + (f"x{cfg.replicates}" if cfg.replicates > 1 else ""),
        tags={naming.KIND_TAG: naming.EXPERIMENT_KIND, naming.MODE_TAG: cfg.pruning.mode,
              naming.IDENTITY_TAG: cfg.identity(subject), naming.FAMILY_TAG: cfg.family(subject),
              descriptions.NOTE: descriptions.parent_note(cfg, splits)},
        log_system_metrics=cfg.system_metrics,
    )


def finished_result(parent: Run) -> LotteryResult:
    """A finished experiment's result read back from MLflow, as `run` returned it."""
    children = sorted((r for r in run_index.child_runs(parent).values() if run_index.is_finished(r)),
                      key=lambda r: r.info.start_time)
    result = LotteryResult(parent.info.experiment_id, parent.info.run_id, finished_before=True)
    result.rounds = [NetworkSummary.from_run(r.data.tags, r.data.metrics) for r in children]
    by_replicate: Dict[int, MasksByRound] = {}
    for run, summary in zip(children, result.rounds):
        if summary.kind in ("ticket", "one_shot"):
            masks = artifacts.load_arrays(run.info.run_id, naming.mask_artifact(summary.round))
            by_replicate.setdefault(summary.replicate, {})[(summary.kind, summary.round)] = masks
    result.trials = [by_replicate[r] for r in sorted(by_replicate)]
    return result


def _describe_experiment(experiment_id: str, cfg: ExperimentConfig) -> None:
    """The experiment's description (kept if there is one) and its runs-table view."""
    if descriptions.NOTE not in mlflow.get_experiment(experiment_id).tags:
        tracking.set_experiment_tag(experiment_id, descriptions.NOTE, descriptions.experiment_note(cfg))
    for tag, view in views.experiment_views(cfg.controls.controls).items():
        tracking.set_experiment_tag(experiment_id, tag, view)


def parent_params(cfg: ExperimentConfig, splits: data.Splits, prunable: int) -> dict:
    """The parent's params: every setting, the split sizes, and the rates pruning really used.

    `output_rate_used` is logged with the layerwise strategy only: the global strategy ranks
    the output layer in its one pool at `global_rate`.
    """
    used = {"output_rate_used": cfg.output_rate} if cfg.pruning.strategy == "layerwise" else {}
    return {**cfg.params(), **splits.sizes(), "prunable_weights": prunable, **used}


def log_report_or_warn(run_id: str, echo: Echo) -> None:
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
