"""One compiled training step per model, reused by every network that trains it: no fixed cost per round.

`model.compile` clears Keras's cached `train_function`, and a fresh optimizer's slots are
new variables, so a compile per round retraces the step and, with XLA, recompiles it
(about a second for LeNet, more for a conv net). A round only needs the optimizer's
*state* to be fresh: `optimizers.reset` writes it (iteration 0, zero slots, the loss
scale's start, the schedule's start step), which keeps the compiled function; the step
is the same graph on the same values, so a network trains bitwise as after a fresh
compile (tests/unit/test_compiled_step.py, XLA on and off). The rounds of a trial, its
controls and (when the experiment hands the same model object on) the next replicate
all train one model object, so they share one step.

`compile_for_round` is the whole API: what `loop.compile_model` calls, and what anything
else that trains a model in rounds (a packed program) can call instead of `model.compile`,
handing it its own way to compile. A compile happens when the step would differ: another
optimizer or schedule (its settings are the key), op determinism, XLA on or off,
one step per call or several (Keras traces a different function for 1), batches gathered
in the step or not, and from which training set (`device_data`), or a model
whose layers draw random numbers with TF's legacy stateful ops (`draws_in_the_step`).
"""

from __future__ import annotations

from typing import Callable, Optional

from lth_tf import masking
from lth_tf.training import device_data, optimizers
from lth_tf.tfkeras import keras

_KEY = "_lth_tf_compiled_step_key"


def draws_in_the_step(model: keras.Model) -> bool:
    """Whether a layer draws random numbers with TF's legacy stateful ops (Keras's default for dropout).

    Their op seeds are fixed when the step is traced, from the global seed of that moment,
    and their kernels' state runs on across calls: a reused step would continue the last
    network's dropout draws where a fresh compile starts from the new network's seed. Such
    a model is compiled every round (bitwise as before). A `tf.random.Generator`
    ("stateful") or stateless layer keeps its state outside the step and may reuse it.
    """
    return any(getattr(getattr(layer, "_random_generator", None), "_rng_type", None) == "legacy_stateful"
               for layer in masking.leaf_layers(model))


def step_key(model: keras.Model, hparams, jit_compile: bool, steps_per_execution: int) -> Optional[tuple]:
    """What the compiled step depends on; None when it must be compiled anew (`draws_in_the_step`)."""
    if draws_in_the_step(model):
        return None
    return (hparams.optimizer, hparams.momentum, hparams.weight_decay, hparams.learning_rate, tuple(hparams.lr_drops),
            hparams.lr_drop_factor, hparams.warmup_iterations, hparams.cosine_decay, hparams.iterations,
            hparams.deterministic, jit_compile, steps_per_execution == 1, model.__dict__.get(device_data.SOURCE))


def compile_for_round(model: keras.Model, hparams, jit_compile: bool, steps_per_execution: int, start_step: int,
                      compile_fresh: Callable[[], None]) -> bool:
    """Readies `model` for a round beginning at `start_step`: reuses its step if it was compiled alike.

    `compile_fresh()` compiles (a new optimizer from `optimizers.make`) when it was not.
    Returns whether the step was reused. Call it in the model's distribution strategy scope.
    """
    key = step_key(model, hparams, jit_compile, steps_per_execution)
    if key is not None and model.__dict__.get(_KEY) == key and model.optimizer is not None:
        optimizers.reset(model.optimizer, start_step)
        model._steps_per_execution.assign(steps_per_execution)
        return True
    compile_fresh()
    object.__setattr__(model, _KEY, key)  # past Keras's attribute tracking, as `evaluation` caches
    return False


def forget(model: keras.Model) -> None:
    """The next round of `model` compiles afresh."""
    model.__dict__.pop(_KEY, None)
