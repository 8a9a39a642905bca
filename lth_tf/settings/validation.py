"""Checks of a whole configuration, at the edge: one true line per bad value (`UserError`).

Values are checked here, once, before any model is built or any MLflow run exists, so a
bad flag or YAML value never costs a run. Names are checked against the registries they
live in (models, criteria, controls, datasets), so a new registry entry needs no change here; a
plug-in's own settings are checked by the plug-in (`check`, declared with it: `lth_tf.registry`).
"""

from __future__ import annotations

from lth_tf import registry
from lth_tf.errors import UserError
from lth_tf.settings.groups import SupermaskHparams, TrainingHparams
from lth_tf.settings.fields import walk


def check(cfg) -> None:
    """Raises `UserError` for the first setting of `cfg` (an `ExperimentConfig`, which calls this) that cannot run."""
    t, p, d = cfg.training, cfg.pruning, cfg.dataset
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
    c = cfg.controls
    _check(cfg.replicates >= 1, f"--replicates must be at least 1, got {cfg.replicates}")
    _check(0 <= cfg.seed and cfg.seed + cfg.replicates <= 2**32,
           f"--seed must be in 0..{2**32 - cfg.replicates} (seeds are unsigned 32-bit), got {cfg.seed}")
    for round_ in c.control_rounds:
        _check(round_ >= 1, f"--control-rounds: {round_} is not a pruned round (1 or more)")
    check_start_step("reset-to", p.reset_to, t, minimum=0)
    if p.early_bird is not None:
        _check_early_bird(cfg)
    r = cfg.durability
    _check(not (r.resume and r.restart), "--resume and --restart exclude each other")
    if r.checkpoint_interval is not None:
        _check(r.checkpoint_interval >= 0 and r.checkpoint_interval % t.eval_interval == 0,
               f"--checkpoint-interval must be 0 or a multiple of --eval-interval ({t.eval_interval}), "
               f"got {r.checkpoint_interval}")
    if d.validation_size is not None:
        _check(d.validation_size >= 1, f"--validation-size must be at least 1, got {d.validation_size}")
    _check_options(cfg)
    _check_supermask(cfg.supermask)
    e = cfg.engine
    _check(e.workers >= 0, f"--workers must be at least 0, got {e.workers}")
    _check(not (e.workers and e.ray_address), "--workers starts a local Ray, --ray-address joins one: pass one")
    _check(e.gpu_share is None or 0 < e.gpu_share <= 1, f"--gpu-share must be in (0, 1], got {e.gpu_share}")
    _check(e.gpu_share is None or bool(e.workers or e.ray_address), "--gpu-share needs --workers or --ray-address")
    for group, name, value in _choice_fields(cfg):
        if value is None:  # an optional choice left unset
            continue
        choices = group.__dataclass_fields__[name].metadata["choices"]
        _check(value in choices, f"--{_flag(name)} must be one of {', '.join(choices)}, got '{value}'")
    from lth_tf import data, models  # registries live beside what they register
    from lth_tf.pruning import criteria  # noqa: F401
    from lth_tf.training import robustness

    robustness.parse(cfg.robustness.robustness)

    models.check(cfg.model.model, cfg.model)
    registry.of("criterion").lookup(p.criterion)
    for name in c.controls:
        registry.of("control").lookup(name)
    for plugin in registry.plugins():  # each plug-in checks its own settings (`lth_tf.registry`)
        if plugin.check is not None:
            plugin.check(cfg)
    data.parse(d.dataset)


def _check_options(cfg) -> None:
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


def _check_early_bird(cfg) -> None:
    p = cfg.pruning
    _check(p.early_bird >= 0, f"--early-bird must be a distance of at least 0, got {p.early_bird}")
    _check(p.early_bird_window >= 2, f"--early-bird-window must be at least 2, got {p.early_bird_window}")
    _check(p.criterion not in ("random", "local_change"), f"--early-bird: not with --criterion {p.criterion} (its "
           "draws do not follow the weights as they train)")
    _check("fine_tune" not in cfg.controls.controls, "--early-bird: not with the fine_tune control (its chain "
           "keeps training what it prunes)")


def _check_supermask(s: SupermaskHparams) -> None:
    _check(len(s.keep_fractions) >= 1, "--keep-fractions needs at least one fraction")
    for k in s.keep_fractions:
        _check(0 < k <= 1, f"--keep-fractions must be in (0, 1], got {k:g}")
    _check(len(set(s.keep_fractions)) == len(s.keep_fractions), "--keep-fractions lists a fraction twice")
    _check(s.score_learning_rate > 0, f"--score-learning-rate must be positive, got {s.score_learning_rate}")
    _check(0 <= s.score_momentum < 1, f"--score-momentum must be in [0, 1), got {s.score_momentum}")
    _check(s.score_weight_decay >= 0, f"--score-weight-decay must be at least 0, got {s.score_weight_decay}")


def check_start_step(flag: str, value: int, t: TrainingHparams, minimum: int) -> None:
    """An iteration of the dense run at which a round may begin: on an evaluation boundary, before the end."""
    _check(minimum <= value < t.iterations and value % t.eval_interval == 0,
           f"--{flag} must be a multiple of --eval-interval ({t.eval_interval}) in {minimum}..{t.iterations - 1}, "
           f"got {value}")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise UserError(message)


def _flag(name: str) -> str:
    return name.replace("_", "-")


def _choice_fields(cfg):
    for name, value, owner in walk(cfg):
        if owner.__dataclass_fields__[name].metadata.get("choices"):
            yield owner, name, value


