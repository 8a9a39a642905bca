"""Controls: a ticket's training, started from another mask or from other weights.

The Lottery Ticket Hypothesis is a claim against controls: a winning ticket must beat
its own mask with other weights (`reinit`, `noise`) and other masks of the same sizes
with its weights (`random_prune`); `prune_at_init` is the seed's "pruning before
training" (the mask chosen from |θ0| before any training), and `rewind` the
late-resetting variant (reset to θk of the dense run with the schedule and data order
advanced to k, Frankle et al. 2020). Like open_lth's branches, each control is one
file (`start(ctx) -> Start`, with its own settings and checks: `pipelines.controls.base`) plus
one registry line below; the pipeline trains and tracks it like a ticket.

Controls that keep the ticket's weights (`random_prune`, `noise`) start where the
ticket starts: θ0 at iteration 0, or θk at iteration k with `--reset-to k`. Controls
with weights of their own (`reinit`, `prune_at_init`) train the full budget from 0.
The conventional baseline, `fine_tune`, is not a per-round control but a chain of its
own (`pipelines.controls.fine_tune`).
"""

from __future__ import annotations

from typing import List

from lth_tf.registry import Registry
from pipelines.controls import (at_init, fine_tune, gradual, grasp, noise, prune_at_init, random_prune, reinit, rewind,
                               signed_reinit, snip, synflow, ticket_invert)
from pipelines.controls.base import RoundContext, Start  # noqa: F401  (re-exported: a control's types)

CONTROLS = Registry("control", group="controls", entries=("start", "chain"))
"""name -> `start(ctx)` (or, for a chain, `chain(...)`); each control's file also declares its settings and checks."""
get = CONTROLS.lookup

# One line per control: its file declares the rest.
CONTROLS.add("reinit", reinit)
CONTROLS.add("random_prune", random_prune)
CONTROLS.add("prune_at_init", prune_at_init)
CONTROLS.add("noise", noise)
CONTROLS.add("rewind", rewind)
CONTROLS.add("fine_tune", fine_tune)
CONTROLS.add("signed_reinit", signed_reinit)
at_init.add(CONTROLS, "snip", snip)  # with snip_shuffle, snip_reinit, snip_invert
at_init.add(CONTROLS, "grasp", grasp)
at_init.add(CONTROLS, "synflow", synflow)
CONTROLS.add("gradual", gradual)
CONTROLS.add("ticket_invert", ticket_invert)


def is_chain(name: str) -> bool:
    """A control that trains a chain of networks of its own every round (`chain`) rather than one network
    at each control round (`start`)."""
    return CONTROLS.plugin(name).get("chain") is not None


def per_round(names) -> List[str]:
    """Of `names`, the controls trained at each control round (not chains)."""
    return [name for name in names if not is_chain(name)]


def not_in_transfer(name: str):
    """Why control `name` cannot run in a transfer, or None."""
    return CONTROLS.plugin(name).get("NOT_IN_TRANSFER")


def check(name: str) -> None:
    """A one-line error unless `name` is a known control."""
    CONTROLS.lookup(name)
