"""What the data's digest in an experiment's identity costs (`lth_tf/tracking/fingerprints.py`).

Loads a dataset as `lth-tf run` does, then times, interleaved in this one process, the
full SHA-256 of every split (`fingerprints.data`, what the identity and the MLflow dataset
inputs hold) against MLflow's own digest (`compute_numpy_digest`, the first 10,000 values
of each array) and against loading the data. Prints medians and the ratio to loading.

    python benchmarks/data_digest.py [--dataset idx:/usr/share/datasets/fashion-mnist] [--repeats 7]
"""

import argparse
import statistics
import time

from mlflow.data.digest_utils import compute_numpy_digest

from lth_tf import data
from lth_tf.tracking import fingerprints
from lth_tf.settings import build_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="idx:/usr/share/datasets/fashion-mnist")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    hparams = build_config({"dataset": args.dataset}).dataset
    times = {"load": [], "full SHA-256 (identity)": [], "MLflow's digest": []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        splits = data.load(hparams)
        times["load"].append(time.perf_counter() - start)
        start = time.perf_counter()
        fingerprints.data(splits)
        times["full SHA-256 (identity)"].append(time.perf_counter() - start)
        start = time.perf_counter()
        [compute_numpy_digest(*getattr(splits, split)) for split in fingerprints.SPLITS]
        times["MLflow's digest"].append(time.perf_counter() - start)
    size = sum(a.nbytes for split in fingerprints.SPLITS for a in getattr(splits, split))
    print(f"{args.dataset}: {size / 1e6:.0f} MB in memory, {args.repeats} repeats, medians")
    load = statistics.median(times["load"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<26} {median:7.3f} s   {median / load:6.1%} of loading")


if __name__ == "__main__":
    main()
