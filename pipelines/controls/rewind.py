"""Late resetting (Frankle et al. 2020): the ticket's mask, survivors reset to θk of the dense run (owns --rewind-to)."""

from __future__ import annotations

from dataclasses import dataclass

from lth_tf.settings.fields import setting
from lth_tf.settings.validation import check_start_step
from pipelines.controls.base import RoundContext, Start

NOT_IN_TRANSFER = "every transferred network starts at the source's θ0 at iteration 0 and no θk is recorded"


@dataclass
class Settings:
    rewind_to: int = setting(
        500, "Rewind control: the dense run's iteration k whose weights θk survivors reset to; it trains the "
        "remaining iterations with schedule and data order advanced to k, as --reset-to. A multiple of "
        "--eval-interval."
    )


def check(cfg) -> None:
    if "rewind" in cfg.controls.controls:
        check_start_step("rewind-to", cfg.controls.rewind_to, cfg.training, minimum=1)


def start(ctx: RoundContext) -> Start:
    """The ticket's mask, survivors reset to θk of the dense run, trained from iteration k on."""
    if ctx.rewind is None:
        raise ValueError("the rewind control needs θk recorded during the dense round")
    return Start(ctx.masks, ctx.rewind, ctx.rewind_step)
