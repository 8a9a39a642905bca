"""What checkpoints cost a run: `lth-tf run` with them (the default: every evaluation) and without
(`--checkpoint-interval 0`), interleaved in one process, each in a fresh store.

    python benchmarks/checkpoint_overhead.py [--repeats 2] [-- LTH-TF RUN ARGS]

With no run arguments it is the default experiment. After an untimed warm-up run, the
two kinds alternate (with, without, without, with, ...) so that load on a shared
machine hits both alike. Prints
the median wall time of each and their ratio, and what each store holds at the end:
its size (`du -sh mlruns`) and the `checkpoint/` artifacts left in its runs (none: a
finished network's copy leaves its run).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lth_tf import cli  # noqa: E402

KINDS = {"with checkpoints": [], "without (--checkpoint-interval 0)": ["--checkpoint-interval", "0"]}


def timed_run(args, directory: Path) -> float:
    """Seconds of `lth-tf run ARGS` in `directory` (a fresh store), in this process."""
    directory.mkdir(parents=True)
    os.chdir(directory)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    began = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            cli.main(["run", *args])
        except SystemExit as exit_:
            if exit_.code:
                raise RuntimeError(f"lth-tf run {' '.join(args)} exited {exit_.code}") from None
    return time.perf_counter() - began


def store_holds(directory: Path) -> str:
    size = subprocess.run(["du", "-sh", "mlruns"], cwd=directory, capture_output=True, text=True).stdout.split()[0]
    client = MlflowClient(f"sqlite:///{directory / 'mlruns' / 'mlflow.db'}")
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id], max_results=1000)]
    left = sum(bool(client.list_artifacts(r.info.run_id, "checkpoint")) for r in runs)
    return f"{size}, {len(runs)} runs, {left} holding checkpoint/ artifacts"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="runs of each kind")
    parser.add_argument("run_args", nargs="*", help="arguments of `lth-tf run` (after --)")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="checkpoint_overhead-"))
    print(f"lth-tf run {' '.join(options.run_args)}; stores under {work}", flush=True)
    timed_run(options.run_args, work / "warm-up")  # one-time costs of the process (imports, data, traces): untimed
    seconds = {kind: [] for kind in KINDS}
    for repeat in range(options.repeats):
        order = list(KINDS) if repeat % 2 == 0 else list(reversed(KINDS))
        for kind in order:
            directory = work / f"{repeat}-{'with' if not KINDS[kind] else 'without'}"
            seconds[kind].append(timed_run([*options.run_args, *KINDS[kind]], directory))
            print(f"{kind}: {seconds[kind][-1]:.1f} s; store {store_holds(directory)}", flush=True)
    medians = {kind: statistics.median(values) for kind, values in seconds.items()}
    with_, without = medians.values()
    print(f"\nmedian of {options.repeats}: {with_:.1f} s with checkpoints / {without:.1f} s without = "
          f"{with_ / without:.3f}")


if __name__ == "__main__":
    main()
