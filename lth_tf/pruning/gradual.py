"""Gradual magnitude pruning during one training run, with tfmot: the conventional baseline.

Zhu & Gupta 2017 ("To prune, or not to prune") as tfmot ships it: each pruned layer is
wrapped by `prune_low_magnitude` with a `PolynomialDecay` schedule from sparsity 0 to
its final sparsity between `begin_step` and `end_step`, its mask recomputed from |θ|
every `frequency` steps, and tfmot's `UpdatePruningStep` callback drives the step
counter. lth-tf only chooses each layer's final sparsity so that tfmot keeps an exact
count (`final_sparsity`), wraps the layers a ticket prunes and no other, and reads the
final masks back keyed like its own (`gradual_masks`).

What tfmot does, exactly (tfmot 0.8.1, `pruning_impl.py`, `pruning_schedule.py`):
- The wrapper's step is 0 at the start of `fit` and counts training batches from 1. A
  mask update happens at every step s with begin_step <= s <= end_step and
  (s - begin_step) % frequency == 0; so the final sparsity is applied only if end_step
  - begin_step is a multiple of frequency (`check_schedule`).
- At sparsity s a layer keeps k = max(round(n (1 - s)), 1) of its n weights, in float32
  with round-half-to-even, the largest |θ| (ties at the threshold are all kept).
- Pruned weights still receive gradient updates; the wrapper zeroes them before every
  forward pass and `UpdatePruningStep` once more at every epoch's end, so after `fit`
  they are exactly zero.
- Per-layer sparsity is per wrapper (tfmot has no global pruning).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List

import numpy as np

from lth_tf.errors import UserError

if TYPE_CHECKING:
    from lth_tf.tfkeras import keras
# tfmot, Keras and the masks load on first use: the gradual control's settings and checks (POWER, FREQUENCY,
# check_schedule) are read while the CLI builds its flags, before TensorFlow.

POWER = 3
"""The polynomial's exponent: Zhu & Gupta's and tfmot's default."""
FREQUENCY = 100
"""Steps between mask updates: tfmot's default."""


def check_schedule(begin_step: int, end_step: int, frequency: int, iterations: int) -> None:
    """A one-line error unless the schedule reaches its final sparsity within the `iterations` budget."""
    if frequency < 1:
        raise UserError(f"the gradual pruning frequency must be at least 1 step, not {frequency}")
    if not 0 <= begin_step < end_step:
        raise UserError(f"gradual pruning must begin before it ends and not before step 0 "
                        f"(begin {begin_step}, end {end_step})")
    if end_step > iterations:
        raise UserError(f"gradual pruning ends at step {end_step}, past the budget of {iterations} iterations")
    if (end_step - begin_step) % frequency:
        raise UserError(f"gradual pruning updates its masks every {frequency} steps from step {begin_step}, so it "
                        f"never applies its final sparsity at step {end_step}: make end - begin a multiple of "
                        "the frequency")


def tfmot_kept(size: int, final: float) -> int:
    """How many of `size` weights tfmot keeps at sparsity `final`: max(round(n (1 - s)), 1) in float32."""
    kept = np.float32(size) * (np.float32(1.0) - np.float32(final))
    return max(int(np.round(kept)), 1)  # numpy rounds half to even, as tf.math.round


def final_sparsity(count: int, size: int) -> float:
    """The final sparsity at which tfmot keeps exactly `count` of `size` weights.

    1 - s moves in float32 steps of at most 2**-24, so below 2**23 weights (n 2**-24 < 0.5)
    every count is reachable: checked on 9,000 counts of a 2**23 - 1 layer. VGG-19's largest
    layer holds 2.4M weights, Conv-2's on CIFAR-10 4.2M. Past that some counts are not.
    """
    if not 1 <= count <= size:
        raise UserError(f"tfmot keeps between 1 and all {size} weights of a layer, not {count}")
    value = np.float32(1.0 - count / size)
    for _ in range(64):  # float32 steps: the product's error is a few ulps at most
        kept = tfmot_kept(size, value)
        if kept == count:
            return float(value)
        value = np.nextafter(value, np.float32(1.0 if kept > count else 0.0), dtype=np.float32)
    raise UserError(f"tfmot computes in float32 and no sparsity makes it keep exactly {count} of a layer's "
                    f"{size} weights (every count is reachable below 2**23 weights per layer)")


