"""One trial: a seed's dense network, its tickets round by round, and their controls.

Iterative: round r prunes the ticket trained in round r-1 and resets the survivors to
θ0, or, with `--reset-to k`, to θk of the dense run and trains the remaining iterations
with the schedule and data order advanced to k (rewinding, open_lth's `start_step`).
One-shot: round r prunes the dense round-0 network straight to round r's level, so both
modes reach the same remaining fractions and can be compared level by level. Controls
run beside the tickets of the primary mode (iterative, unless only one-shot runs), each
sharing the round's mask or starting weights as `pipelines.controls` describes; the
`fine_tune` baseline is a chain of its own (`pipelines.controls.fine_tune`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from lth_tf import masking, naming
from lth_tf.tracking import artifacts
from lth_tf.pruning import criteria, counts as pruning
from lth_tf.training import weights
from lth_tf.training.callbacks import RecordWeights, ResetToInitialWeights, StartFrom
from lth_tf.settings import ExperimentConfig
from lth_tf.errors import UserError
from lth_tf.tfkeras import keras
from pipelines import controls
from pipelines.experiments import early_bird
from pipelines.runs.network_run import ChildRuns

MasksByRound = Dict[Tuple[str, int], masking.Masks]


@dataclass
class Trained:
    """A trained network as the next pruning step sees it."""

    weights: Optional[weights.Snapshot]
    """Its trained weights (None when nothing prunes from it: a one-shot ticket)."""
    change: Optional[Dict[str, np.ndarray]] = None
    """Per-iteration change of each masked weight near the end of training (`local_change` only)."""
    kept: Dict[str, weights.Snapshot] = field(default_factory=dict)
    """Other snapshots taken as it trained (θ0, θk of the dense run)."""


def layer_rates(model: keras.Model, cfg: ExperimentConfig) -> Dict[str, float]:
    """The per-round pruning rate of each masked weight, from its layer kind."""
    masked = masking.masked_weights(model)
    keys, owners = [w.key for w in masked], [w.layer for w in masked]
    by_kind = {"fc": cfg.pruning.fc_rate, "conv": cfg.pruning.conv_rate, "output": cfg.output_rate}
    return {key: by_kind[kind] for key, kind in pruning.layer_kinds(keys, owners, masking.output_layer(model)).items()}


def next_masks(
    model: keras.Model,
    cfg: ExperimentConfig,
    trained: weights.Snapshot,
    initial: weights.Snapshot,
    masks: masking.Masks,
    level: int,
    rng: np.random.Generator,
    change: Optional[Dict[str, np.ndarray]] = None,
    like: Optional[masking.Masks] = None,
) -> masking.Masks:
    """Prunes `trained` (under `masks`) down to `level` rounds' worth; masks stay nested.

    `like`: keep exactly as many weights in each layer as these masks do (the `fine_tune`
    chain matches the round's ticket so, whatever the strategy).
    """
    final = weights.prunable_part(model, trained)
    start = weights.prunable_part(model, initial)
    score = criteria.get(cfg.pruning.criterion)
    scores = {k: score(final[k], start[k], rng, (change or {}).get(k)) for k in masks}
    if like is not None:
        return {k: pruning.keep_top(scores[k], masks[k], int(like[k].sum())) for k in masks}
    if cfg.pruning.strategy == "global":
        return pruning.prune_global(scores, masks, cfg.pruning.global_rate, level)
    return pruning.prune_layerwise(scores, masks, layer_rates(model, cfg), level)


def pruning_rng(seed: int, kind: str, level: int) -> np.random.Generator:
    """The generator a pruning step may use (the random criterion does), fixed by seed, mode, level."""
    return np.random.default_rng([seed, level, {"ticket": 0, "one_shot": 1}.get(kind, 2)])


def trainer(model: keras.Model, cfg: ExperimentConfig, runs: ChildRuns, replicate: int, seed: int,
            initial: Optional[weights.Snapshot] = None):
    """`train(kind, round, masks, callbacks, start_step, end) -> Trained`: one tracked network.

    Records the evidence the criterion needs (its `callback`, as `local_change`'s) alongside the weights. What
    later rounds prune from (and `keep`) is saved with the network's run, so that a
    resumed trial reads it back instead of retraining a network that had finished.
    With `--early-bird`, a network pruned later stops once its mask settles (`early_bird`;
    `initial`: θ0, which some criteria compare with) and is pruned from the weights there.
    """
    def train(kind: str, round_: int, masks: masking.Masks, callbacks: List[keras.callbacks.Callback],
              start_step: int = 0, end: Optional[int] = None, align_to=(), keep=None,
              pruned_later: bool = True) -> Trained:
        stop = cfg.training.iterations if end is None else end
        keep = dict(keep or {})
        if pruned_later:
            keep["trained"] = lambda: weights.take(model)
        watch = criteria.evidence(cfg.pruning.criterion, start_step, stop, cfg) if pruned_later else None
        if watch is not None:  # what the criterion scores by besides the weights (local_change's)
            callbacks, align_to = [*callbacks, watch], [*align_to, watch.begins]
            keep["change"] = lambda: [watch.scores[k] for k in sorted(watch.scores)]
        bird = early_bird.watch(model, cfg, kind, round_, masks, start_step, initial, lambda: layer_rates(model, cfg),
                                pruning_rng(seed, kind, round_ + 1)) if pruned_later else None
        if bird is not None:
            callbacks = [*callbacks, bird]
            keep["trained"] = lambda: bird.snapshot if bird.found is not None else weights.take(model)
        _, kept = runs.train(model, kind, round_, replicate, seed, masks, callbacks, align_to, keep=keep,
                             start_step=start_step, iterations=end)
        change = dict(zip(sorted(masks), kept.pop("change"))) if "change" in kept else None
        return Trained(kept.pop("trained", None), change, kept)

    return train


def _snapshot_at(record: RecordWeights, iteration: int):
    return lambda: record.snapshots[iteration]


def run_trial(model: keras.Model, cfg: ExperimentConfig, runs: ChildRuns, replicate: int, seed: int) -> MasksByRound:
    """Trains everything one seed contributes; returns the tickets' masks by (kind, round)."""
    p, c = cfg.pruning, cfg.controls
    dense_masks = {k: np.ones_like(m) for k, m in masking.get_masks(model).items()}
    recorded = sorted({p.reset_to, *([c.rewind_to] if "rewind" in c.controls else [])} - {0})
    record = RecordWeights(recorded)
    keep = {f"theta_{k}": _snapshot_at(record, k) for k in recorded}
    reset = ResetToInitialWeights()
    reset.initial_weights = initial = initial_weights(model, seed, runs, replicate)  # the dense network starts there
    train = trainer(model, cfg, runs, replicate, seed, initial)
    dense = train("ticket", 0, dense_masks, [reset, record], align_to=recorded, keep=keep)
    theta = {k: dense.kept[f"theta_{k}"] for k in recorded}
    start = theta[p.reset_to] if p.reset_to else initial
    tickets: MasksByRound = {("ticket", 0): dense_masks}
    control_rounds = set(cfg.control_rounds(p.rounds))
    primary = "one_shot" if p.mode == "one_shot" else "ticket"

    def prune(pruned_from: Trained, masks: masking.Masks, round_: int, kind: str,
              like: Optional[masking.Masks] = None) -> masking.Masks:
        return next_masks(model, cfg, pruned_from.weights, initial, masks, round_, pruning_rng(seed, kind, round_),
                          pruned_from.change, like)

    def controls_at(round_: int, masks: masking.Masks, pruned_from: Trained) -> None:
        if round_ not in control_rounds:
            return
        context = controls.RoundContext(model, round_, seed, masks, initial, pruned_from.weights,
                                        theta.get(c.rewind_to), c.noise_scale, start, p.reset_to, c.rewind_to,
                                        cfg=cfg, splits=runs.splits)
        for name in controls.per_round(c.controls):
            begin = controls.get(name)(context)
            if begin.network is not None:  # trains its own way (gradual: tfmot's wrapper)
                begin.network(runs, name, round_, replicate, seed)
                continue
            runs.train_from(model, name, round_, replicate, seed, begin.masks, begin.weights, begin.step)

    if p.mode in ("iterative", "both"):
        masks, pruned_from = dense_masks, dense
        for round_ in range(1, p.rounds + 1):
            masks = prune(pruned_from, masks, round_, "ticket")
            tickets[("ticket", round_)] = masks
            # the last ticket's trained weights are pruned from by no one: not saved
            trained = train("ticket", round_, masks, [StartFrom(start)], p.reset_to, pruned_later=round_ < p.rounds)
            if primary == "ticket":
                controls_at(round_, masks, pruned_from)
            pruned_from = trained
    if p.mode in ("one_shot", "both"):
        for round_ in range(1, p.rounds + 1):
            masks = prune(dense, dense_masks, round_, "one_shot")
            tickets[("one_shot", round_)] = masks
            train("one_shot", round_, masks, [StartFrom(start)], p.reset_to, pruned_later=False)
            if primary == "one_shot":
                controls_at(round_, masks, dense)
    for name in c.controls:  # the controls that are chains of their own (fine_tune)
        if controls.is_chain(name):
            controls.get(name)(train, prune, dense, dense_masks, cfg,
                               {r: tickets[(primary, r)] for r in range(1, p.rounds + 1)})
    runs.join()  # controls handed to other workers
    return tickets


def initial_weights(model: keras.Model, seed: int, runs: ChildRuns, replicate: int) -> weights.Snapshot:
    """θ0 of the seed: the parent's `initial_weights/seed_S.npz` (by weight path), logged before anything trains.

    θ0 is stored once per seed, there. A resumed run reads it back, so the dense network
    and every reset start from the θ0 the run began with. A run of an earlier version that
    was interrupted before logging it has θ0 as its dense network's `state/initial.npz`.
    """
    path = naming.initial_weights_artifact(seed)
    parent = runs.parent_run_id
    if artifacts.has_artifact(parent, path):
        try:
            return weights.from_named(model, artifacts.load_arrays(parent, path))
        except ValueError as error:
            raise UserError(f"{path} of run {parent} does not fit the model these settings build ({error}); "
                            "pass --restart for a fresh run") from None
    dense = runs.existing.get(("ticket", 0, replicate))
    earlier = naming.state_artifact("initial")  # where earlier versions kept θ0, on the dense network
    if dense is not None and artifacts.has_artifact(dense.info.run_id, earlier):
        initial = weights.from_arrays(artifacts.load_arrays(dense.info.run_id, earlier))
    else:
        initial = weights.take(model)
    log_initial_weights(weights.named(model, initial), seed, parent)
    return initial


def log_initial_weights(initial: Dict[str, np.ndarray], seed: int, parent_run_id: str) -> None:
    """θ0 of the seed as the parent's artifact, by weight path (once: a resumed run may have it)."""
    path = naming.initial_weights_artifact(seed)
    if not artifacts.has_artifact(parent_run_id, path):
        artifacts.log_arrays(initial, path, parent_run_id)


def networks_per_trial(cfg: ExperimentConfig) -> int:
    p = cfg.pruning
    tickets = 1 + p.rounds * (2 if p.mode == "both" else 1)
    per_round = controls.per_round(cfg.controls.controls)
    chains = p.rounds * (len(cfg.controls.controls) - len(per_round))
    return tickets + len(per_round) * len(cfg.control_rounds(p.rounds)) + chains
