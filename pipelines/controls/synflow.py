"""SynFlow (Tanaka et al. 2020) as a control: the ticket's sparsity, drawn data-free and iteratively, trained from θ0.

The library's `lth_tf.pruning.at_init.synflow` draws the mask (absolute-valued network,
all-ones input, exponential schedule); `pipelines.controls.at_init` says what every
mask-drawing control shares. Registered with its sanity checks `synflow_shuffle`,
`synflow_reinit`, `synflow_invert` (inverted at every iteration).
"""

from __future__ import annotations

from dataclasses import dataclass

from lth_tf.errors import UserError
from lth_tf.pruning.at_init import ITERATIONS
from lth_tf.settings.fields import setting
from pipelines.controls import at_init

NOT_IN_TRANSFER = at_init.NOT_IN_TRANSFER


@dataclass
class Settings:
    synflow_iterations: int = setting(ITERATIONS, "synflow control: pruning iterations of its exponential "
                                      "schedule (the paper's 100).")


def check(cfg) -> None:
    if at_init.uses(cfg, "synflow") and cfg.controls.synflow_iterations < 1:
        raise UserError(f"--synflow-iterations must be at least 1, got {cfg.controls.synflow_iterations}")


def method_settings(cfg) -> dict:
    return {"iterations": cfg.controls.synflow_iterations}


start = at_init.controls("synflow", method_settings)["synflow"]
