"""GraSP (Wang et al. 2020) as a control: the ticket's sparsity, kept by θ0 ⊙ Hg on one batch, trained from θ0.

The library's `lth_tf.pruning.at_init.grasp` draws the mask (the authors' sign and
temperature); `pipelines.controls.at_init` says what every mask-drawing control shares.
Registered with its sanity checks `grasp_shuffle`, `grasp_reinit`, `grasp_invert`.
"""

from __future__ import annotations

from dataclasses import dataclass

from lth_tf.errors import UserError
from lth_tf.pruning.at_init import TEMPERATURE
from lth_tf.settings.fields import setting
from pipelines.controls import at_init

NOT_IN_TRANSFER = at_init.NOT_IN_TRANSFER


@dataclass
class Settings:
    grasp_temperature: float = setting(TEMPERATURE, "grasp control: T dividing the logits while scoring (the "
                                       "authors' 200).")


def check(cfg) -> None:
    if at_init.uses(cfg, "grasp") and not cfg.controls.grasp_temperature > 0:
        raise UserError(f"--grasp-temperature must be positive, got {cfg.controls.grasp_temperature}")


def method_settings(cfg) -> dict:
    return {"temperature": cfg.controls.grasp_temperature}


start = at_init.controls("grasp", method_settings)["grasp"]
