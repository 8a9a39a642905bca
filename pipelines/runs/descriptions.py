"""What an experiment and each of its runs are, in words, for MLflow's description panels.

MLflow shows the tag `mlflow.note.content` (Markdown) as an experiment's or a run's
description. A newcomer opening the UI reads there what was trained, on what, against
which controls, and where the figures are; each network's run says what it is.
"""

from __future__ import annotations

from lth_tf import naming
from lth_tf.data import input_note
from lth_tf.settings import ExperimentConfig
from lth_tf.data import Splits
from pipelines import controls

NOTE = naming.NOTE_TAG

NETWORKS = {
    "ticket": "the ticket of round {round}: the previous round's survivors with the lowest scores pruned, "
              "the rest reset to θ0",
    "one_shot": "the one-shot ticket of round {round}: the dense network pruned once to this level, reset to θ0",
    "fine_tune": "the fine-tune chain at round {round}: the chain's previous network pruned to this round's "
                 "per-layer counts and trained on, never reset (conventional prune and fine-tune)",
    "transfer": "a transferred ticket of round {round}: a ticket found in another experiment (its source_run "
                "tag), its mask and θ0 trained on this run's data and settings",
    "supermask": "a supermask (edge-popup): the random weights, never trained, of which each layer uses those "
                 "with the largest learned scores",
}
DENSE = "the dense network (round 0): every weight, trained from θ0; the pruning starts from it"


def experiment_note(cfg: ExperimentConfig) -> str:
    return (f"Lottery-ticket experiments (lth-tf) on **{cfg.model.model}** with **{cfg.dataset.dataset}**. "
            "Each top-level run is one experiment: its charts (`rounds/KIND/...`, step = round) compare "
            "tickets with their controls round by round, and its artifacts hold the figures (`report/`). "
            "Expand it to see one nested run per trained network, with its learning curves "
            "(`train/`, `val/`, `test/`, step = iteration).")


def parent_note(cfg: ExperimentConfig, splits: Splits) -> str:
    p, c, t = cfg.pruning, cfg.controls, cfg.training
    sizes = ", ".join(f"{n:,} {split.removesuffix('_size')}" for split, n in splits.sizes().items())
    rounds = cfg.control_rounds(p.rounds)
    against = (f"controls {', '.join(f'`{k}`' for k in c.controls)} at rounds {', '.join(map(str, rounds))}"
               if c.controls else "no controls")
    seeds = cfg.seeds()
    return "\n".join([
        f"**{cfg.model.model}** on **{cfg.dataset.dataset}** ({sizes}); {p.mode} pruning by {p.criterion} "
        f"({p.strategy}), {p.rounds} rounds after the dense round 0, {t.iterations:,} iterations each; "
        f"{against}; seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}.",
        "",
        f"- Input: {input_note(splits)}.",
        f"- Charts: `{naming.per_round('ticket', 'early_stop_test_accuracy')}` and the controls' "
        "`rounds/KIND/...` against the round (the mean over seeds).",
        f"- Figures and the mean ± std table: artifacts `{naming.REPORT}/` "
        f"(`accuracy_vs_remaining.png`, `{naming.MEAN_STD_TABLE}.md`); one row per network: "
        f"`{naming.NETWORK_TABLE}.md`.",
        "- Every trained network is a nested run below this one (`ticket 21.1% r07 s0`).",
    ])


def network_note(kind: str, round_: int, seed: int, remaining: float) -> str:
    """`Reinit control of round 7: the ticket's mask on weights drawn afresh (...). 21.1% of the weights remain; seed 0.`"""
    if kind == "ticket" and round_ == 0:
        what = DENSE
    elif kind in NETWORKS:
        what = NETWORKS[kind].format(round=round_)
    else:
        doc = (getattr(controls.CONTROLS.get(kind), "__doc__", None) or "").strip().splitlines()
        what = f"{kind} control of round {round_}: " + (_lower_first(doc[0].rstrip(".")) if doc else "")
    return f"{_upper_first(what)}. {remaining:.1%} of the weights remain; seed {seed}."


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]
