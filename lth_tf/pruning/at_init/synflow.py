"""SynFlow (Tanaka et al., NeurIPS 2020): data-free scores, pruned iteratively on an exponential schedule.

Followed from the authors' code (ganguli-lab/Synaptic-Flow: `Pruners/pruners.py` SynFlow,
`prune.py` prune_loop):

- *Linearize*: every variable of the network (weights, biases, batch norm's γ, β and
  moving statistics) is replaced by its absolute value for the scoring and restored
  afterwards (`linearize` / `nonlinearize`).
- One all-ones example of the model's input shape, run in inference mode (the loop's
  `model.eval()`: batch norm on its moving statistics, dropout off); R is the sum of the
  outputs and a masked weight's score is |θ ⊙ ∂R/∂θ|. No data is read, and a pruned
  weight (zero) scores zero.
- Iterated: after iteration k of n (the paper: 100) the network keeps a fraction
  d^(k/n) of the weights it started with, d the final density (`sparse =
  sparsity**((epoch + 1) / epochs)`), rescoring the pruned network every time. Here
  iteration k keeps round(N0 (c/N0)^(k/n)) weights (per layer, with per-layer counts),
  half up, and the last exactly c: the requested count, not the authors' "within 5".
- float32 (the authors' `model.double()` is commented out): a flow that overflows is an
  error, not a silent mask.
"""

from __future__ import annotations

import contextlib
from typing import List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from lth_tf import masking
from lth_tf.pruning import counts as pruning
from lth_tf.training import weights
from lth_tf.errors import UserError
from lth_tf.pruning.at_init import ITERATIONS
from lth_tf.pruning.at_init.base import Arrays, Counts, masked_kernels, one_shot, register
from lth_tf.tfkeras import keras


@contextlib.contextmanager
def linearized(model: keras.Model):
    """Every network variable replaced by its absolute value inside the block, restored after."""
    snapshot = weights.take(model)
    try:
        for variable in weights.network_variables(model):
            variable.assign(tf.abs(variable))
        yield
    finally:
        weights.restore(model, snapshot)


def _ones(model: keras.Model, input_shapes: Optional[Sequence[Tuple[int, ...]]]):
    shapes = input_shapes or [tuple(i.shape[1:]) for i in model.inputs or ()]
    if not shapes or any(d is None for shape in shapes for d in shape):
        raise UserError(f"SynFlow feeds one all-ones example of the model's input shape, and model "
                        f"'{model.name}' has none fully known ({shapes}): build it on keras.Input(shape)")
    dtypes = [i.dtype for i in model.inputs] if model.inputs else [tf.float32] * len(shapes)
    ones = [tf.ones((1, *shape), dtype=dtype) for shape, dtype in zip(shapes, dtypes)]
    return ones[0] if len(ones) == 1 else ones


def _flow(model: keras.Model, input_shapes=None):
    """A function returning SynFlow's scores of the model as it stands (call it inside `linearized`)."""
    inputs = _ones(model, input_shapes)
    keys, variables = masked_kernels(model)

    @tf.function
    def products():
        with tf.GradientTape() as tape:
            flow = tf.add_n([tf.reduce_sum(tf.cast(o, tf.float32)) for o in tf.nest.flatten(model(inputs, training=False))])
        gradients = tape.gradient(flow, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return flow, [tf.cast(g, tf.float32) * tf.cast(v, tf.float32) for g, v in zip(gradients, variables)]

    def scores() -> Arrays:
        flow, values = products()
        out = {key: np.abs(value.numpy()) for key, value in zip(keys, values)}
        if not np.isfinite(flow.numpy()) or not all(np.isfinite(s).all() for s in out.values()):
            raise UserError(f"SynFlow's synaptic flow of model '{model.name}' overflows float32 (too deep, or "
                            "mixed precision): its scores are not finite")
        return out

    return scores


def synflow_scores(model: keras.Model, input_shapes=None) -> Arrays:
    """|θ ⊙ ∂R/∂θ| on the absolute-valued network and an all-ones input; keyed like the masks."""
    with linearized(model):
        return _checked(model, _flow(model, input_shapes)())


def _checked(model: keras.Model, scores: Arrays) -> Arrays:
    """The scores of the unpruned network, refused when they cannot rank anything.

    A softmax or sigmoid output makes R (nearly) constant, so every score is rounding
    noise; Synaptic-Flow's models end in logits.
    """
    if _squashed_output(model) or not any(s.any() for s in scores.values()):
        raise UserError(f"SynFlow's scores of model '{model.name}' are all zero or noise: its output must be "
                        "the logits (no softmax or sigmoid at the end), and no layer may be pruned away")
    return scores


def _squashed_output(model: keras.Model) -> bool:
    layer = model.layers[-1]
    while isinstance(layer, keras.Model):
        layer = layer.layers[-1]
    inner = layer.layer if isinstance(layer, masking.MaskedLayer) else layer
    activation = getattr(inner, "activation", None)
    return isinstance(inner, keras.layers.Softmax) or activation in (keras.activations.softmax,
                                                                      keras.activations.sigmoid)


def exponential_schedule(alive: Arrays, counts: Counts, iterations: int = ITERATIONS) -> List[Counts]:
    """The counts kept after each of the `iterations` pruning steps: geometric from `alive` to `counts`.

    Step k of n keeps round(N0 (c/N0)^(k/n)), N0 the surviving count of `alive` (per layer
    when `counts` is a dict) and c the target; the last step keeps exactly c.
    """
    if iterations < 1:
        raise UserError(f"SynFlow needs at least 1 pruning iteration, not {iterations}")

    def steps(start: int, final: int) -> List[int]:
        if final > start:
            raise ValueError(f"cannot keep {final} weights, only {start} remain")
        rate = 1.0 - (final / start) ** (1.0 / iterations) if start else 0.0
        return [pruning.surviving_count(start, rate, k) for k in range(1, iterations)] + [final]

    if isinstance(counts, dict):
        per_layer = {key: steps(int(alive[key].sum()), counts[key]) for key in alive}
        return [{key: per_layer[key][k] for key in alive} for k in range(iterations)]
    return steps(int(sum(int(m.sum()) for m in alive.values())), int(counts))


@register("synflow", needs_data=False)
def synflow(model: keras.Model, counts: Counts, batch=None, loss=None, invert: bool = False,
            iterations: int = ITERATIONS, input_shapes=None) -> Arrays:
    """SynFlow's mask, `iterations` rescoring steps to `counts`; the model is left as it was.

    `invert` keeps the lowest scores at every step (as Synaptic-Flow's `prune_loop --invert`).
    `batch` and `loss` are ignored: SynFlow reads no data.
    """
    alive = masking.get_masks(model)
    schedule = exponential_schedule(alive, counts, iterations)
    current = alive
    with linearized(model):
        scores = _flow(model, input_shapes)
        try:
            for k, step_counts in enumerate(schedule):
                masking.set_masks(model, current)
                values = scores()
                current = one_shot(_checked(model, values) if k == 0 else values, current, step_counts, invert)
        finally:
            masking.set_masks(model, alive)
    return current
