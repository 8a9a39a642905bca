"""Training steps/s of every registry model under {XLA on, off} x {float32, mixed precision}.

One process, interleaved: each model is built once per precision (a Keras policy is fixed
when layers are built), compiled once per XLA setting with its preset's optimizer and
batch size, warmed up (traced and compiled), then timed in turns over `--repeats`.
Pixels are random: the step's cost does not depend on them. Mixed precision is
mixed_bfloat16 on CPU and mixed_float16 on a GPU. Prints steps/s (median), each setting's
ratio to float32 without XLA, the fastest exact (float32) setting, and what
`--jit-compile` chooses when it is not given (`compile_settings`).

    python benchmarks/compile_speed.py [--presets lenet,conv2] [--steps 50] [--repeats 3]
"""

import argparse
import os
import statistics
import time

import numpy as np
import tensorflow as tf

from lth_tf import masking, models
from lth_tf.runtime import compile as compile_settings, precision
from lth_tf.training import loop as training
from lth_tf.settings import build_config
from lth_tf.data import Splits
from lth_tf.settings.presets import PRESETS


def random_splits(shape, examples=2048):
    rng = np.random.default_rng(0)
    x = rng.random((examples, *shape), dtype=np.float32)
    y = rng.integers(0, 10, examples).astype(np.int64)
    return Splits("random", (x, y), (x[:10], y[:10]), (x[:10], y[:10]), 10)


def device_name(device):
    if device == "GPU":
        return tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0]).get("device_name", "")
    with open("/proc/cpuinfo") as info:
        model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    return f"{model}, {os.cpu_count()} cores"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--steps", type=int, default=50, help="timed steps per turn (LeNet runs 10x as many)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = compile_settings.device()
    mixed = "mixed_float16" if device == "GPU" else "mixed_bfloat16"
    print(f"device: {device} ({device_name(device)}); steps_per_execution 50 or fewer; "
          f"median of {args.repeats} interleaved turns; the machine may be shared: compare within a row")
    header = f"{'preset':10s} {'model':14s} {'batch':>5s}"
    settings = [(jit, policy) for policy in ("float32", mixed) for jit in (False, True)]
    labels = [f"{policy.replace('mixed_', '')} XLA {'on' if jit else 'off'}" for jit, policy in settings]
    print(header + "".join(f" {label:>18s}" for label in labels) + "   fastest float32 | auto")
    for preset in args.presets.split(","):
        cfg = build_config({"preset": preset, "dataset": "mnist-5k"})
        name, hparams = cfg.model.model, cfg.training
        shape = (28, 28, 1) if name.startswith("lenet") else (32, 32, 3)
        steps = args.steps * (10 if name.startswith("lenet") else 1)
        batches = random_splits(shape).train_batches(hparams.batch_size, 0)
        contenders = []
        for jit, policy in settings:
            with precision.policy(policy):
                tf.keras.utils.set_random_seed(0)
                model = masking.mask_model(precision.float32_logits(models.build(name, shape, 10)))
            setting = build_config({"preset": preset, "dataset": "mnist-5k", "jit_compile": jit,
                                    "iterations": steps, "eval_interval": steps}).training
            training.compile_model(model, setting)
            model.fit(batches, steps_per_epoch=min(steps, 100), epochs=1, verbose=0)  # trace, compile, warm up
            contenders.append(model)
        seconds = [[] for _ in contenders]
        for _ in range(args.repeats):
            for index, model in enumerate(contenders):
                start = time.perf_counter()
                model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)
                seconds[index].append(time.perf_counter() - start)
        rates = [steps / statistics.median(s) for s in seconds]
        base = rates[0]
        cells = "".join(f" {rate:7.1f} ({rate / base:4.2f}x)" for rate in rates)
        fastest = "XLA on" if rates[1] > rates[0] else "XLA off"
        auto = "XLA on" if compile_settings.resolve_jit_compile(None, contenders[0]) else "XLA off"
        print(f"{preset:10s} {name:14s} {hparams.batch_size:5d}{cells}   {fastest:15s} | {auto}")


if __name__ == "__main__":
    main()
