"""How much of a round goes to the periodic evaluation: Keras `evaluate` per split vs one compiled pass.

For each model, the same round (fresh optimizer, `--iterations` at `--eval-interval`,
paper-sized evaluation sets: 5,000 validation and 10,000 test examples, random pixels of
the model's input shape; evaluation cost does not depend on what the pixels are) is
trained once per contender per repeat, interleaved: with `model.evaluate` on each split
(lth-tf before the one-pass evaluator) and with `evaluation.Evaluator` at each inference
batch size of `--batch-sizes` (default: lth-tf's `evaluation.BATCH_SIZE`). Prints training
steps/s, the whole round's iterations/s and the evaluation's share of the round's wall time.

    python benchmarks/eval_share.py [--models conv2,lenet_300_100] [--iterations 300] [--repeats 2]
                                    [--batch-sizes 250,500,1000,2000]
"""

import argparse
import dataclasses
import statistics
import time

import numpy as np
import tensorflow as tf

from lth_tf import data, masking, models
from lth_tf.runtime import compile as compile_settings
from lth_tf.training import evaluation, loop as training
from lth_tf.training.callbacks import PeriodicEvaluation
from lth_tf.settings import build_config
from lth_tf.settings.groups import TrainingHparams
from lth_tf.data import Splits
from lth_tf.tfkeras import keras

SHAPES = {"lenet_300_100": (28, 28, 1)}


class KerasEvaluate(PeriodicEvaluation):
    """The evaluation as it was: `model.evaluate` on each split, batches of 1000."""

    def on_train_begin(self, logs=None):
        self.records = []
        self.datasets = {prefix: tf.data.Dataset.from_tensor_slices(arrays).batch(1000).cache()
                         for prefix, arrays in self.splits.items()}

    def evaluate(self, iteration=None):
        out = {}
        for prefix, dataset in self.datasets.items():
            results = self.model.evaluate(dataset, verbose=0, return_dict=True)
            out.update({f"{prefix}_{k}": float(v) for k, v in results.items()})
        return out


def one_pass(batch_size, test_curve=True):
    """The periodic evaluation through `evaluation.Evaluator` with inference batches of `batch_size`
    (`test_curve=False`: the test set only where the summaries read it, as `--no-test-curve`)."""

    class OnePass(PeriodicEvaluation):
        def __init__(self, splits, eval_interval, jit_compile=False, end=None):
            super().__init__(splits, eval_interval, jit_compile, later_splits_every_time=test_curve, end=end)

        def on_train_begin(self, logs=None):
            self.records = []
            self.evaluator = evaluation.evaluator_for(self.model, self.splits, self.jit_compile, batch_size)

    return OnePass


class Timed:
    """Wraps an evaluation callback's `evaluate` and adds up its wall time."""

    def __init__(self, evaluation):
        self.seconds, inner = 0.0, evaluation.evaluate

        def evaluate(*args):
            start = time.perf_counter()
            try:
                return inner(*args)
            finally:
                self.seconds += time.perf_counter() - start

        evaluation.evaluate = evaluate


def random_splits(shape, train=5000, validation=5000, test=10000):
    rng = np.random.default_rng(0)

    def split(n):
        return rng.random((n, *shape), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64)

    return Splits("random", split(train), split(validation), split(test), 10)


def agreement(evaluation_class, model, splits, jit):
    evaluation = evaluation_class({"val": splits.validation, "test": splits.test}, 1, jit_compile=jit)
    evaluation.set_model(model)
    evaluation.on_train_begin()
    return evaluation.evaluate()


def one_round(model, splits, hparams, evaluation_class):
    options = {"end": hparams.iterations} if evaluation_class is not KerasEvaluate else {}
    evaluation = evaluation_class({"val": splits.validation, "test": splits.test}, hparams.eval_interval,
                                  jit_compile=hparams.jit_compile, **options)
    timer = Timed(evaluation)
    training.compile_model(model, hparams)
    start = time.perf_counter()
    model.fit(splits.train_batches(hparams.batch_size, 0), steps_per_epoch=hparams.eval_interval,
              epochs=hparams.iterations // hparams.eval_interval, callbacks=[evaluation], verbose=0)
    return time.perf_counter() - start, timer.seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="conv2,lenet_300_100")
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--eval-interval", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--jit-compile", default="auto", choices=("auto", "on", "off"))
    parser.add_argument("--batch-sizes", default=str(evaluation.BATCH_SIZE),
                        help="comma-separated inference batch sizes of the one-pass evaluator")
    parser.add_argument("--without-keras-evaluate", action="store_true",
                        help="leave out the `model.evaluate` path (the before of the one-pass evaluator)")
    parser.add_argument("--dataset", default=None,
                        help="real data instead of random pixels (e.g. idx:/usr/share/datasets/fashion-mnist): "
                             "with --no-test-curve, how often the test set is evaluated depends on learning")
    args = parser.parse_args()
    print(f"{args.iterations} iterations, evaluation every {args.eval_interval} on 5,000 + 10,000 examples; "
          f"median of {args.repeats} interleaved repeats (machine shared: compare within a row)")
    for name in args.models.split(","):
        if args.dataset:
            splits = data.load(build_config({"dataset": args.dataset}).dataset)
            shape = splits.input_shape
        else:
            shape = SHAPES.get(name, (32, 32, 3))
            splits = random_splits(shape)
        keras.utils.set_random_seed(0)
        model = masking.mask_model(models.build(name, shape, 10))
        jit = compile_settings.resolve_jit_compile({"on": True, "off": False}.get(args.jit_compile), model)
        hparams = TrainingHparams(iterations=args.iterations, eval_interval=args.eval_interval, jit_compile=jit)
        paths = {**({} if args.without_keras_evaluate else {"model.evaluate per split": KerasEvaluate}),
                 **{f"one pass, batches of {size}": one_pass(int(size)) for size in args.batch_sizes.split(",")},
                 "one pass, --no-test-curve": one_pass(evaluation.BATCH_SIZE, test_curve=False)}
        seen = {path: [] for path in paths}
        warm_up = dataclasses.replace(hparams, iterations=args.eval_interval)
        for evaluation_class in paths.values():  # traces and compiles both paths
            one_round(model, splits, warm_up, evaluation_class)
        for _ in range(args.repeats):
            for path, evaluation_class in paths.items():
                seen[path].append(one_round(model, splits, hparams, evaluation_class))
        print(f"{name} (XLA {'on' if jit else 'off'}):")
        for path, runs in seen.items():
            wall = statistics.median(w for w, _ in runs)
            evaluating = statistics.median(e for _, e in runs)
            share = statistics.median(e / w for w, e in runs)
            print(f"  {path:28s} training {args.iterations / (wall - evaluating):6.1f} steps/s, "
                  f"round {args.iterations / wall:6.1f} it/s, evaluation {share:5.1%} of the round "
                  f"({evaluating / (args.iterations // args.eval_interval):.2f} s each)")
        figures = [agreement(evaluation_class, model, splits, jit) for evaluation_class in paths.values()]
        print("  same weights, every path: val_loss " + " / ".join(f"{f['val_loss']:.7f}" for f in figures)
              + ", test_accuracy " + " / ".join(f"{f['test_accuracy']:.4f}" for f in figures))


if __name__ == "__main__":
    main()
