"""Several networks of one architecture trained in one compiled program (a *pack*).

At the paper's LeNet batch (60) one training step of one small network is mostly fixed
cost: the call into the compiled program, the data pipeline's hand-over, small kernels
that leave the cores idle (issue 22 measured a third of the machine's matmul peak). A
round's replicates and its ticket-style controls train exactly like each other (same
architecture, same settings, same number of iterations), so they can share that cost:
`train_packed` runs K networks' Keras `train_step`s in one `tf.function` per step (one
XLA cluster per step when the round compiles with XLA), `steps_per_execution` steps per
call, exactly as `model.fit` runs one network's (`lth_tf.training.loop.train_round`).

Nothing is shared but the program. Each network keeps its own Keras model (masks,
weights), its own optimizer from `loop.compile_model` (state, schedule, iteration count),
its own metrics, its own data order (`Splits.train_batches(seed)`, its own iterator), its
own callbacks (θ0 reset, `PeriodicEvaluation`, θk recording, metrics hooks, checkpoints:
the `lth_tf.training.callbacks` pieces, driven at the same points as `fit` drives them)
and so its own evaluation records and early-stopping iteration. A network whose callback
sets `stop_training` (early-bird) leaves the pack; the others go on in a program for the
rest.

What it returns equals, network by network, what `train_round` returns for it trained
alone: bitwise (tested, XLA on and off): the K steps in one program are K independent
sub-graphs, which XLA and TensorFlow's kernels computed exactly as alone in every case tested.

Measured on a 2-core CPU (docs/packing.md, `benchmarks/packing.py`): not faster per step
(LeNet with XLA slower), whole rounds faster from compiling once per pack.

Not packed (`PackingError`, one line): networks of different architectures, a model
with stochastic layers (dropout draws from one global generator per program, so a
network's draws would depend on its pack), a model on several replicas (a distribution
strategy), and checkpoints of one pack left at different iterations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import tensorflow as tf

from lth_tf.data import Splits
from lth_tf.masking import leaf_layers
from lth_tf.tfkeras import keras
from lth_tf.training import loop
from lth_tf.training.callbacks import EVAL_SPLITS, PeriodicEvaluation, Resumable
from lth_tf.training.checkpoints import NetworkCheckpoint
from lth_tf.training.evaluation import evaluator_for


class PackingError(ValueError):
    """These networks cannot share one program (the message says why, in one line)."""


@dataclass
class Member:
    """One network of a pack: what `train_round` takes for it besides the shared settings."""

    model: keras.Model
    seed: int
    callbacks: Sequence[keras.callbacks.Callback] = ()
    checkpoint: Optional[NetworkCheckpoint] = None
    data_seed: Optional[int] = None
    evaluation: Optional[PeriodicEvaluation] = field(default=None, init=False)


def check_packable(models: Sequence[keras.Model]) -> None:
    """Raises `PackingError` unless these models can train in one program."""
    if not models:
        raise PackingError("no networks to pack")
    shapes = [[tuple(v.shape) for v in m.weights] for m in models]
    if any(s != shapes[0] for s in shapes[1:]):
        raise PackingError("networks packed in one program must share one architecture (their weights' shapes differ)")
    for model in models:
        stochastic = [layer.name for layer in leaf_layers(model)
                      if hasattr(getattr(layer, "layer", layer), "_random_generator")]
        if stochastic:
            raise PackingError(f"a network with random layers ({', '.join(stochastic)}) cannot be packed: "
                               "its draws would depend on the networks beside it")
        if model.distribute_strategy.num_replicas_in_sync != 1:
            raise PackingError("a network on several replicas cannot be packed")


def train_packed(members: Sequence[Member], splits: Splits, hparams, align_to: Sequence[int] = (),
                 start_step: int = 0, iterations: Optional[int] = None) -> List[loop.RoundHistory]:
    """Trains every member as `train_round(model, splits, hparams, seed, callbacks, align_to, start_step,
    iterations, checkpoint, data_seed)` would, all in one program; their histories in order."""
    check_packable([m.model for m in members])
    end = hparams.iterations if iterations is None else iterations
    done = _resume_point(members, start_step)
    jit_compile = loop.uses_xla(hparams, members[0].model)
    callback_lists = []
    for member in members:
        keras.utils.set_random_seed(member.seed)  # as `train_round`: what seeds it in the callbacks, alike
        callback_lists.append(_callbacks(member, splits, hparams, jit_compile, start_step, end))
        loop.compile_model(member.model, hparams, align_to, start_step)
        member.model.stop_training = False
        member.model._train_counter.assign(0)  # as `fit` does
        callback_lists[-1].on_train_begin()  # under the member's own seed, as in its `fit`
    per_call = loop.steps_per_execution(hparams.steps_per_execution, hparams.eval_interval, *align_to)
    iterators = [iter(splits.train_batches(hparams.batch_size, m.seed if m.data_seed is None else m.data_seed,
                                           start=done)) for m in members]
    _fit(members, callback_lists, iterators, hparams.eval_interval, per_call, jit_compile,
         first_epoch=(done - start_step) // hparams.eval_interval,
         epochs=math.ceil((end - start_step) / hparams.eval_interval))
    return [loop.RoundHistory(m.evaluation.records,
                              evaluator_for(m.model, {"train": splits.train}, jit_compile)()["train_accuracy"])
            for m in members]


def _resume_point(members: Sequence[Member], start_step: int) -> int:
    """The iteration every member continues from: its last checkpoint's, the same for all."""
    points = {max(start_step, m.checkpoint.latest_iteration()) if m.checkpoint is not None else start_step
              for m in members}
    if len(points) > 1:
        raise PackingError(f"the packed networks' checkpoints stopped at different iterations ({sorted(points)}): "
                           "resume them one by one")
    return points.pop()


