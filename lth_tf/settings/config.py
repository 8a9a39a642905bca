"""An experiment's configuration: the setting groups (`lth_tf.settings.groups`) put together.

Flat names are the flags' and YAML keys' (`fc_rate`, `--fc-rate`) and the MLflow params';
`build_config` coerces and checks them (`lth_tf.settings.validation`) at the edge. An experiment's
identity (`ExperimentConfig.identity`) is a hash of what it runs (`Subject`: the command,
the data, a user's model, a transfer's source) and of the settings that change its results
and differ from their defaults, as open_lth names its runs; its family leaves out the
seeds, so replicates share it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

from lth_tf.settings import suggest, validation
from lth_tf.errors import UserError
from lth_tf.settings.fields import setting, walk
from lth_tf.settings.groups import (GROUPS, ControlHparams, DatasetHparams, EngineHparams, ModelHparams, PruningHparams,
                                    ResumeHparams, RobustnessHparams, SupermaskHparams, TrainingHparams, group_class)
from lth_tf.settings.presets import PRESETS, with_preset


@dataclass
class ExperimentConfig:
    dataset: DatasetHparams = field(default_factory=DatasetHparams)
    model: ModelHparams = field(default_factory=ModelHparams)
    training: TrainingHparams = field(default_factory=TrainingHparams)
    pruning: PruningHparams = field(default_factory=lambda: group_class("pruning")())
    """With the criteria's own settings (`lth_tf.registry`)."""
    controls: ControlHparams = field(default_factory=lambda: group_class("controls")())
    """With the controls' own settings."""
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
        return {name: value for name, value, _ in walk(self)}

    def changed(self) -> Dict[str, Any]:
        """The settings that differ from their defaults, by flat name."""
        return {name: value for name, value, group in walk(self) if value != _default(group, name)}

    def identity(self, subject: "Subject") -> str:
        """The experiment's name: a hash of `subject` and of the changed settings that change results.

        Only settings that differ from their defaults count (open_lth's `Desc.hashname`
        hashes its hparams' non-default fields the same way): a setting added later, whose
        default keeps the old behaviour, leaves every earlier identity alone. Hence a
        default must never change its meaning; `tests/unit/test_identity.py` pins identities.
        """
        return _hash({**subject.described(), "settings": _without(self.changed(), NOT_IDENTITY)})

    def family(self, subject: "Subject") -> str:
        """The identity without the seeds: experiments of one family are replicates of each other."""
        return _hash({**subject.described(), "settings": _without(self.changed(), NOT_FAMILY)})

    def legacy(self) -> Tuple[Optional[str], Optional[str]]:
        """(identity, family) as lth-tf tagged runs before `Subject` (frozen: never edit).

        That scheme hashed every setting of its time, defaults included, and nothing else;
        `pipelines.runs.resume` finds the runs it tagged by these. (None, None) when a setting
        that came later is set: no run of that scheme can have had it.
        """
        flat = self.flat()
        later = {k for k in flat if k not in LEGACY_SETTINGS and k not in NOT_IDENTITY}
        if any(k in self.changed() for k in later):
            return None, None
        settings = {k: flat.get(k, default) for k, default in LEGACY_SETTINGS.items()}
        return _hash(settings), _hash(_without(settings, {"seed", "replicates"}))

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
        """Networks train on Ray (`pipelines.execution.ray`) rather than one after another in this process."""
        return bool(self.engine.workers or self.engine.ray_address)

    def seeds(self) -> List[int]:
        return [self.seed + i for i in range(self.replicates)]

    def control_rounds(self, rounds: int) -> List[int]:
        """The pruned rounds (1..rounds) at which the controls run."""
        chosen = self.controls.control_rounds
        return sorted({r for r in chosen if r <= rounds}) if chosen else list(range(1, rounds + 1))

    def validate(self) -> "ExperimentConfig":
        """This configuration, checked (`lth_tf.settings.validation`): a bad value raises one true line."""
        validation.check(self)
        return self


