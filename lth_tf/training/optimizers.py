"""The optimizer of a round: Adam or SGD (with momentum), a learning-rate schedule, L2 decay.

The schedule is one Keras `LearningRateSchedule`: the rate is multiplied by
`lr_drop_factor` at each iteration of `lr_drops`, and during the first
`warmup_iterations` it rises linearly from 0 (the paper's warmup for VGG-19 and
ResNet). Its step is the optimizer's own iteration count plus the round's start step,
so every round, which starts with a fresh optimizer state, replays the same schedule; a round
that resets to θk (rewinding, `--reset-to k`) starts it at iteration k, where the dense
run was when it passed θk, as open_lth's `start_step` does. Only the schedule is
advanced: Adam's moment estimates start empty, so its bias correction counts the
round's own steps from 1.

A round's optimizer is fresh in its state, not as an object: `reset` zeroes the state a
fresh optimizer starts with (iteration count, slots, loss scale) and moves the schedule's
start, which is a variable for that reason, so a compiled training step stays valid from
one round to the next (`lth_tf.training.compiled_step`).

Weight decay is L2 regularization, as in the paper's ResNet and VGG (coefficient 1e-4):
the gradient of (weight_decay / 2) * ||kernel||^2, that is weight_decay * kernel, is added
to the kernels' gradients before the optimizer sees them, so for SGD it goes through
momentum, as it does in the paper's frameworks. It is added to the gradient rather than
to the loss so that the validation loss, which decides early stopping, stays the plain
cross-entropy. Only kernels (of conv and dense layers) are decayed, not biases or batch
norm. Masks stay exact: a pruned weight is zero, so its decay term is zero too (see
`masking`).
"""

from __future__ import annotations

import math

import tensorflow as tf

from lth_tf.tfkeras import keras


@keras.utils.register_keras_serializable(package="lth_tf")
class StepSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`rate * factor^(drops passed) * min(1, (step + 1) / warmup)` at training iteration `step` (from 0).

    A drop at iteration d applies from the d-th update on (step d, counting from 0), so
    the first d updates use the higher rate. Warmup reaches the full rate at update
    `warmup` (step `warmup - 1`). With `cosine_steps` T the rate is further multiplied by
    (1 + cos(π·min(step, T)/T)) / 2, edge-popup's cosine schedule, reaching 0 at step T.
    `start` is added to the optimizer's step: the iteration at which the round begins. It is
    a float32 variable (`start_step`; exact below 2^24 iterations), so `reset` can move it
    without a retrace; the sum is the same float32 addition as with a constant.
    """

    def __init__(self, rate: float, drops=(), factor: float = 0.1, warmup: int = 0, cosine_steps: int = 0,
                 start: int = 0):
        self.rate, self.factor, self.warmup = float(rate), float(factor), int(warmup)
        self.drops = tuple(int(d) for d in drops)
        self.cosine_steps = int(cosine_steps)
        with tf.init_scope():  # a variable of the program, not of a trace
            self.start_step = tf.Variable(float(start), dtype=tf.float32, trainable=False, name="schedule_start")

    @property
    def start(self) -> int:
        return int(self.start_step.numpy())

    def __call__(self, step):
        step = tf.cast(step, tf.float32) + self.start_step
        rate = tf.constant(self.rate, tf.float32)
        for drop in self.drops:
            rate = tf.where(step >= drop, rate * self.factor, rate)
        if self.warmup:
            rate = rate * tf.minimum(1.0, (step + 1.0) / self.warmup)
        if self.cosine_steps:
            rate = rate * 0.5 * (1.0 + tf.cos(math.pi * tf.minimum(step, self.cosine_steps) / self.cosine_steps))
        return rate

    def get_config(self):
        return {"rate": self.rate, "drops": self.drops, "factor": self.factor, "warmup": self.warmup,
                "cosine_steps": self.cosine_steps, "start": self.start}


def is_decayed(variable: tf.Variable) -> bool:
    """Kernels of conv and dense layers and a supermask's scores (not biases, batch norm, or masks)."""
    name = variable.name.rsplit("/", 1)[-1].split(":")[0]
    return name.endswith("kernel") or name.endswith("_score")


def _with_l2(base):
    class L2Decayed(base):
        """`base` with weight_decay * kernel added to every kernel's gradient (L2 regularization)."""

        def __init__(self, l2: float, **kwargs):
            super().__init__(**kwargs)
            self.l2 = l2

        def compute_gradients(self, loss, var_list, tape=None):
            return [
                (g + self.l2 * v if g is not None and is_decayed(v) else g, v)
                for g, v in super().compute_gradients(loss, var_list, tape)
            ]

    L2Decayed.__name__ = f"L2Decayed{base.__name__}"
    return L2Decayed


def learning_rate(hparams, start_step: int = 0):
    """A float when the rate is constant (the plain case), else a `StepSchedule` from `start_step`."""
    if not hparams.lr_drops and not hparams.warmup_iterations and not hparams.cosine_decay:
        return hparams.learning_rate
    return StepSchedule(hparams.learning_rate, hparams.lr_drops, hparams.lr_drop_factor, hparams.warmup_iterations,
                        hparams.iterations if hparams.cosine_decay else 0, start_step)


def make(hparams, start_step: int = 0) -> keras.optimizers.Optimizer:
    """A fresh optimizer for one round that begins at iteration `start_step`, from `TrainingHparams`."""
    base, options = keras.optimizers.Adam, {}
    if hparams.optimizer == "sgd":
        base, options = keras.optimizers.SGD, {"momentum": hparams.momentum}
    if hparams.weight_decay:
        return _with_l2(base)(hparams.weight_decay, learning_rate=learning_rate(hparams, start_step), **options)
    return base(learning_rate=learning_rate(hparams, start_step), **options)


def reset(optimizer: keras.optimizers.Optimizer, start_step: int = 0) -> None:
    """Puts `optimizer` back in the state `make` gives a round that begins at iteration `start_step`.

    Every variable it owns (the iteration count and the slots: momentum, Adam's moments)
    goes to zero, as a fresh optimizer creates them; the schedule restarts at `start_step`;
    a loss-scale wrapper (`mixed_float16`) gets its initial scale and counter back. The
    optimizer's settings are its own: a round with other settings needs `make`.
    """
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    if getattr(inner, "use_ema", False):
        raise NotImplementedError("an optimizer with EMA copies of the weights: reset them too")
    for variable in inner.variables:
        variable.assign(tf.zeros_like(variable))
    schedule = inner._learning_rate
    if isinstance(schedule, StepSchedule):
        schedule.start_step.assign(float(start_step))
        inner._current_learning_rate.assign(schedule(inner.iterations))
    if inner is not optimizer and optimizer.dynamic:
        optimizer._loss_scale._current_loss_scale.assign(optimizer.initial_scale)
        optimizer._loss_scale._counter.assign(0)
