"""Training steps/s of the paper's networks at the paper's batch sizes, and the share of the device's peak.

On whatever device TensorFlow sees (named in the first line): the CPU here, a user's GPU
there. The peak is measured in the same process: float32 `tf.matmul` of two n x n
matrices (2n^3 floating-point operations), the best of a few timed calls. A model's step
is counted as 3 forward passes (forward, and a backward of about twice its cost: the usual
convention), each 2 x its multiply-adds (`lth_tf.reports.flops`, dense), times the batch.
Each model trains as `lth-tf run` trains it (`loop.compile_model` with its preset's
optimizer, XLA as `--jit-compile` chooses, its steps per execution) on random pixels of
its input shape (a step's cost does not depend on them), warmed up, then timed in turns
over `--repeats` (median; the machine may be shared).

Columns are functions (`COLUMNS`: name -> `column(case) -> steps/s or None`): one network alone,
and `PACK` networks in one compiled program (`lth_tf.training.packing`; steps/s of all of them
together, each network's step counted), so the two columns compare directly.

    python benchmarks/speed.py [--models lenet_300_100,conv2] [--steps 100] [--repeats 3] [--peak-size 2048]
"""

import argparse
import os
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional

from lth_tf.tfkeras import keras  # first: it imports TensorFlow quietly, so the device line is the first
import numpy as np
import tensorflow as tf

from lth_tf import masking, models
from lth_tf.data import Splits
from lth_tf.reports import flops
from lth_tf.runtime import compile as compile_settings
from lth_tf.settings import build_config
from lth_tf.training import loop, packing
import pipelines  # noqa: F401  (registers the controls that settings name)

MODELS = {"lenet_300_100": ("lenet", (28, 28, 1)), "conv2": ("conv2", (32, 32, 3)), "conv4": ("conv4", (32, 32, 3)),
          "conv6": ("conv6", (32, 32, 3)), "resnet20": ("resnet18", (32, 32, 3)), "vgg19": ("vgg19", (32, 32, 3))}
"""Registry name -> (the preset that trains it as the paper does, its input shape)."""


@dataclass
class Case:
    """One model as a column trains it: its preset's training settings, random data, timed steps and turns."""

    name: str
    hparams: object
    splits: Splits
    steps: int
    repeats: int


def device_name() -> str:
    device = compile_settings.device()
    if device == "GPU":
        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        return f"GPU ({details.get('device_name', 'unnamed')})"
    with open("/proc/cpuinfo") as info:
        model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "unknown")
    return f"CPU ({model}, {os.cpu_count()} cores)"


def matmul_peak(size: int, calls: int = 5) -> float:
    """The device's float32 matmul rate in FLOP/s: the best of `calls` timed n x n products, after a warm-up."""
    a = tf.random.stateless_normal((size, size), seed=[0, 0])
    b = tf.random.stateless_normal((size, size), seed=[0, 1])
    product = tf.function(lambda a, b: tf.reduce_sum(tf.matmul(a, b)))  # the sum brings the result back: synced
    product(a, b).numpy()
    best = min(_seconds(lambda: product(a, b).numpy()) for _ in range(calls))
    return 2.0 * size**3 / best