def uniform_counts(masks: Dict[str, np.ndarray]) -> Dict[str, int]:
    """Each layer's share at the masks' total remaining fraction: tfmot's one-schedule-for-all, for global tickets."""
    fraction = sum(int(m.sum()) for m in masks.values()) / sum(m.size for m in masks.values())
    return {key: max(int(np.floor(m.size * fraction + 0.5)), 1) for key, m in masks.items()}


def gradual_pruning(model: keras.Model, counts: Dict[str, int], begin_step: int, end_step: int,
                    frequency: int = FREQUENCY, power: float = POWER) -> keras.Model:
    """`model` with the layers named in `counts` (layer paths, as the masks' keys) wrapped by tfmot.

    Each wrapped layer goes from sparsity 0 to keeping exactly its count. Other layers are
    left as they are, unpruned. Like `prune_low_magnitude`, the new model shares the layers
    (and so the weights) of `model`. Train it with `callbacks()`.
    """
    from lth_tf import masking
    from lth_tf.masking.prunable import prunable_attributes
    from lth_tf.tfkeras import keras

    sparsity = _sparsity()
    paths = {id(layer): path for path, layer in masking.layer_paths(model)}
    if any(isinstance(layer, masking.MaskedLayer) for _, layer in masking.layer_paths(model)):
        raise ValueError("gradual pruning wraps a plain Keras model: strip lth-tf's masks first")
    unknown = sorted(set(counts) - set(paths.values()))
    if unknown:
        raise ValueError(f"counts name no layer of the model: {unknown}")

    def wrap(layer):
        if isinstance(layer, keras.Model):
            return keras.models.clone_model(layer, clone_function=wrap)
        path = paths.get(id(layer))
        if path not in counts:
            return layer
        attributes = prunable_attributes(layer)
        if len(attributes) != 1:
            raise UserError(f"layer '{path}' holds {len(attributes)} prunable weights; tfmot prunes all of a "
                            "layer's weights to one sparsity, so lth-tf cannot give each its own count")
        size = int(np.prod(getattr(layer, attributes[0]).shape))
        schedule = sparsity.PolynomialDecay(0.0, final_sparsity(counts[path], size), begin_step, end_step,
                                            power=power, frequency=frequency)
        return sparsity.prune_low_magnitude(layer, pruning_schedule=schedule)

    return keras.models.clone_model(model, clone_function=wrap)


def callbacks() -> List[keras.callbacks.Callback]:
    """What training a `gradual_pruning` model needs: tfmot's own step counter."""
    return [_sparsity().UpdatePruningStep()]


def gradual_masks(pruned: keras.Model) -> Dict[str, np.ndarray]:
    """tfmot's current masks, `{layer path: bool array}` keyed like `masking.get_masks`.

    A wrapper goes by its wrapped layer's name, so the keys are the unwrapped model's paths.
    """
    from lth_tf import masking
    from lth_tf.tfkeras import keras  # noqa: F401  (first: TensorFlow's quiet start)
    from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper

    out = {}
    for path, layer in masking.layer_paths(pruned):
        if isinstance(layer, pruning_wrapper.PruneLowMagnitude):
            (_, mask, _), = layer.pruning_vars
            prefix = path.rpartition("/")[0]
            out[f"{prefix}/{layer.layer.name}" if prefix else layer.layer.name] = mask.numpy().astype(bool)
    return out


def strip_pruning(pruned: keras.Model) -> keras.Model:
    """tfmot's: the plain Keras model, pruned weights zero."""
    return _sparsity().strip_pruning(pruned)


def _sparsity():
    """`tfmot.sparsity.keras`, loaded after `lth_tf.tfkeras` (which keeps tfmot from loading Keras 3)."""
    from lth_tf.tfkeras import keras  # noqa: F401
    import tensorflow_model_optimization as tfmot

    return tfmot.sparsity.keras
