"""What drawing a mask at initialization and gradual pruning cost, on real Fashion-MNIST.

For LeNet-300-100 and Conv-2 (28x28x1 inputs, 10 classes): the wall and CPU time of
SNIP, GraSP (10 examples per class) and SynFlow (100 iterations) drawing a mask at
1.4% remaining, and the time per training iteration (batch 60, Adam) of lth-tf's masked
network and of tfmot's gradual-pruning wrapper, measured alternately in one process
(`--repeats` times each; medians); on a shared machine trust the CPU-time ratio. These are
the figures the issue-20 benchmark's run time is estimated from.

    python benchmarks/at_init_cost.py [--models lenet_300_100,conv2] [--steps 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from lth_tf import masking, models
from lth_tf.data.idx import read_idx
from lth_tf.pruning import at_init, gradual
from lth_tf.tfkeras import keras

FASHION = Path("/usr/share/datasets/fashion-mnist")
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def timed(function):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def fashion():
    x = read_idx(FASHION / "train-images-idx3-ubyte.gz").astype("float32")[..., None] / 255.0
    return x, read_idx(FASHION / "train-labels-idx1-ubyte.gz").astype("int64")


def train_step_time(model, x, y, steps, callbacks=()):
    model.compile(keras.optimizers.Adam(1.2e-3), LOSS)
    batch = 60
    model.fit(x[:batch * 5], y[:batch * 5], batch_size=batch, epochs=1, verbose=0, callbacks=list(callbacks))  # trace
    _, wall, cpu = timed(lambda: model.fit(x[:batch * steps], y[:batch * steps], batch_size=batch, epochs=1,
                                           verbose=0, callbacks=list(callbacks)))
    return wall / steps, cpu / steps


def measure(name, x, y, steps, repeats):
    keras.utils.set_random_seed(0)
    plain = models.REGISTRY.lookup(name)((28, 28, 1), 10)
    masked = masking.mask_model(plain)
    total = sum(m.size for m in masking.get_masks(masked).values())
    count = int(round(total * 0.014))
    batch = at_init.scoring_batch(x, y, 10, np.random.default_rng(0))
    rows = []
    for method in ("snip", "grasp", "synflow"):
        draw = at_init.METHODS.lookup(method).draw
        _, wall, cpu = timed(lambda: draw(masked, count, batch, LOSS))
        rows.append((f"{method} draw (1.4% remaining)", wall, cpu))
    counts = {k: max(int(m.size * 0.014), 1) for k, m in masking.get_masks(masked).items()}
    pruned = gradual.gradual_pruning(keras.models.clone_model(plain), counts, 0, 100 * (steps // 100), frequency=100)
    samples = {"masked": [], "tfmot": []}
    for _ in range(repeats):
        samples["masked"].append(train_step_time(masked, x, y, steps))
        samples["tfmot"].append(train_step_time(pruned, x, y, steps, gradual.callbacks()))
    for kind, values in samples.items():
        rows.append((f"train iteration, {kind}", statistics.median(v[0] for v in values),
                     statistics.median(v[1] for v in values)))
    ratio = {i: statistics.median(t[i] for t in samples["tfmot"]) / statistics.median(m[i] for m in samples["masked"])
             for i in (0, 1)}
    print(f"\n== {name} ({total:,} masked weights), load average {os.getloadavg()[0]:.1f}")
    for label, wall, cpu in rows:
        print(f"  {label:34s} wall {wall * 1000:9.1f} ms   cpu {cpu * 1000:9.1f} ms")
    print(f"  tfmot / masked per iteration: wall {ratio[0]:.2f}x, cpu {ratio[1]:.2f}x "
          "(wall is at the mercy of other jobs; CPU time is not)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="lenet_300_100,conv2")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not FASHION.is_dir():
        raise SystemExit(f"{FASHION} is not installed (apt-get install dataset-fashion-mnist)")
    x, y = fashion()
    for name in args.models.split(","):
        measure(name, x, y, args.steps, args.repeats)


if __name__ == "__main__":
    main()