@dataclass(frozen=True)
class Subject:
    """What an experiment runs besides its settings; its identity and family hash these.

    `lth_tf.tracking.fingerprints.subject` fills it in. Empty fields are left out of the hash, so a
    field added here later with an empty default changes no identity either.
    """

    command: str
    """`lottery` (`lth-tf run`, sweeps' points), `supermask` or `transfer`."""
    data: Dict[str, str] = field(default_factory=dict)
    """Digest of each split's examples and labels (`fingerprints.data`), as MLflow logs the dataset inputs."""
    architecture: Optional[str] = None
    """Digest of a user's model (`fingerprints.architecture`); None for a registry model, named by its settings."""
    source: Optional[str] = None
    """A transfer's source: `RUN_ID:ROUND,ROUND...`."""
    earlier: Dict[str, str] = field(default_factory=dict, compare=False)
    """Not hashed: what runs of the earlier scheme (`ExperimentConfig.legacy`) logged of this data and
    model, the `prunable_weights` param and MLflow's digest of each split's dataset input; a run
    found by its old identity is taken for this experiment only if these agree."""

    def described(self) -> Dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v and k != "earlier"}


def _hash(settings: Dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _default(group, name: str) -> Any:
    f = group.__dataclass_fields__[name]
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def _without(settings: Dict[str, Any], names) -> Dict[str, Any]:
    return {k: v for k, v in settings.items() if k not in names}


NOT_IDENTITY = frozenset(
    {"experiment_name", "tracking_uri", "log_models", "data_dir", "download", "steps_per_execution",
     "system_metrics",  # what MLflow records about the machine, not the networks
     "test_curve",  # how densely the test curve is logged; every summary is bitwise the same
     "preset",  # a preset only fills in other settings, which the identity already covers
     "workers", "ray_address", "gpu_share",  # where networks train; results are bitwise the same
     "data_on_device",  # where batches are gathered; the same batches, bitwise the same training
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
LEGACY_SETTINGS = {
    "dataset": "mnist-5k", "validation_size": None, "normalization": "auto", "augment": False,
    "model": "lenet_300_100", "unpruned_layers": (), "dropout": 0.0, "initializer": None,
    "nonaffine_batchnorm": False, "iterations": 2000, "batch_size": 60, "optimizer": "adam",
    "learning_rate": 0.0012, "eval_interval": 100, "deterministic": False, "jit_compile": None,
    "precision": "float32", "momentum": 0.0, "weight_decay": 0.0, "lr_drops": (), "lr_drop_factor": 0.1,
    "warmup_iterations": 0, "cosine_decay": False, "rounds": 15, "strategy": "layerwise", "fc_rate": 0.2,
    "conv_rate": 0.1, "output_rate": None, "global_rate": 0.2, "criterion": "magnitude",
    "local_change_window": 100, "mode": "iterative", "reset_to": 0, "controls": ("reinit",),
    "control_rounds": (3, 7, 12), "noise_scale": 0.5, "fine_tune_iterations": None, "rewind_to": 500,
    "keep_fractions": (0.1, 0.3, 0.5, 0.7), "score_optimizer": "sgd", "score_learning_rate": 0.1,
    "score_momentum": 0.9, "score_weight_decay": 0.0001, "score_cosine_decay": True, "scale_initializer": True,
    "robustness": (), "distribute": "none", "seed": 0, "replicates": 1,
}
"""The settings the earlier identity scheme hashed, with their defaults then (`ExperimentConfig.legacy`)."""



def settings(skip_groups: Tuple[str, ...] = ()) -> Dict[str, dataclasses.Field]:
    """Every setting's field by flat name (for generating flags and checking YAML keys).

    `skip_groups` leaves out whole groups (e.g. "supermask") a command has no use for.
    """
    grouped = {f.name: f for group in GROUPS if group not in skip_groups
               for f in dataclasses.fields(group_class(group))}
    top = {f.name: f for f in dataclasses.fields(ExperimentConfig) if f.name not in GROUPS}
    return {**grouped, **top}




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
            close = suggest.did_you_mean(raw_name, known)
            raise UserError(f"unknown setting '{raw_name}'" + (close or f"; known: {', '.join(sorted(known))}"))
        target = cfg
        for group_name in GROUPS:
            if name in getattr(cfg, group_name).__dataclass_fields__:
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

