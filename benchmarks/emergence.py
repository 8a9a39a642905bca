"""When do tickets emerge: instability vs k, and early-bird tickets beside full IMP (issue 19).

On Debian's full Fashion-MNIST (55,000 / 5,000 / 10,000), per model and replicate seed:
  1. the source: a lottery experiment `--mode both` (iterative and one-shot tickets), no controls;
  2. `lth-tf instability` on it: the dense network and the tickets at the chosen rounds,
     the k sweep, 1 pair, 30 points: prints the test/train barrier per (network, k), the
     earliest stable k and the figures' artifact paths;
  3. the same experiment with `--early-bird EPS` (iterative, then one-shot), and prints per
     round where the search network stopped and the iterations saved, and per sparsity the
     early-bird ticket's test accuracy (early stop) beside the full-IMP ticket's.

    python benchmarks/emergence.py [--models lenet_300_100,conv2] [--replicates 1] [--iterations N]
        [--eval-interval N] [--rounds R] [--ticket-rounds 3,7,12] [--k 0,100,500] [--eps 0.1]
        [--path-train-examples N] [--tracking-uri URI]

Everything is tracked in MLflow as usual (the default store is ./mlruns).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

DATA = "idx:/usr/share/datasets/fashion-mnist"
DEFAULTS = {"lenet_300_100": dict(iterations=10000, eval_interval=500, learning_rate=1.2e-3, k="0,500,1000,2000"),
            "conv2": dict(iterations=2000, eval_interval=100, learning_rate=2e-4, k="0,100,500")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="lenet_300_100")
    parser.add_argument("--replicates", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--eval-interval", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--ticket-rounds", default="3,7,12")
    parser.add_argument("--k", default=None)
    parser.add_argument("--eps", type=float, default=0.1)
    parser.add_argument("--points", type=int, default=30)
    parser.add_argument("--path-train-examples", type=int, default=None)
    parser.add_argument("--tracking-uri", default=None)
    args = parser.parse_args()

    from lth_tf import data
    from lth_tf.settings import build_config
    from pipelines.experiments import instability, lottery

    splits = data.load(build_config({"dataset": DATA}).dataset)
    began = time.perf_counter()
    for name in args.models.split(","):
        d = DEFAULTS[name]
        for seed in range(args.replicates):
            settings = {"dataset": DATA, "model": name, "seed": seed, "rounds": args.rounds,
                        "iterations": args.iterations or d["iterations"],
                        "eval_interval": args.eval_interval or d["eval_interval"],
                        "learning_rate": d["learning_rate"], "controls": (), "log_models": "none",
                        "tracking_uri": args.tracking_uri, "experiment_name": f"emergence-{name}"}
            t0 = time.perf_counter()
            source = lottery.run(build_config({**settings, "mode": "both"}), splits=splits, echo=lambda _: None)
            t_source = time.perf_counter() - t0
            rounds = (0, *[int(r) for r in args.ticket_rounds.split(",") if int(r) <= args.rounds])
            request = instability.Request(source.run_id, rounds, tuple((args.k or d["k"]).split(",")), 1, args.points,
                                          path_train_examples=args.path_train_examples)
            t0 = time.perf_counter()
            result = instability.run(request, args.tracking_uri, echo=lambda _: None, splits=splits)
            t_instability = time.perf_counter() - t0
            print(f"\n== {name}, seed {seed}: source run {source.run_id} ({t_source:.0f} s), instability run "
                  f"{result.run_id} ({t_instability:.0f} s)")
            print(instability.table(result))
            for figure in result.figures:
                print(f"figure: {figure} of run {result.run_id}")
            full = {(r.kind, r.round): r for r in source.rounds}
            for mode in ("iterative", "one_shot"):
                t0 = time.perf_counter()
                bird = lottery.run(build_config({**settings, "mode": mode, "early_bird": args.eps}), splits=splits,
                                   echo=lambda _: None)
                elapsed = time.perf_counter() - t0
                print(f"\nearly-bird {mode} (ε {args.eps}), run {bird.run_id} ({elapsed:.0f} s):")
                print_early_bird(bird, full, mode, settings["iterations"])
    print(f"\ntotal {time.perf_counter() - began:.0f} s (shared machine)")


def print_early_bird(bird, full, mode, budget) -> None:
    import mlflow

    runs = mlflow.search_runs(search_all_experiments=True, output_format="list",
                              filter_string=f"tags.`mlflow.parentRunId` = '{bird.run_id}'")
    stops = {(r.data.tags["kind"], int(r.data.tags["round"])): r.data.metrics for r in runs}
    kind = "ticket" if mode == "iterative" else "one_shot"
    print("kind      round  remaining  stopped at  saved   EB ticket acc  full-IMP ticket acc")
    total_saved = 0
    for summary in sorted(bird.rounds, key=lambda s: (s.kind, s.round)):
        metrics = stops.get((summary.kind, summary.round), {})
        saved = int(metrics.get("early_bird/iterations_saved", 0))
        total_saved += saved
        stopped = int(metrics["early_bird/iteration"]) if saved else "-"
        reference = full.get((kind if summary.round else "ticket", summary.round))
        print(f"{summary.kind:9s} {summary.round:5d}  {summary.remaining_fraction:9.1%}  {str(stopped):>10s}  "
              f"{saved:5d}   {summary.early_stop_test_accuracy:13.4f}  "
              f"{reference.early_stop_test_accuracy if reference else float('nan'):19.4f}")
    networks = len(bird.rounds)
    print(f"iterations saved: {total_saved} of {networks * budget} ({total_saved / (networks * budget):.1%}); "
          f"a stopped network is a search network: its own accuracy is at its stop")
    return np.nan


if __name__ == "__main__":
    main()
