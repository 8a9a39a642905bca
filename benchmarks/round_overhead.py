"""A round's fixed cost beyond its steps and evaluations: a compile per round (before) vs one compiled step reused.

Three ways to train the same short round, side by side in one process, interleaved
(before, after, new model, before, after, ...), median of `--repeats` (the machine may be
shared: compare within a turn):

- `before`: lth-tf before issue 22 (`loop.REUSE_STEP = False`, `splits.ONE_COPY = False`):
  every round compiles with a new optimizer, so Keras retraces (with XLA: recompiles) the
  training step; the training set is copied to a tensor and tf.data rewrites the pipeline
  every round.
- `after`: the compiled step kept, the optimizer's state reset (`compiled_step`), the
  training tensors copied once per process.
- `new model`: a new model object every round (a new replicate's network, which the
  experiment builds per seed): a compile and the first evaluations' traces every time.

Each round's overhead is its wall time minus what its steps and evaluations cost when run
steady on the same model right after (`steps`: a `fit` of the same iterations on the
compiled step; `evals`: the periodic validation+test evaluations; `train eval`: the
training-set evaluation that every network's summary reads, shown apart). Round 0 of each
way (the first trace of everything) is not timed.

    python benchmarks/round_overhead.py [--model lenet_300_100] [--iterations 500] [--eval-interval 100]
                                        [--repeats 3] [--dataset idx:/usr/share/datasets/fashion-mnist]
"""

import argparse
import statistics
import time

import numpy as np

from lth_tf import data, masking, models
from lth_tf.data import splits as splits_module
from lth_tf.runtime import compile as compile_settings
from lth_tf.settings import build_config
from lth_tf.tfkeras import keras
from lth_tf.training import loop
from lth_tf.training.callbacks import ResetToInitialWeights
from lth_tf.training.evaluation import evaluator_for
import pipelines  # noqa: F401  (registers the controls that settings name)

PRESET = {"lenet_300_100": "lenet", "conv2": "conv2", "conv4": "conv4", "conv6": "conv6"}
WAYS = {"before": False, "after": True, "new model": True}
"""Each way and whether it reuses (the compiled step, the training tensors)."""


def build(name, splits, seed):
    keras.utils.set_random_seed(seed)
    return masking.mask_model(models.build(name, splits.input_shape, splits.num_classes))


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def prune_half(model):
    """A new mask for the next round: the larger half of each layer's surviving weights (any mask will do)."""
    masks = {}
    for key, weight in masking.prunable_weights(model).items():
        values = np.abs(weight.numpy())
        masks[key] = values > np.median(values[values > 0])
    masking.set_masks(model, masks)


def steady_costs(model, splits, hparams, seed):
    """(seconds of `iterations` steps on the compiled step, of one val+test evaluation, of the train-set one)."""
    batches = splits.train_batches(hparams.batch_size, seed)
    steps, _ = timed(model.fit, batches, steps_per_epoch=hparams.iterations, epochs=1, verbose=0)
    jit = loop.uses_xla(hparams, model)
    one_eval, _ = timed(evaluator_for(model, {"val": splits.validation, "test": splits.test}, jit))
    train_eval, _ = timed(evaluator_for(model, {"train": splits.train}, jit))
    return steps, one_eval, train_eval


def reusing(flag: bool) -> None:
    loop.REUSE_STEP = splits_module.ONE_COPY = flag


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet_300_100", choices=sorted(PRESET))
    parser.add_argument("--dataset", default="idx:/usr/share/datasets/fashion-mnist")
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--eval-interval", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cfg = build_config({"preset": PRESET[args.model], "dataset": args.dataset, "iterations": args.iterations,
                        "eval_interval": args.eval_interval})
    hparams = cfg.training
    splits = data.load(cfg.dataset)
    evaluations = args.iterations // args.eval_interval
    probe = build(args.model, splits, 0)
    print(f"{args.model} on {splits.name} ({len(splits.train[1])} train), batch {hparams.batch_size}, "
          f"{args.iterations} iterations, {evaluations} evaluations per round; "
          f"{compile_settings.describe(hparams.jit_compile, probe)}; device {compile_settings.device()}; "
          f"median of {args.repeats} interleaved turns (machine shared)")

    state = {}
    for name, reuse in WAYS.items():  # round 0 of each way: traces everything once (not timed)
        reusing(reuse)
        model, reset = build(args.model, splits, 0), ResetToInitialWeights()
        loop.train_round(model, splits, hparams, seed=0, callbacks=[reset])
        state[name] = (model, reset)
    rows = {name: [] for name in WAYS}
    try:
        for turn in range(args.repeats):
            for name, reuse in WAYS.items():
                model, reset = state[name]
                if name == "new model":
                    model, reset = build(args.model, splits, turn + 1), ResetToInitialWeights()
                else:
                    prune_half(model)
                reusing(reuse)
                wall, _ = timed(loop.train_round, model, splits, hparams, turn + 1, [reset])
                steps, one_eval, train_eval = steady_costs(model, splits, hparams, turn + 1)
                rows[name].append((wall, steps, evaluations * one_eval, train_eval,
                                   wall - steps - evaluations * one_eval - train_eval))
    finally:
        reusing(True)
    print(f"{'way':10s} {'round s':>8s} {'steps s':>8s} {'evals s':>8s} {'train eval s':>12s} {'overhead s':>10s}")
    medians = {}
    for name, values in rows.items():
        medians[name] = [statistics.median(column) for column in zip(*values)]
        print(f"{name:10s} " + " ".join(f"{v:{w}.3f}" for v, w in zip(medians[name], (8, 8, 8, 12, 10))))
    before, after = medians["before"], medians["after"]
    print(f"round wall time after/before: {after[0] / before[0]:.2f}; overhead before - after: "
          f"{before[4] - after[4]:.3f} s per round; per-turn round wall time after/before: "
          + ", ".join(f"{a[0] / b[0]:.2f}" for b, a in zip(rows["before"], rows["after"])))


if __name__ == "__main__":
    main()
