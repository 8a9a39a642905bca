"""One round of training: a fresh optimizer state, a budget in iterations, periodic evaluation.

The budget is counted in iterations (batches), as the paper does, and `fit` runs it as
`iterations / eval_interval` Keras "epochs" of `eval_interval` steps each, so Keras's
epoch-end hook is the evaluation hook. The optimizer and its schedule: `optimizers`.

A round may begin at iteration k > 0 (`start_step`: rewinding to θk, as open_lth's
`start_step`): it trains the remaining `iterations - k`, with the learning-rate
schedule and the data order where the dense run had them at iteration k, and reports
iterations k + 1 .. `iterations`, so its curves line up with the dense run's.

A model compiled for an earlier round keeps its compiled step: its optimizer's state is
reset instead (`compiled_step`), bitwise the same training without a retrace per round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import tensorflow as tf

from lth_tf.runtime import compile as compile_settings
from lth_tf.training import compiled_step, device_data, optimizers
from lth_tf.training.callbacks import EVAL_SPLITS, PeriodicEvaluation, Resumable
from lth_tf.training.checkpoints import NetworkCheckpoint
from lth_tf.data import Splits
from lth_tf.training.evaluation import evaluator_for
from lth_tf.tfkeras import keras


@dataclass
class RoundHistory:
    records: List[Dict[str, float]]
    final_train_accuracy: float

    @property
    def early_stop(self) -> Dict[str, float]:
        """The record at minimum validation loss (the earliest, on ties; a NaN loss never wins)."""
        return min(self.records, key=lambda r: (math.isnan(r["val_loss"]), r["val_loss"], r["iteration"]))

    @property
    def diverged_at(self) -> Optional[int]:
        """The first evaluated iteration whose training or validation loss is not finite, if any."""
        return next((int(r["iteration"]) for r in self.records
                     if not all(math.isfinite(r.get(k, 0.0)) for k in ("train_loss", "val_loss"))), None)

    @property
    def final(self) -> Dict[str, float]:
        return self.records[-1]


def steps_per_execution(requested: int, eval_interval: int, *also: int) -> int:
    """The largest divisor of `eval_interval` (and of `also`) not above `requested`.

    Callbacks only see the model between compiled calls, so evaluations, and weights
    recorded at an iteration (θk for rewinding), land on time only at such boundaries.
    """
    interval = math.gcd(eval_interval, *also)
    for candidate in range(min(requested, interval), 0, -1):
        if interval % candidate == 0:
            return candidate
    return 1


def uses_xla(hparams, model: keras.Model) -> bool:
    """`--jit-compile`, or the measured choice (`compile_settings`) when it is not given.

    XLA cannot compile a step over variables mirrored on several devices.
    """
    return (compile_settings.resolve_jit_compile(hparams.jit_compile, model)
            and model.distribute_strategy.num_replicas_in_sync == 1)


REUSE_STEP = True
"""Whether `compile_model` reuses a model's compiled step (`compiled_step`); False compiles every round,
as lth-tf did before (kept for benchmarks/round_overhead.py and the tests that compare the two)."""


def compile_model(model: keras.Model, hparams, align_to: Sequence[int] = (), start_step: int = 0) -> None:
    """Readies `model` for a round: no optimizer state carries over from an earlier round.

    The step compiled for an earlier round is kept when it fits (`compiled_step`), else the
    model is compiled with a fresh optimizer. In the model's own distribution strategy
    scope, where its optimizer and metrics must live (`lth_tf.runtime.distribute`; a no-op
    for a model built outside any strategy).
    """
    if hparams.deterministic:  # process-wide, and TF offers no public way back: once on, it stays on
        tf.config.experimental.enable_op_determinism()
    per_execution = steps_per_execution(hparams.steps_per_execution, hparams.eval_interval, *align_to)
    with model.distribute_strategy.scope():
        if not REUSE_STEP:
            _compile(model, hparams, align_to, start_step)
            compiled_step.forget(model)
            return
        compiled_step.compile_for_round(model, hparams, uses_xla(hparams, model), per_execution, start_step,
                                        lambda: _compile(model, hparams, align_to, start_step))


def _compile(model: keras.Model, hparams, align_to: Sequence[int], start_step: int) -> None:
    model.compile(
        optimizer=optimizers.make(hparams, start_step),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=uses_xla(hparams, model),
        steps_per_execution=steps_per_execution(hparams.steps_per_execution, hparams.eval_interval, *align_to),
    )


def train_round(
    model: keras.Model, splits: Splits, hparams, seed: int, callbacks=(), align_to: Sequence[int] = (),
    start_step: int = 0, iterations: Optional[int] = None, checkpoint: Optional[NetworkCheckpoint] = None,
    data_seed: Optional[int] = None,
) -> RoundHistory:
    """Trains from iteration `start_step` to `iterations` (default `hparams.iterations`).

    `callbacks` run after the evaluation callback. `align_to`: iterations at which
    callbacks must see the weights (see `steps_per_execution`). `checkpoint`: continue
    from its last checkpoint, if any, and write new ones (`checkpoints`). The global
    generators (dropout) are seeded with `seed` too, so a network trains the same whatever
    trained before it in this process, or in which process it trains (Ray). `data_seed`
    (default `seed`) fixes the data order and augmentation alone: two copies that differ
    only in it differ only in SGD noise (instability analysis).
    """
    keras.utils.set_random_seed(seed)
    end = hparams.iterations if iterations is None else iterations
    jit_compile = uses_xla(hparams, model)
    evaluation = PeriodicEvaluation(
        {prefix: getattr(splits, split) for prefix, split in EVAL_SPLITS.items()}, hparams.eval_interval, jit_compile,
        start_step, hparams.test_curve, end,
    )
    callbacks = [evaluation, *callbacks]
    done = start_step  # the iteration reached: where the data and the epochs continue from
    if checkpoint is not None:
        done = max(start_step, checkpoint.latest_iteration())
        callbacks.append(checkpoint.callback(hparams.eval_interval, [c for c in callbacks if isinstance(c, Resumable)],
                                             start_step))
    batches = device_data.batches(model, splits, hparams.batch_size, seed if data_seed is None else data_seed, done,
                                  device_data.wanted(hparams.data_on_device))
    compile_model(model, hparams, align_to, start_step)
    model.fit(
        batches,
        steps_per_epoch=hparams.eval_interval,
        initial_epoch=(done - start_step) // hparams.eval_interval,
        epochs=math.ceil((end - start_step) / hparams.eval_interval),
        callbacks=callbacks,
        verbose=0,
    )
    train = evaluator_for(model, {"train": splits.train}, jit_compile)()
    return RoundHistory(evaluation.records, train["train_accuracy"])