def _callbacks(member: Member, splits: Splits, hparams, jit_compile: bool, start_step: int,
               end: int) -> keras.callbacks.CallbackList:
    """The member's callbacks in `train_round`'s order: evaluation, its own, the checkpoint last."""
    member.evaluation = PeriodicEvaluation(
        {prefix: getattr(splits, split) for prefix, split in EVAL_SPLITS.items()}, hparams.eval_interval, jit_compile,
        start_step, hparams.test_curve, end,
    )
    callbacks = [member.evaluation, *member.callbacks]
    if member.checkpoint is not None:
        callbacks.append(member.checkpoint.callback(hparams.eval_interval,
                                                    [c for c in callbacks if isinstance(c, Resumable)], start_step))
    return keras.callbacks.CallbackList(callbacks, model=member.model, add_history=False, add_progbar=False)


def _fit(members, callback_lists, iterators, steps_per_epoch: int, per_call: int, jit_compile: bool,
         first_epoch: int, epochs: int) -> None:
    """`model.fit`'s loop after `on_train_begin` (tf_keras 2.x: metric resets, callback order, logs) for the
    members still training."""
    active = list(range(len(members)))
    programs: Dict[tuple, Callable] = {}
    for epoch in range(first_epoch, epochs):
        if not active:
            break
        in_epoch = list(active)
        for i in in_epoch:
            members[i].model.reset_metrics()
            callback_lists[i].on_epoch_begin(epoch)
        for step in range(0, steps_per_epoch, per_call):
            key = tuple(active)
            if not key:
                break
            if key not in programs:  # a network stopped: the others go on in a program of their own
                programs[key] = compiled_steps([members[i].model for i in key], per_call, jit_compile)
            for i in key:
                callback_lists[i].on_train_batch_begin(step)
            outputs = programs[key](tuple(iterators[i] for i in key))
            for i, logs in zip(key, outputs):
                callback_lists[i].on_train_batch_end(step + per_call, logs)
            active = [i for i in key if not members[i].model.stop_training]  # as `fit`: it ends its epoch
        for i in in_epoch:
            callback_lists[i].on_epoch_end(epoch, dict(members[i].model.get_metrics_result()))
        active = [i for i in in_epoch if not members[i].model.stop_training]
    for callbacks in callback_lists:
        callbacks.on_train_end()


def compiled_steps(models: Sequence[keras.Model], per_call: int, jit_compile: bool):
    """`per_call` steps of every model, each its Keras `train_step` on its own iterator's next batch.

    As `Model.make_train_function`: the step is one XLA cluster (here holding every
    model's step) inside a `tf.function` that loops over the steps of one call.
    """

    def one_step(batches):
        outputs = []
        for model, data in zip(models, batches):
            logs = model.train_step(data)
            with tf.control_dependencies(tf.nest.flatten(logs)):
                model._train_counter.assign_add(1)
            outputs.append(logs)
        return outputs

    step = tf.function(one_step, jit_compile=True, reduce_retracing=True) if jit_compile else one_step

    @tf.function(reduce_retracing=True)
    def execution(iterators):
        for _ in tf.range(per_call):
            outputs = step(tuple(next(iterator) for iterator in iterators))
        return outputs

    return execution