def _seconds(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def random_splits(shape, examples: int = 4096) -> Splits:
    rng = np.random.default_rng(0)
    x = rng.random((examples, *shape), dtype=np.float32)
    y = rng.integers(0, 10, examples).astype(np.int64)
    return Splits("random", (x, y), (x[:10], y[:10]), (x[:10], y[:10]), 10)


def build(case: Case) -> keras.Model:
    keras.utils.set_random_seed(0)
    cfg = build_config({"preset": MODELS[case.name][0], "dataset": "mnist-5k"})
    return masking.mask_model(models.build(case.name, case.splits.input_shape, 10, cfg.model),
                              cfg.model.unpruned_layers)


def alone(case: Case) -> Optional[float]:
    """Steps/s of one network trained by itself, as `lth-tf run` trains it."""
    model = build(case)
    loop.compile_model(model, case.hparams)
    batches = case.splits.train_batches(case.hparams.batch_size, 0)
    model.fit(batches, steps_per_epoch=case.hparams.steps_per_execution, epochs=1, verbose=0)  # traced, compiled
    times = [_seconds(lambda: model.fit(batches, steps_per_epoch=case.steps, epochs=1, verbose=0))
             for _ in range(case.repeats)]
    return case.steps / statistics.median(times)


PACK = 4
"""Networks in the packed column's program."""


def packed(case: Case) -> Optional[float]:
    """Steps/s of `PACK` networks together (every network's steps counted), trained in one compiled program
    (`lth_tf.training.packing`), each on its own data order; None when the model cannot be packed."""
    networks = [build(case) for _ in range(PACK)]
    for model in networks:
        loop.compile_model(model, case.hparams)
    per_call = loop.steps_per_execution(case.hparams.steps_per_execution, case.hparams.eval_interval)
    try:
        packing.check_packable(networks)
        program = packing.compiled_steps(networks, per_call, loop.uses_xla(case.hparams, networks[0]))
    except packing.PackingError:
        return None
    iterators = tuple(iter(case.splits.train_batches(case.hparams.batch_size, seed)) for seed in range(PACK))
    calls = max(1, case.steps // per_call)

    def turn():
        for _ in range(calls):
            outputs = program(iterators)
        [float(logs["loss"]) for logs in outputs]  # brings the results back: synced

    program(iterators)  # traced, compiled
    times = [_seconds(turn) for _ in range(case.repeats)]
    return PACK * calls * per_call / statistics.median(times)


COLUMNS: Dict[str, Callable[[Case], Optional[float]]] = {"alone": alone, f"packed x{PACK}": packed}
"""Each column's steps/s of a case (None: not measured)."""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    parser.add_argument("--steps", type=int, default=100, help="timed steps per turn (LeNet runs 10x as many)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peak-size", type=int, default=2048, help="n of the n x n matmul that measures the peak")
    args = parser.parse_args()
    names = args.models.split(",")
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        parser.error(f"unknown model {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    print(f"device: {device_name()}", flush=True)
    peaks, rows = [], []
    for name in names:
        preset, shape = MODELS[name]
        hparams = build_config({"preset": preset, "dataset": "mnist-5k", "steps_per_execution": 50}).training
        steps = args.steps * (10 if name == "lenet_300_100" else 1)
        case = Case(name, hparams, random_splits(shape), steps - steps % 50 or 50, args.repeats)
        model = build(case)
        per_step = 3 * flops.forward_cost(model).dense_flops * hparams.batch_size
        xla = "on" if loop.uses_xla(hparams, model) else "off"
        peaks.append(matmul_peak(args.peak_size))
        rows.append((name, hparams.batch_size, xla, per_step, [column(case) for column in COLUMNS.values()]))
    peak = max(peaks)
    print(f"float32 matmul peak ({args.peak_size}x{args.peak_size}, best of {5 * len(peaks)} over the run): "
          f"{peak / 1e9:.1f} GFLOP/s; median of {args.repeats} turns; the machine may be shared")
    header = f"{'model':14s} {'batch':>5s} {'XLA':>4s} {'MFLOP/step':>10s}"
    print(header + "".join(f" {column + ' steps/s':>15s} {'% peak':>7s}" for column in COLUMNS))
    for name, batch, xla, per_step, rates in rows:
        cells = [f" {'-':>15s} {'-':>7s}" if rate is None else f" {rate:15.1f} {100 * rate * per_step / peak:6.1f}%"
                 for rate in rates]
        print(f"{name:14s} {batch:5d} {xla:>4s} {per_step / 1e6:10.1f}" + "".join(cells))

if __name__ == "__main__":
    main()
