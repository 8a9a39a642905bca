"""What every mask-drawing method at initialization shares: counts, the scoring batch, the loss.

A method scores the masked weights of a model as it stands (θ0 and all-ones masks, when
the caller draws a mask at initialization) and keeps a requested number of them:

- `counts` is either one int, the total over all masked weights (*global*: the layers
  compete, which is how SNIP, GraSP and SynFlow are defined: Lee et al. 2019 rank all
  connections together, alecwangcq/GraSP and ganguli-lab/Synaptic-Flow threshold one
  pooled score vector), or a dict of per-layer counts keyed like the masks
  (*layerwise*: Synaptic-Flow's `--mask-scope local`). `target_counts` derives either
  from a ticket's mask, so a method lands on exactly the ticket's sparsity.
- Higher scores are kept, ties go to the lower flat index, and a weight already pruned
  is never kept again (`lth_tf.pruning.counts.keep_top`).
- The data-driven methods (SNIP, GraSP) score on a class-balanced batch of the training
  split, `per_class` examples of every class drawn with a seeded generator
  (`scoring_batch`): GraSP's own `GraSP_fetch_data` with `samples_per_class` 10 on
  CIFAR-10, the "about ten examples per class" of the issue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple, Union

import numpy as np
import tensorflow as tf

from lth_tf import masking
from lth_tf.pruning import counts as pruning
from lth_tf.errors import UserError
from lth_tf.pruning.at_init import SCOPES
from lth_tf.registry import Registry
from lth_tf.tfkeras import keras

Arrays = Dict[str, np.ndarray]
Counts = Union[int, Dict[str, int]]
"""A global total (int) or per-layer counts keyed like the masks."""


@dataclass(frozen=True)
class Method:
    """A way to draw a mask at initialization: its name, what it needs, and the drawing."""

    name: str
    draw: Callable[..., Arrays]
    """draw(model, counts, batch=None, loss=None, invert=False, **settings) -> masks."""
    needs_data: bool
    """Scores on a batch of training examples (and so needs a loss)."""


METHODS = Registry("mask-drawing method")


def register(name: str, needs_data: bool):
    """Registers `draw` under `name` (one line per method file)."""

    def add(draw):
        METHODS[name] = Method(name, draw, needs_data)
        return draw

    return add


def target_counts(masks: Arrays, scope: str) -> Counts:
    """How many weights to keep to match `masks` (a ticket's): their total, or each layer's count."""
    if scope == "global":
        return int(sum(int(m.sum()) for m in masks.values()))
    if scope == "layerwise":
        return {key: int(m.sum()) for key, m in masks.items()}
    raise UserError(f"unknown mask scope '{scope}'; choose from {', '.join(SCOPES)}")


def keep(scores: Arrays, alive: Arrays, counts: Counts) -> Arrays:
    """The `counts` highest-scoring surviving weights, pooled (int) or per layer (dict)."""
    if isinstance(counts, dict):
        missing = sorted(set(alive) - set(counts))
        if missing:
            raise ValueError(f"no count for the masked weights {missing}")
        return {key: pruning.keep_top(scores[key], alive[key], counts[key]) for key in alive}
    return pruning.keep_top_global(scores, alive, int(counts))


def inverted(scores: Arrays) -> Arrays:
    """Scores whose ranking is reversed: keeping the top of these keeps the *lowest* original scores.

    Frankle et al. 2021's inversion check. Negation rather than Synaptic-Flow's 1/score
    (`Pruner.invert`), which reverses the order of positive scores only: GraSP's scores
    take both signs.
    """
    return {key: -np.asarray(value) for key, value in scores.items()}


def one_shot(scores: Arrays, alive: Arrays, counts: Counts, invert: bool = False) -> Arrays:
    """One pruning step from `alive` to `counts` by `scores` (inverted with `invert`)."""
    return keep(inverted(scores) if invert else scores, alive, counts)


def scoring_batch(x: np.ndarray, y: np.ndarray, per_class: int, rng: np.random.Generator,
                  num_classes: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """`per_class` examples of each class, drawn at random by `rng` (class by class, in class order).

    Every class 0..num_classes-1 (default: the classes present in `y`) must have that
    many examples; GraSP's `GraSP_fetch_data` would loop forever otherwise.
    """
    if per_class < 1:
        raise UserError(f"examples per class for scoring must be at least 1, not {per_class}")
    labels = np.asarray(y).reshape(len(y), -1)
    if labels.shape[1] != 1:
        raise UserError("scoring at initialization needs integer class labels, one per example")
    labels = labels[:, 0]
    classes = np.arange(num_classes) if num_classes is not None else np.unique(labels)
    order = rng.permutation(len(labels))
    chosen = []
    for c in classes:
        picked = order[labels[order] == c][:per_class]
        if len(picked) < per_class:
            raise UserError(f"class {c} has {len(picked)} training examples; scoring at initialization "
                            f"takes {per_class} of each class")
        chosen.append(picked)
    index = np.concatenate(chosen)
    return x[index], y[index]


def resolve_loss(model: keras.Model, loss=None, method: str = "scoring"):
    """The loss to score with: `loss`, else the one the model was compiled with; a one-line error if none."""
    loss = loss if loss is not None else getattr(model, "loss", None)
    if loss is None:
        raise UserError(f"{method} scores weights by the gradient of a loss, and model '{model.name}' has "
                        "none: compile it with a loss or pass one")
    if isinstance(loss, (dict, list, tuple)):
        raise UserError(f"{method} needs one loss for a single-output model, not {type(loss).__name__}")
    return keras.losses.get(loss) if isinstance(loss, str) else loss


def mean_loss(loss, y, outputs) -> tf.Tensor:
    """The batch's mean loss (a Keras `Loss` already averages; a bare loss function does not)."""
    return tf.reduce_mean(loss(y, outputs))


def masked_kernels(model: keras.Model):
    """(keys, variables) of the masked weights, in model order."""
    weights = masking.prunable_weights(model)
    return list(weights), list(weights.values())
