"""The noise control: the ticket's mask on its starting weights plus Gaussian noise (owns --noise-scale)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lth_tf.errors import UserError
from lth_tf.settings.fields import setting
from pipelines.controls.base import RoundContext, Start


@dataclass
class Settings:
    noise_scale: float = setting(0.5, "Noise control: standard deviations of each layer's θ0 added to θ0.")


def check(cfg) -> None:
    if cfg.controls.noise_scale < 0:
        raise UserError(f"--noise-scale must be non-negative, got {cfg.controls.noise_scale}")


def start(ctx: RoundContext) -> Start:
    """The ticket's start (θ0, or θk) plus Gaussian noise of `noise_scale` standard deviations of each layer's θ0.

    Only the masked weights are perturbed; each layer's σ is the standard deviation of its
    own θ0, the spread its initializer drew.
    """
    from lth_tf.training import weights

    rng = ctx.rng("noise")
    initial = weights.prunable_part(ctx.model, ctx.initial)
    start_ = weights.prunable_part(ctx.model, ctx.start)
    noisy = {k: start_[k] + rng.normal(0.0, ctx.noise_scale * float(np.std(w)), w.shape) for k, w in initial.items()}
    return Start(ctx.masks, weights.with_prunable(ctx.model, ctx.start, noisy), ctx.start_step)
