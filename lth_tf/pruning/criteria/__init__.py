"""Pruning criteria: a score per weight; the lowest-scoring surviving weights are pruned.

A criterion sees the weights after training and at the round's start (θ0 for a ticket),
so the criteria of Zhou et al., "Deconstructing Lottery Tickets", which look at how
weights moved, share one signature with the paper's magnitude criterion. `random` is the
criterion-level control: masks stay nested across rounds but ignore the weights.
`local_change` is the seed notes' idea: keep the weights that still move fast from one
iteration to the next at the end of training; its evidence (`change`, mean |w_t - w_{t-1}|
per weight) is recorded during training by its own callback (`local_change_evidence.LocalChange`).

One file per criterion (`score(final, initial, rng, change)`, and where it has them its
`Settings`, `check(cfg)` and the training `callback` that records its evidence), plus one
registry line below.
"""

from __future__ import annotations

from lth_tf.pruning.criteria import local_change, magnitude, magnitude_increase, movement, random
from lth_tf.pruning.criteria.base import Criterion  # noqa: F401  (re-exported)
from lth_tf.registry import Registry

CRITERIA = Registry("criterion", group="pruning", entries=("score",))
register = CRITERIA.register
"""`@register("name")` above a `score` function: a criterion of your own, without settings."""
get = CRITERIA.lookup

# One line per criterion: its file declares the rest.
CRITERIA.add("magnitude", magnitude)
CRITERIA.add("movement", movement)
CRITERIA.add("magnitude_increase", magnitude_increase)
CRITERIA.add("random", random)
CRITERIA.add("local_change", local_change)


def evidence(name: str, start: int, end: int, cfg):
    """The training callback that records what criterion `name` scores by, for a round training from
    iteration `start` to `end` (None: it scores the weights alone). It exposes `begins`, the iteration
    it must see the weights at, and after training `scores`."""
    make = CRITERIA.plugin(name).get("callback")
    return None if make is None else make(start, end, cfg)
