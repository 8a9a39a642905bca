"""Where networks train: one after another in this process, or fanned out on Ray.

`for_settings(cfg)` is the executor the settings choose; experiments ask it (see `base.Executor`).
"""

from lth_tf.settings import ExperimentConfig
from pipelines.execution.base import Executor
from pipelines.execution.local import LocalExecutor
from pipelines.execution.ray import RayExecutor


def for_settings(cfg: ExperimentConfig) -> Executor:
    """Ray's with `--workers` or `--ray-address`, else the local one."""
    return RayExecutor(cfg.engine) if cfg.fans_out else LocalExecutor()
