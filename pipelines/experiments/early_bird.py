"""Early-bird tickets in a lottery run (`--early-bird EPS`): a network that a later round prunes from stops
once the mask that pruning would draw from it has settled (You et al., ICLR 2020).

The tracker is `lth_tf.pruning.early_bird.EarlyBird`, drawing exactly what the round's pruning
draws (its criterion, counting and rates) at every evaluation. What is drawn:
- the dense network (round 0): level 1 (iterative), or levels 1..R (one-shot, both: the
  dense network is what one-shot prunes every round from); it never stops before the θk the
  run records (`--reset-to`, the rewind control's `--rewind-to`);
- iterative round r < R: level r + 1, candidates = the weights its mask keeps.
One-shot tickets and the last iterative round are pruned from by no one: they train in
full, as does every control. A stopped network's run holds `early_bird/iteration`,
`early_bird/iterations_saved` (budget - stop) and the tag `stopped_by=early_bird`; every
tracked network logs `early_bird/distance` (step = iteration: the largest distance of the
newest draw to the last window - 1, from the window-th evaluation on).
"""

from __future__ import annotations

from typing import Callable, Dict, Optional

import numpy as np

import mlflow

from lth_tf import masking, naming
from lth_tf.pruning import criteria
from lth_tf.pruning.early_bird import EarlyBird, pruning_draw
from lth_tf.settings import ExperimentConfig
from lth_tf.tracking import store as tracking
from lth_tf.training import weights



class TrackedEarlyBird(EarlyBird):
    """`EarlyBird` that logs its distances and where it stopped to the network's (active) MLflow run."""

    def __init__(self, *args, budget: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.budget = budget

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        iteration, distance = self.distances[-1]
        if distance == distance:  # not NaN: the window is full
            tracking.log_metrics(mlflow.active_run().info.run_id, {"early_bird/distance": distance}, step=iteration)

    def on_train_end(self, logs=None):
        run_id = mlflow.active_run().info.run_id
        if self.found is None:
            return
        stopped = self.stop and self.found < self.budget  # found at the last evaluation: nothing was cut short
        tracking.log_metrics(run_id, {"early_bird/iteration": self.found,
                                      "early_bird/iterations_saved": self.budget - self.found if stopped else 0},
                             step=0)
        if stopped:
            tracking.set_tag(naming.STOPPED_BY_TAG, "early_bird", run_id)


def levels(cfg: ExperimentConfig, kind: str, round_: int) -> list:
    """The levels pruning will draw from this network: none if no later round prunes from it."""
    p = cfg.pruning
    if kind != "ticket":
        return []
    if round_ == 0:
        return list(range(1, p.rounds + 1)) if p.mode in ("one_shot", "both") else [1]
    return [round_ + 1] if p.mode in ("iterative", "both") and round_ < p.rounds else []


def watch(model, cfg: ExperimentConfig, kind: str, round_: int, masks: masking.Masks, start_step: int,
          initial: Optional[weights.Snapshot], rates: Callable[[], Dict[str, float]],
          rng: np.random.Generator) -> Optional[TrackedEarlyBird]:
    """The round's early-bird tracker, or None (`--early-bird` off, or nothing prunes from this network).

    `rates`: the per-layer pruning rates (layerwise strategy); `rng`: the criterion's generator.
    """
    p, c = cfg.pruning, cfg.controls
    drawn = levels(cfg, kind, round_)
    if p.early_bird is None or not drawn:
        return None
    score = criteria.get(p.criterion)

    def scores(current, start):
        return score(current, start, rng, None)

    rates = rates() if p.strategy == "layerwise" else None
    draw = pruning_draw(masks, drawn, rates, p.global_rate if p.strategy == "global" else None, scores,
                        weights.prunable_part(model, initial) if initial is not None else None)
    earliest = max([p.reset_to, *([c.rewind_to] if "rewind" in c.controls else [])]) if round_ == 0 else 0
    return TrackedEarlyBird(draw, masks, p.early_bird, p.early_bird_window, start=start_step, earliest=earliest,
                            budget=cfg.training.iterations)
