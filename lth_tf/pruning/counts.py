"""How many weights survive each round, and which.

Counts. A layer (or, with the global strategy, the pool of pruned layers) that starts
with n0 weights keeps round(n0 * (1 - p) ** r) weights after pruning round r, rounding
half up. Pruning "a fraction p of the remaining weights" every round therefore never
accumulates rounding error, and one-shot pruning to round n lands on exactly the same
count as n iterative rounds.

Ties. Weights are ranked by score, highest kept; among equal scores the weight with the
lower flat index (row-major order; layers in model order for the global strategy) is
kept. Already-pruned weights are never kept again, so masks are nested; a NaN score (from
a diverged round) ranks lowest among the survivors.

Rates per layer kind, as the paper: convolutions use `conv_rate`, other prunable layers
`fc_rate`, and the model's last prunable layer (the output layer) `output_rate`, unless it
is left unpruned.
"""

from __future__ import annotations

import math
from typing import Dict, List

import numpy as np

from tf_keras.src.layers.convolutional import base_conv

from lth_tf.tfkeras import keras

Arrays = Dict[str, np.ndarray]


def surviving_count(initial_count: int, rate: float, round_: int) -> int:
    """Weights left after `round_` rounds that each prune `rate` of the remaining."""
    return int(math.floor(initial_count * (1.0 - rate) ** round_ + 0.5))


def keep_top(scores: np.ndarray, mask: np.ndarray, count: int) -> np.ndarray:
    """The new mask: the `count` highest-scoring surviving entries (ties: lower index).

    By selection, not sorting (VGG-19's 20M weights: see benchmarks/pruning_speed.py). A
    NaN score ranks below every number; a pruned entry is never a candidate.
    """
    alive = mask.reshape(-1).astype(bool)
    candidates = int(alive.sum())
    if count > candidates:
        raise ValueError(f"cannot keep {count} weights, only {candidates} remain")
    flat = scores.reshape(-1)
    if candidates == mask.size:
        return top(flat, count).reshape(mask.shape)
    kept = np.zeros(mask.size, dtype=bool)
    kept[alive] = top(flat[alive], count)
    return kept.reshape(mask.shape)


def top(values: np.ndarray, count: int) -> np.ndarray:
    """True at the `count` largest values; among equal values the lower positions win.

    The value at rank `count` comes from `np.partition`; everything above it is kept, and
    the ties at it are taken in position order, which is what a stable sort would keep.
    """
    if not np.issubdtype(values.dtype, np.floating):
        values = values.astype(np.float64)
    if np.isnan(values).any():
        values = np.where(np.isnan(values), -np.inf, values)
    if count <= 0 or count >= values.size:
        return np.full(values.shape, count > 0)
    threshold = np.partition(values, values.size - count)[values.size - count]
    chosen = values > threshold
    ties = np.flatnonzero(values == threshold)[: count - int(chosen.sum())]
    chosen[ties] = True
    return chosen


CONV_LAYERS = (base_conv.Conv,)
"""Every Keras convolution: Conv1D/2D/3D and their transposes, separable and depthwise ones."""


def layer_kinds(keys: List[str], layers: List[keras.layers.Layer], output_layer=None) -> Dict[str, str]:
    """'conv', 'fc' or 'output' for each masked weight (keys in model order), keyed like the masks.

    `output_layer` is the model's last prunable layer; when it is left unpruned (ResNet's and
    VGG's in the paper), no masked weight is the output layer's.
    """
    kinds = {k: ("conv" if isinstance(layer, CONV_LAYERS) else "fc") for k, layer in zip(keys, layers)}
    for key, layer in zip(keys, layers):
        if layer is output_layer:
            kinds[key] = "output"
    return kinds


def prune_layerwise(scores: Arrays, masks: Arrays, rates: Dict[str, float], round_: int) -> Arrays:
    """Each layer keeps its own round(n0 (1-rate)^round) weights."""
    return {
        key: keep_top(scores[key], masks[key], surviving_count(masks[key].size, rates[key], round_))
        for key in masks
    }


def prune_global(scores: Arrays, masks: Arrays, rate: float, round_: int) -> Arrays:
    """All layers compete: the pool keeps round(N0 (1-rate)^round) weights in total."""
    return keep_top_global(scores, masks, surviving_count(sum(m.size for m in masks.values()), rate, round_))


def keep_top_global(scores: Arrays, masks: Arrays, count: int) -> Arrays:
    """`keep_top` over all layers pooled (layers in `masks` order): `count` weights in total."""
    keys = list(masks)
    flat_scores = np.concatenate([scores[k].reshape(-1) for k in keys])
    flat_masks = np.concatenate([masks[k].reshape(-1) for k in keys])
    kept = keep_top(flat_scores, flat_masks, count)
    out, start = {}, 0
    for key in keys:
        size = masks[key].size
        out[key] = kept[start:start + size].reshape(masks[key].shape)
        start += size
    return out


def remaining_fractions(masks: Arrays) -> Dict[str, float]:
    """Fraction of weights remaining per layer, and in total under the key 'total'."""
    fractions = {k: float(m.mean()) for k, m in masks.items()}
    fractions["total"] = float(sum(m.sum() for m in masks.values()) / sum(m.size for m in masks.values()))
    return fractions


def random_masks_like(masks: Arrays, rng: np.random.Generator) -> Arrays:
    """Uniformly random masks keeping exactly as many weights per layer as `masks` do."""
    out = {}
    for key, mask in masks.items():
        kept = np.zeros(mask.size, dtype=bool)
        kept[rng.choice(mask.size, size=int(mask.sum()), replace=False)] = True
        out[key] = kept.reshape(mask.shape)
    return out
