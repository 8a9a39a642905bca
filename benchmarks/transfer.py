"""Ticket transfer measured: a Fashion-MNIST ticket trained on mnist-5k, against mnist-5k's own.

Runs three tracked experiments with one small budget (LeNet-300-100, batch 60, Adam
1.2e-3 unless --target-optimizer, fc 20% / output 10% per round):
  1. the source: iterative tickets on Fashion-MNIST (Debian's package, offline);
  2. the target's own: iterative tickets on mnist-5k, with --robustness fgsm:0.1,noise:0.3;
  3. the transfer: every source round's mask and θ0 trained on mnist-5k, with the
     reinit and random_prune controls, compared to (2) in the parent's transfer figure.
Prints test accuracy at early stop per level for the transferred ticket, reinit,
random pruning and the target's own ticket, the robustness of (2) per level, and where
the figure is.

    python benchmarks/transfer.py [--iterations 1000] [--rounds 6] [--target-optimizer sgd]
"""

from __future__ import annotations

import argparse
import time

import mlflow

from lth_tf.settings import build_config
from pipelines.experiments import lottery, transfer

FASHION = "idx:/usr/share/datasets/fashion-mnist"


def by_level(rounds, kind, metric="early_stop_test_accuracy"):
    return {r.round: (r.remaining_fraction, getattr(r, metric) if hasattr(r, metric) else r.robustness[metric])
            for r in rounds if r.kind == kind}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--eval-interval", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--target-optimizer", default="adam", choices=("adam", "sgd"))
    parser.add_argument("--target-learning-rate", type=float, default=None)
    args = parser.parse_args()
    budget = {"iterations": args.iterations, "eval_interval": args.eval_interval, "rounds": args.rounds}
    started = time.perf_counter()
    source = lottery.run(build_config({**budget, "dataset": FASHION, "experiment_name": "transfer-bench-source"}),
                         echo=lambda line: None)
    robust = ("fgsm:0.1", "noise:0.3")
    own = lottery.run(build_config({**budget, "dataset": "mnist-5k", "robustness": robust,
                                    "experiment_name": "transfer-bench-target"}), echo=lambda line: None)
    target = {**budget, "dataset": "mnist-5k", "optimizer": args.target_optimizer,
              "experiment_name": "transfer-bench-transfer", "controls": "reinit,random_prune",
              "control_rounds": ""}  # controls beside every transferred ticket
    if args.target_learning_rate:
        target["learning_rate"] = args.target_learning_rate
    moved = transfer.run(build_config(target), f"{source.run_id}:all", compare_to=own.run_id, echo=lambda line: None)
    seconds = time.perf_counter() - started
    print(f"LeNet-300-100, {args.iterations} iterations per network, eval every {args.eval_interval}, "
          f"{args.rounds} rounds; target optimizer {args.target_optimizer}; {seconds:.0f} s in all")
    print(f"source (Fashion-MNIST) run {source.run_id}; target's own (mnist-5k) run {own.run_id}; "
          f"transfer run {moved.run_id} (figure: {transfer.FIGURE})")
    series = {"transferred": by_level(moved.rounds, "transfer"), "reinit": by_level(moved.rounds, "reinit"),
              "random_prune": by_level(moved.rounds, "random_prune"), "own ticket": by_level(own.rounds, "ticket")}
    print("test accuracy at early stop on mnist-5k:")
    print("  remaining  " + "  ".join(f"{name:>12s}" for name in series))
    for round_, (fraction, _) in sorted(series["own ticket"].items()):
        cells = [f"{s[round_][1]:12.4f}" if round_ in s else f"{'-':>12s}" for s in series.values()]
        print(f"  {fraction:8.1%}  " + "  ".join(cells))
    print("mnist-5k's own tickets under attack and noise (end of training): remaining, clean, fgsm 0.1, noise 0.3")
    for r in [r for r in own.rounds if r.kind == "ticket"]:
        print(f"  {r.remaining_fraction:8.1%}  {r.final_test_accuracy:.4f}  {r.robustness['fgsm_0.1_test_accuracy']:.4f}"
              f"  {r.robustness['noise_0.3_test_accuracy']:.4f}")
    local = mlflow.artifacts.download_artifacts(run_id=moved.run_id, artifact_path=transfer.FIGURE)
    print(f"figure downloaded to {local}")


if __name__ == "__main__":
    main()
