"""Tickets against every other way to get a sparse network (issue 20), on Fashion-MNIST.

One lottery experiment per model (tracked in MLflow like any run) with, at each control
round, the tickets' own controls (`reinit` = their reinitialization check,
`random_prune` = their layerwise shuffle, `ticket_invert` = their inversion, `prune_at_init` = |θ0|), the masks drawn at
initialization (`snip`, `grasp`, `synflow`, each with its Frankle et al. 2021 sanity checks
`_shuffle`, `_reinit`, `_invert`) and tfmot's gradual magnitude pruning (`gradual`), all at
the ticket's sparsity of that round. Prints the report's two tables (`lth_tf.reports.baselines`:
Δ test accuracy at early stop vs the dense network of the same replicate, ✓ within 0.5 points;
each sanity check's Δ vs its method) and writes the report (the paper-style figure,
`accuracy_vs_remaining.png`, one line per kind, mean ± std) to --out.

Data: Debian's `dataset-fashion-mnist` (55,000 / 5,000 / 10,000). The issue's protocol:

    python benchmarks/sparse_baselines.py --models lenet_300_100,conv2 --rounds 19 \
        --control-rounds 3,7,12,15,19 --replicates 3 --iterations 10000 --eval-interval 500

(LeNet: 51.3, 21.1, 7.0, 3.6, 1.5% remaining; 315 networks per model; the estimate in
docs/sparse-baselines.md). The small setting measured on this machine (docs/sparse-baselines.md):

    python benchmarks/sparse_baselines.py --models lenet_300_100 --rounds 7 --control-rounds 3,7 \
        --replicates 1 --iterations 1000 --eval-interval 250 --synflow-iterations 100
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from lth_tf.reports import baselines
from lth_tf.settings import build_config
from mlflow.tracking import MlflowClient
from pipelines.experiments import lottery
from pipelines.reporting import report
from lth_tf.reports import results

FASHION = "/usr/share/datasets/fashion-mnist"
METHODS = ("snip", "grasp", "synflow")
CONTROLS = ("reinit", "random_prune", "ticket_invert", "prune_at_init",
            *(f"{m}{check}" for m in METHODS for check in ("", "_shuffle", "_reinit", "_invert")), "gradual")


def rows(result):
    """The summaries as the report's rows (one row type: `lth_tf.reports.rows.NetworkSummary`)."""
    return list(result.rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="lenet_300_100")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--control-rounds", default="3,7")
    parser.add_argument("--replicates", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--eval-interval", type=int, default=250)
    parser.add_argument("--synflow-iterations", type=int, default=100)
    parser.add_argument("--controls", default=",".join(CONTROLS))
    parser.add_argument("--out", default="sparse-baselines-report")
    args = parser.parse_args()
    if not Path(FASHION).is_dir():
        raise SystemExit(f"{FASHION} is not installed (apt-get install dataset-fashion-mnist)")
    for model in args.models.split(","):
        cfg = build_config({
            "model": model, "dataset": f"idx:{FASHION}", "iterations": args.iterations,
            "eval_interval": args.eval_interval, "rounds": args.rounds, "control_rounds": args.control_rounds,
            "replicates": args.replicates, "controls": args.controls, "log_models": "none",
            "synflow_iterations": args.synflow_iterations, "test_curve": False,
            "experiment_name": f"sparse-baselines-{model}",
        })
        began = time.perf_counter()
        result = lottery.run(cfg, echo=lambda _: None)
        seconds = time.perf_counter() - began
        print(f"\n== {model} on Fashion-MNIST: {len(result.rounds)} networks in {seconds:.0f} s "
              f"(MLflow run {result.run_id})\n")
        print(baselines.markdown(rows(result)))
        client = MlflowClient()
        made = report.write_report(results.resolve(client, result.run_id), Path(args.out) / model, client=client)
        print("report:", ", ".join(str(p) for p in made.files))


if __name__ == "__main__":
    main()
