"""K networks packed in one compiled program vs the same K one after another (issue 22).

For each preset (LeNet-300-100 and Conv-2 at the paper's batch, 60), `--networks` masked
networks, each with its own initial weights, half-density random mask and data order,
are timed two ways, side by side in one process, interleaved, median of `--repeats`:

- `steps`: the compiled training steps alone, warmed up (traced and compiled) first.
  *alone*: each network's own Keras train function (`model.fit`'s, `steps_per_execution`
  steps per call), network after network; *packed*: one `packing.compiled_steps` program
  doing every network's step per step. Steps/s counts every network's steps together.
- `round`: a whole round as the library runs it: `loop.train_round` for each network
  vs one `packing.train_packed`, with compiling, the periodic evaluations and the
  training-set evaluation (evaluation is not packed: each network evaluates on its own).

Pixels are random (a step's cost does not depend on them). XLA as lth-tf chooses it
(`--jit-compile` auto: on for LeNet, off for Conv-2 on a CPU). The machine this was
written on is a shared 2-core one: read the ratios, measured side by side, not the rates.

    python benchmarks/packing.py [--presets lenet,conv2] [--networks 4] [--steps 500] [--repeats 3]
        [--round-iterations 500] [--modes steps,round] [--jit-compile | --no-jit-compile] [--optimizer sgd]
"""

import argparse
import statistics
import time

import numpy as np

from lth_tf import masking, models
from lth_tf.data import Splits
from lth_tf.pruning.counts import random_masks_like
from lth_tf.runtime import compile as compile_settings
from lth_tf.settings import build_config
from lth_tf.tfkeras import keras
from lth_tf.training import loop, packing, weights
import pipelines  # noqa: F401  (registers the controls, which the settings check)

MODEL = {"lenet": ("lenet_300_100", (28, 28, 1)), "conv2": ("conv2", (32, 32, 3))}


def random_splits(shape, train=6000, held_out=2000):
    rng = np.random.default_rng(0)
    x = rng.random((train + 2 * held_out, *shape), dtype=np.float32)
    y = rng.integers(0, 10, len(x)).astype(np.int64)
    cut = [train, train + held_out]
    return Splits("random", (x[:cut[0]], y[:cut[0]]), (x[cut[0]:cut[1]], y[cut[0]:cut[1]]),
                  (x[cut[1]:], y[cut[1]:]), 10)


def build_networks(name, shape, count):
    """`count` masked networks: network j initialized with seed j, a random half-density mask."""
    networks = []
    for j in range(count):
        keras.utils.set_random_seed(j)
        model = masking.mask_model(models.build(name, shape, 10))
        half = {k: np.arange(m.size).reshape(m.shape) < m.size // 2 for k, m in masking.get_masks(model).items()}
        masking.set_masks(model, random_masks_like(half, np.random.default_rng(100 + j)))
        networks.append(model)
    return networks


def timed(turns, repeats):
    """{name: median seconds} over `repeats` interleaved calls of each turn, and the per-turn seconds."""
    seconds = {name: [] for name in turns}
    for _ in range(repeats):
        for name, turn in turns.items():
            began = time.perf_counter()
            turn()
            seconds[name].append(time.perf_counter() - began)
    return seconds


def step_turns(networks, splits, hparams, steps):
    per_call = loop.steps_per_execution(hparams.steps_per_execution, hparams.eval_interval)
    jit = loop.uses_xla(hparams, networks[0])
    for model in networks:
        loop.compile_model(model, hparams)
    iterators = [iter(splits.train_batches(hparams.batch_size, j)) for j in range(len(networks))]
    functions = [model.make_train_function() for model in networks]
    program = packing.compiled_steps(networks, per_call, jit)

    def alone():
        for function, iterator in zip(functions, iterators):
            for _ in range(steps // per_call):
                logs = function(iterator)
            float(logs["loss"])

    def packed():
        for _ in range(steps // per_call):
            outputs = program(tuple(iterators))
        [float(logs["loss"]) for logs in outputs]

    alone(), packed()  # trace, compile, warm up
    return {"alone": alone, "packed": packed}


def round_turns(networks, splits, hparams):
    initial = [weights.take(m) for m in networks]

    def start():
        for model, snapshot in zip(networks, initial):
            weights.restore(model, snapshot)

    def alone():
        start()
        for j, model in enumerate(networks):
            loop.train_round(model, splits, hparams, seed=j)

    def packed():
        start()
        packing.train_packed([packing.Member(model, j) for j, model in enumerate(networks)], splits, hparams)

    alone(), packed()  # the evaluators' traces, once per process as in a run
    return {"alone": alone, "packed": packed}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="lenet,conv2")
    parser.add_argument("--networks", type=int, default=4)
    parser.add_argument("--steps", type=int, default=500, help="timed steps per network per turn (Conv-2: a fifth)")
    parser.add_argument("--round-iterations", type=int, default=500, help="a round's iterations (Conv-2: a fifth)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", default="steps,round")
    parser.add_argument("--jit-compile", action=argparse.BooleanOptionalAction, default=None,
                        help="XLA on or off for both ways (default: lth-tf's choice)")
    parser.add_argument("--optimizer", choices=["adam", "sgd"], help="instead of the preset's (Adam)")
    args = parser.parse_args()
    print(f"{args.networks} networks packed vs one after another; device {compile_settings.device()}; "
          f"median of {args.repeats} interleaved turns; shared 2-core machine: compare within a row")
    print(f"{'preset':7s} {'mode':6s} {'XLA':4s} {'steps':>6s} {'alone st/s':>10s} {'packed st/s':>11s} "
          f"{'packed/alone':>12s}  per-turn ratios")
    for preset in args.presets.split(","):
        name, shape = MODEL[preset]
        scale = 1 if preset == "lenet" else 5
        splits = random_splits(shape)
        networks = build_networks(name, shape, args.networks)
        for mode in args.modes.split(","):
            steps = (args.steps if mode == "steps" else args.round_iterations) // scale
            hparams = build_config({"preset": preset, "dataset": "mnist-5k", "iterations": steps,
                                    "eval_interval": steps if mode == "steps" else steps // 5,
                                    "jit_compile": args.jit_compile,
                                    **({"optimizer": args.optimizer} if args.optimizer else {})}).training
            turns = (step_turns(networks, splits, hparams, steps) if mode == "steps"
                     else round_turns(networks, splits, hparams))
            seconds = timed(turns, args.repeats)
            total = args.networks * steps
            rates = {k: total / statistics.median(v) for k, v in seconds.items()}
            ratios = ", ".join(f"{a / p:.2f}" for a, p in zip(seconds["alone"], seconds["packed"]))
            xla = "on" if loop.uses_xla(hparams, networks[0]) else "off"
            print(f"{preset:7s} {mode:6s} {xla:4s} {steps:6d} {rates['alone']:10.1f} {rates['packed']:11.1f} "
                  f"{rates['packed'] / rates['alone']:11.2f}x  {ratios}", flush=True)


if __name__ == "__main__":
    main()
