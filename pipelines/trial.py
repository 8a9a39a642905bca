"""One trial: a seed's dense network, its tickets round by round, and their controls.

Iterative: round r prunes the ticket trained in round r-1 and resets the survivors to θ0.
One-shot: round r prunes the dense round-0 network straight to round r's level, so both
modes reach the same remaining fractions and can be compared level by level. Controls
run beside the tickets of the primary mode (iterative, unless only one-shot runs), each
sharing the round's mask or θ0 as `pipelines.controls` describes.
"""

from __future__ import annotations

from typing import Dict, Tuple

import numpy as np

from lth_tf import criteria, masking, pruning, tracking, weights
from lth_tf.callbacks import RecordWeights, ResetToInitialWeights
from lth_tf.config import ExperimentConfig
from lth_tf.tfkeras import keras
from pipelines import controls
from pipelines.child_runs import ChildRuns

MasksByRound = Dict[Tuple[str, int], masking.Masks]


def layer_rates(model: keras.Model, cfg: ExperimentConfig) -> Dict[str, float]:
    """The per-round pruning rate of each masked weight, from its layer kind."""
    layers = masking.masked_layers(model)
    keys = [key for layer in layers for key, _, _ in layer.pruned_weights]
    owners = [layer.layer for layer in layers for _ in layer.pruned_weights]
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
) -> masking.Masks:
    """Prunes `trained` (under `masks`) down to `level` rounds' worth; masks stay nested."""
    final = weights.prunable_part(model, trained)
    start = weights.prunable_part(model, initial)
    score = criteria.get(cfg.pruning.criterion)
    scores = {k: score(final[k], start[k], rng) for k in masks}
    if cfg.pruning.strategy == "global":
        return pruning.prune_global(scores, masks, cfg.pruning.global_rate, level)
    return pruning.prune_layerwise(scores, masks, layer_rates(model, cfg), level)


def pruning_rng(seed: int, kind: str, level: int) -> np.random.Generator:
    """The generator a pruning step may use (the random criterion does), fixed by seed, mode, level."""
    return np.random.default_rng([seed, level, 0 if kind == "ticket" else 1])


def run_trial(model: keras.Model, cfg: ExperimentConfig, runs: ChildRuns, replicate: int, seed: int) -> MasksByRound:
    """Trains everything one seed contributes; returns the tickets' masks by (kind, round)."""
    p, c = cfg.pruning, cfg.controls
    reset = ResetToInitialWeights()
    dense_masks = {k: np.ones_like(m) for k, m in masking.get_masks(model).items()}
    rewinding = "rewind" in c.controls
    record = RecordWeights([c.rewind_to] if rewinding else [])
    runs.train(model, "ticket", 0, replicate, seed, dense_masks, [reset, record],
               align_to=[c.rewind_to] if rewinding else [])
    initial, dense_trained = reset.initial_weights, weights.take(model)
    tracking.log_arrays(reset.initial_by_name(), f"initial_weights/seed_{seed}.npz", runs.parent_run_id)
    tickets: MasksByRound = {("ticket", 0): dense_masks}
    control_rounds = set(cfg.control_rounds(p.rounds))
    primary = "one_shot" if p.mode == "one_shot" else "ticket"

    def controls_at(round_: int, masks: masking.Masks, pruned_from: weights.Snapshot) -> None:
        if round_ not in control_rounds:
            return
        context = controls.RoundContext(model, round_, seed, masks, initial, pruned_from,
                                        record.snapshots.get(c.rewind_to), c.noise_scale)
        for name in c.controls:
            start = controls.get(name)(context)
            runs.train_from(model, name, round_, replicate, seed, start.masks, start.weights)

    if p.mode in ("iterative", "both"):
        masks, pruned_from = dense_masks, dense_trained
        for round_ in range(1, p.rounds + 1):
            masks = next_masks(model, cfg, pruned_from, initial, masks, round_, pruning_rng(seed, "ticket", round_))
            tickets[("ticket", round_)] = masks
            runs.train(model, "ticket", round_, replicate, seed, masks, [reset])
            trained = weights.take(model)
            if primary == "ticket":
                controls_at(round_, masks, pruned_from)
            pruned_from = trained
    if p.mode in ("one_shot", "both"):
        for round_ in range(1, p.rounds + 1):
            masks = next_masks(model, cfg, dense_trained, initial, dense_masks, round_,
                               pruning_rng(seed, "one_shot", round_))
            tickets[("one_shot", round_)] = masks
            runs.train(model, "one_shot", round_, replicate, seed, masks, [reset])
            if primary == "one_shot":
                controls_at(round_, masks, dense_trained)
    runs.join()  # controls handed to other workers
    return tickets


def networks_per_trial(cfg: ExperimentConfig) -> int:
    p = cfg.pruning
    tickets = 1 + p.rounds * (2 if p.mode == "both" else 1)
    return tickets + len(cfg.controls.controls) * len(cfg.control_rounds(p.rounds))
