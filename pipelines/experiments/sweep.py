"""A sweep: one full experiment per point of a grid or list of settings, under one sweep run.

```yaml
base:                      # settings every point shares (keys as `lth-tf run`'s flags)
  iterations: 2000
grid:                      # every combination of these values ...
  fc_rate: [0.1, 0.2]
  criterion: [magnitude, movement]
points:                    # ... and/or these points, each on top of base
  - {dataset: "idx:/usr/share/datasets/fashion-mnist", learning_rate: 0.001}
```

Every point is checked before anything runs. Each point is an ordinary experiment (its
own parent run, nested runs per network) nested under the sweep's run, all in one MLflow
experiment so the UI lists them together. With `workers` or `ray_address` in base, the
points are Ray tasks, each training its networks one after another inside its worker;
otherwise they run one after another here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List

import mlflow

from lth_tf import naming
from lth_tf.tracking import store as tracking
from lth_tf.settings import ExperimentConfig, build_config, read_yaml
from lth_tf.errors import UserError
from pipelines import execution
from pipelines.experiments import lottery

ENGINE_KEYS = ("workers", "ray_address")
"""Settings of the sweep, not of its points: points train their networks within their own task."""


@dataclass
class Sweep:
    name: str
    base: Dict[str, Any]
    points: List[Dict[str, Any]]
    """Each point's settings on top of `base` (what varies)."""

    def configs(self) -> List[ExperimentConfig]:
        common = {k: v for k, v in self.base.items() if k not in ENGINE_KEYS}
        return [build_config({**common, **point, "experiment_name": self.name}) for point in self.points]


def read(path: str) -> Sweep:
    """A sweep from YAML; every point validated (one-line error, exit 2) before anything runs."""
    spec = read_yaml(path)
    unknown = set(spec) - {"base", "grid", "points", "name"}
    if unknown:
        raise UserError(f"sweep file {path}: unknown section(s) {', '.join(sorted(unknown))}; "
                        "expected base, grid, points (and name)")
    base, grid, listed = spec.get("base") or {}, spec.get("grid") or {}, spec.get("points") or []
    if not isinstance(base, dict) or not isinstance(grid, dict) or not isinstance(listed, list):
        raise UserError(f"sweep file {path}: base and grid must be mappings, points a list of mappings")
    if any(not isinstance(values, list) or not values for values in grid.values()):
        raise UserError(f"sweep file {path}: every grid setting needs a non-empty list of values")
    if any(not isinstance(point, dict) for point in listed):
        raise UserError(f"sweep file {path}: every point must be a mapping of setting: value")
    points = [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())] if grid else []
    points += listed
    if not points:
        raise UserError(f"sweep file {path}: no points; give a grid or a list of points")
    sweep = Sweep(str(spec.get("name") or f"sweep-{Path(path).stem}"), base, points)
    sweep.configs()  # validates every point
    return sweep


def run(sweep: Sweep, echo=print) -> List[str]:
    """Runs every point under one sweep run; returns the points' parent run ids."""
    configs = sweep.configs()
    engine = build_config({k: v for k, v in sweep.base.items() if k in ENGINE_KEYS or k == "tracking_uri"})
    experiment_id = tracking.open_experiment(configs[0].tracking_uri, sweep.name)
    executor = execution.for_settings(engine)
    with executor.session(), tracking.run_scope(
        experiment_id=experiment_id, run_name=f"{sweep.name} ({len(configs)} points)",
        tags={naming.KIND_TAG: naming.SWEEP_KIND},
    ) as parent:
        mlflow.log_params({"points": len(configs), **{k: v for k, v in sweep.base.items() if k not in ENGINE_KEYS}})
        varying = sorted({k for point in sweep.points for k in point})
        mlflow.log_param("varies", ",".join(varying))
        labels = [_describe(point) for point in sweep.points]
        return executor.run_experiments(_point, configs, labels, parent.info.run_id, echo)


def _point(cfg: ExperimentConfig, parent_run_id: str, echo=print) -> str:
    """One point's experiment, nested under the sweep's run (here, or as a Ray task)."""
    return lottery.run(cfg, echo=echo, parent_run_id=parent_run_id).run_id


def _describe(point: Dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items())
