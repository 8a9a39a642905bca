"""What recording the local_change criterion's evidence costs: training time with and without it.

Trains LeNet-300-100 on mnist-5k for the same budget three ways, interleaved and
repeated so that load on a shared machine hits all alike: plain, with `LocalChange`
over the default window (the last 100 iterations), and over the whole round (the worst
case). Prints the median seconds of each and the ratios to plain.

    python benchmarks/local_change_overhead.py [--iterations 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from lth_tf import data, masking, models
from lth_tf.training import loop as training
from lth_tf.pruning.criteria.local_change import LocalChange
from lth_tf.settings import build_config
from lth_tf.tfkeras import keras


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cfg = build_config({"iterations": args.iterations, "eval_interval": args.iterations // 2})
    splits = data.load(cfg.dataset)
    keras.utils.set_random_seed(0)
    model = masking.mask_model(models.build(cfg.model.model, splits.input_shape, splits.num_classes, cfg.model))
    ways = {
        "plain": lambda: [],
        "window 100": lambda: [LocalChange(0, args.iterations, 100)],
        "whole round": lambda: [LocalChange(0, args.iterations, args.iterations)],
    }
    training.train_round(model, splits, cfg.training, 0, [])  # warm-up: compile and cache once
    seconds = {name: [] for name in ways}
    for _ in range(args.repeats):
        for name, callbacks in ways.items():
            started = time.perf_counter()
            training.train_round(model, splits, cfg.training, 0, callbacks(),
                                 align_to=[c.begins for c in callbacks()])
            seconds[name].append(time.perf_counter() - started)
    plain = statistics.median(seconds["plain"])
    print(f"LeNet-300-100 on mnist-5k, {args.iterations} iterations, steps per execution "
          f"{training.steps_per_execution(cfg.training.steps_per_execution, cfg.training.eval_interval)}, "
          f"median of {args.repeats}:")
    for name, values in seconds.items():
        median = statistics.median(values)
        print(f"  {name:12s} {median:6.2f} s  ({median / plain:.3f} x plain)")


if __name__ == "__main__":
    main()
