"""How long `lth-tf` takes to answer before any work: `--help`, `run --help`, a mistyped flag (issue 23).

Each command runs as a whole process (`python -m lth_tf ...`), this tree (A) and another
(B, e.g. `git archive ee9d026 | tar -x -C /tmp/before`) in turn, A B A B ..., so the ratio
holds on a shared, drifting machine. CPU seconds (user + sys, the kernel's accounting of the
finished child) are the figure to quote; wall seconds follow the machine's load.

    python benchmarks/startup.py --before /tmp/before [--runs 3]
    python benchmarks/startup.py            # this tree only
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
COMMANDS = {
    "lth-tf --help": ["--help"],
    "lth-tf run --help": ["run", "--help"],
    "lth-tf run --fc-rates 2 (exit 2)": ["run", "--fc-rates", "2"],
    "lth-tf run --model nosuch (exit 2)": ["run", "--model", "nosuch"],  # a name checked against a registry
}


def measure(tree: Path, args) -> tuple:
    """(CPU seconds, wall seconds, exit code) of `python -m lth_tf ARGS` with `tree` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "lth_tf", *args], env=env, cwd="/tmp", capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="another lth-tf source tree to compare against")
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    trees = {"A": HERE} if options.before is None else {"A": HERE, "B": options.before.resolve()}
    print(f"A = {HERE}" + (f", B = {options.before}" if options.before else "") + f"; median of {options.runs} runs "
          "after one warm-up, A and B in turn; CPU = user + sys seconds")
    for label, args in COMMANDS.items():
        figures = {name: [] for name in trees}
        for run in range(options.runs + 1):
            for name, tree in trees.items():
                result = measure(tree, args)
                if run:  # the first is a warm-up (file cache)
                    figures[name].append(result)
        row = []
        for name in trees:
            cpu = statistics.median(f[0] for f in figures[name])
            wall = statistics.median(f[1] for f in figures[name])
            row.append(f"{name}: CPU {cpu:.2f} s, wall {wall:.2f} s, exit {figures[name][0][2]}")
        if "B" in trees:
            ratios = [a[0] / b[0] for a, b in zip(figures["A"], figures["B"])]
            row.append(f"A/B CPU {statistics.median(ratios):.2f}")
        print(f"{label:34} " + "; ".join(row))


if __name__ == "__main__":
    main()
