"""The conventional baseline as a chain: train, prune, fine-tune, repeat; never reset.

What the seed slides call the baseline (Han et al. 2015): round r prunes the network
that round r-1 of this chain fine-tuned (round 1 prunes the dense network) to the same
per-layer counts as the ticket of round r (under `--strategy global` too, where the
counts come from the ticket's ranking, not from a rate), and keeps training its
surviving weights for `--fine-tune-iterations` (default the round budget). Nothing is ever reset to θ0 or θk.
Training continues where the dense run stopped: round r covers iterations
T + (r-1)F .. T + rF of one long run (T the budget, F the fine-tune iterations), with the
learning-rate schedule and data order there (past every drop and the warmup), so its
early-stop iterations count from the start of the dense run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, Optional

from lth_tf.errors import UserError
from lth_tf.settings.fields import setting

if TYPE_CHECKING:
    from lth_tf.masking import Masks

KIND = "fine_tune"
NOT_IN_TRANSFER = "nothing is pruned in a transfer"


@dataclass
class Settings:
    fine_tune_iterations: Optional[int] = setting(
        None, "fine_tune chain: iterations each round keeps training the pruned network (default: --iterations)."
    )


def check(cfg) -> None:
    every, interval = cfg.controls.fine_tune_iterations, cfg.training.eval_interval
    if every is not None and not (every >= interval and every % interval == 0):
        raise UserError(f"--fine-tune-iterations must be a positive multiple of --eval-interval ({interval}), "
                        f"got {every}")


def chain(train, prune, dense, dense_masks, cfg, tickets: Dict[int, Masks]) -> None:
    """Prune, fine-tune, repeat, every round. `train` and `prune` are the trial's (`pipelines.experiments.trial`); `dense` its trained dense network;
    `tickets` the round's ticket masks, whose per-layer counts each round keeps."""
    from lth_tf.training.callbacks import StartFrom

    budget = cfg.training.iterations
    per_round = cfg.controls.fine_tune_iterations or budget
    masks, current = dense_masks, dense
    for round_ in range(1, cfg.pruning.rounds + 1):
        masks = prune(current, masks, round_, KIND, like=tickets[round_])
        begin = budget + (round_ - 1) * per_round
        current = train(KIND, round_, masks, [StartFrom(current.weights)], begin, begin + per_round)
