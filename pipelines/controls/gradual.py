"""tfmot's gradual magnitude pruning (Zhu & Gupta 2017) as a control: the baseline a TF user would pick.

At a control round, one network is trained from θ0 of the trial (dense) for the same
`--iterations` as a ticket, with tfmot's own API (`lth_tf.pruning.gradual`): each layer
the ticket prunes is wrapped by `prune_low_magnitude` with a `PolynomialDecay` schedule
from sparsity 0 at `--gradual-begin` to the round's sparsity at `--gradual-end`, its
mask recomputed every `--gradual-frequency` iterations, driven by tfmot's
`UpdatePruningStep`. Which sparsity: under `--strategy layerwise` each layer keeps the
ticket's count (the per-kind rates are settings, not IMP's findings); under `--strategy
global` every pruned layer keeps the ticket's total fraction (`gradual.uniform_counts`,
what one schedule for all layers gives a tfmot user), so IMP's per-layer allocation
does not leak into the baseline. tfmot's wrapper counts its steps itself, inside each
training step, so `--steps-per-execution` changes nothing (tested with 5); it trains
without XLA (not tried with tfmot's wrapper). Its early stop is chosen among
the evaluations from `--gradual-end` on, where it is at its sparsity. Its mask (tfmot's
final masks, keyed like lth-tf's) is logged like a ticket's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

from lth_tf.errors import UserError
from lth_tf.pruning import gradual
from lth_tf.settings.fields import setting
from pipelines.controls.base import RoundContext, Start

KIND = "gradual"
NOT_IN_TRANSFER = "a transfer trains tickets of another run, and gradual pruning finds its own mask while training"


@dataclass
class Settings:
    gradual_begin: Optional[int] = setting(
        None, "gradual control: the iteration tfmot starts pruning at (default 10% of --iterations, rounded down "
        "to a multiple of --gradual-frequency).")
    gradual_end: Optional[int] = setting(
        None, "gradual control: the iteration it reaches the round's sparsity (default 50% of --iterations, so "
        "that end - begin is a multiple of --gradual-frequency); at most --iterations.")
    gradual_frequency: int = setting(gradual.FREQUENCY, "gradual control: iterations between tfmot's mask "
                                     "updates (tfmot's default 100).")
    gradual_power: float = setting(float(gradual.POWER), "gradual control: the PolynomialDecay exponent (Zhu & "
                                   "Gupta's and tfmot's 3).")


def schedule(cfg) -> Tuple[int, int, int]:
    """(begin, end, frequency) of the schedule, defaults filled in."""
    c, budget = cfg.controls, cfg.training.iterations
    frequency = c.gradual_frequency
    step = max(frequency, 1)
    begin = c.gradual_begin if c.gradual_begin is not None else (budget // 10) // step * step
    end = c.gradual_end if c.gradual_end is not None else begin + max((budget // 2 - begin) // step, 1) * step
    return begin, end, frequency


def check(cfg) -> None:
    if KIND not in cfg.controls.controls:
        return
    begin, end, frequency = schedule(cfg)
    gradual.check_schedule(begin, end, frequency, cfg.training.iterations)
    if not cfg.controls.gradual_power > 0:
        raise UserError(f"--gradual-power must be positive, got {cfg.controls.gradual_power}")


def counts(ctx: RoundContext) -> Dict[str, int]:
    """The count each pruned layer reaches: the ticket's (layerwise) or the ticket's total fraction (global)."""
    if ctx.cfg.pruning.strategy == "global":
        return gradual.uniform_counts(ctx.masks)
    return {key: int(m.sum()) for key, m in ctx.masks.items()}


def start(ctx: RoundContext) -> Start:
    """θ0 at iteration 0, dense; the network trains its own way (`network`): tfmot prunes it while it trains."""
    if ctx.cfg is None:  # where a finished network started (`pipelines.runs.tickets`): θ0, its mask in hand
        return Start(ctx.masks, ctx.initial, 0)
    targets = counts(ctx)
    sized = {k: np.arange(m.size).reshape(m.shape) < targets[k] for k, m in ctx.masks.items()}  # the counts only
    return Start(sized, ctx.initial, 0, network=lambda runs, kind, round_, replicate, seed:
                 train(ctx, targets, sized, runs, kind, round_, replicate, seed))


def train(ctx: RoundContext, targets: Dict[str, int], sized, runs, kind: str, round_: int, replicate: int,
          seed: int) -> None:
    """Trains and tracks tfmot's network (sharing the model's layers); the model is left as it was."""
    from lth_tf import masking
    from lth_tf.training import weights

    model, cfg = ctx.model, ctx.cfg
    begin, end, frequency = schedule(cfg)
    saved, saved_masks = weights.take(model), masking.get_masks(model)
    try:
        masking.set_masks(model, {k: np.ones_like(m) for k, m in saved_masks.items()})
        weights.restore(model, ctx.initial)
        pruned = gradual.gradual_pruning(masking.strip_masks(model), targets, begin, end, frequency,
                                         cfg.controls.gradual_power)
        hparams = dataclasses.replace(cfg.training, jit_compile=False)
        runs.train(pruned, kind, round_, replicate, seed, sized, gradual.callbacks(), hparams=hparams,
                   own_masks=gradual.gradual_masks, early_stop_from=end,
                   tags={"gradual_schedule": f"{begin}-{end}/{frequency}"})
    finally:
        weights.restore(model, saved)
        masking.set_masks(model, saved_masks)
