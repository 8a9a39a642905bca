"""Supermasks of untrained networks next to the trained dense network and tickets (edge-popup's question).

For each model, on full Fashion-MNIST (Debian's `dataset-fashion-mnist`):
1. a lottery run (`lth-tf run`): the dense network (round 0) and iterative tickets
   pruned 30% per round (every layer, output included), so rounds 1, 2, 3 and 6 keep
   70%, 49%, 34% and 11.8%: the tickets nearest k = 0.7, 0.5, 0.3, 0.1;
2. a supermask run (`lth-tf supermask --compare-to` that run): signed Kaiming constant
   weights scaled by 1/k, never trained; scores trained with SGD 0.1, momentum 0.9,
   weight decay 1e-4, cosine schedule, at k = 0.1, 0.3, 0.5, 0.7.
Both use the same iterations, batch size and evaluation interval, so each supermask run
has the budget of one ticket round; the time ratio compares their MLflow run durations
(same process, same machine, measured side by side).

Budgets (a shared 2-core CPU; the paper trains 100 epochs): LeNet-300-100 3,000
iterations of 60 (3.3 epochs), Conv-2 600 iterations of 60 and only 3 pruning rounds
(so no ticket near 10%). Accuracy is test accuracy at the early-stop iteration (minimum
validation loss), as everywhere in lth-tf.

    python benchmarks/supermask.py --models lenet_300_100 conv2
"""

from __future__ import annotations

import argparse
import time

from mlflow.tracking import MlflowClient

from lth_tf import data
from lth_tf.settings import build_config
from pipelines.experiments import lottery, supermask

DATASET = "idx:/usr/share/datasets/fashion-mnist"
BUDGETS = {  # model: (iterations, eval interval, pruning rounds, dense learning rate: the paper's Adam)
    "lenet_300_100": (3000, 300, 6, 1.2e-3),
    "conv2": (600, 300, 3, 2e-4),
}
KEEP = (0.1, 0.3, 0.5, 0.7)


def measure(model: str, dataset: str, tracking_uri, seed: int) -> None:
    iterations, interval, rounds, rate = BUDGETS[model]
    common = dict(model=model, dataset=dataset, iterations=iterations, eval_interval=interval, seed=seed,
                  tracking_uri=tracking_uri, experiment_name=f"supermask-benchmark-{model}")
    splits = data.load(build_config(common).dataset)
    started = time.perf_counter()
    tickets = lottery.run(build_config({**common, "rounds": rounds, "fc_rate": 0.3, "conv_rate": 0.3,
                                        "output_rate": 0.3, "learning_rate": rate}), splits=splits)
    masks = supermask.run(build_config({**common, "initializer": "signed_constant", "keep_fractions": KEEP}),
                          splits=splits, compare_to=tickets.run_id)
    total = time.perf_counter() - started
    dense = next(r for r in tickets.rounds if r.round == 0)
    pruned = [r for r in tickets.rounds if r.round > 0]
    print(f"\n## {model} on {dataset}: {iterations} iterations per network, seed {seed} "
          f"(lottery run {tickets.run_id}, supermask run {masks.run_id}; {total:.0f} s in all)")
    print(f"dense network (trained): test accuracy {dense.early_stop_test_accuracy:.4f}")
    print("| k | supermask (untrained weights) | nearest ticket (remaining) | dense |")
    print("|---|---|---|---|")
    for summary in sorted((r for r in masks.rounds if r.kind == "supermask"), key=lambda r: r.remaining_fraction):
        k = summary.remaining_fraction
        near = min(pruned, key=lambda r: abs(r.remaining_fraction - k))
        print(f"| {k:.1f} | {summary.early_stop_test_accuracy:.4f} | {near.early_stop_test_accuracy:.4f} "
              f"({near.remaining_fraction:.1%}) | {dense.early_stop_test_accuracy:.4f} |")
    best = max((r for r in masks.rounds if r.kind == "supermask"), key=lambda r: r.early_stop_test_accuracy)
    print(f"peak: k = {best.remaining_fraction:.1f}, {best.early_stop_test_accuracy:.4f} = "
          f"{best.early_stop_test_accuracy - dense.early_stop_test_accuracy:+.4f} vs the trained dense network")
    client = MlflowClient()
    supermask_s = _durations(client, masks.run_id, "supermask")
    ticket_s = _durations(client, tickets.run_id, "ticket", pruned_only=True)
    print(f"time per network: supermask {sum(supermask_s) / len(supermask_s):.1f} s, ticket round "
          f"{sum(ticket_s) / len(ticket_s):.1f} s: ratio {sum(supermask_s) / len(supermask_s) / (sum(ticket_s) / len(ticket_s)):.2f}")


def _durations(client: MlflowClient, parent_id: str, kind: str, pruned_only: bool = False):
    experiment = client.get_run(parent_id).info.experiment_id
    runs = client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{parent_id}' and tags.kind = '{kind}'")
    return [(r.info.end_time - r.info.start_time) / 1000 for r in runs
            if not pruned_only or int(r.data.tags["round"]) > 0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(BUDGETS), choices=list(BUDGETS))
    parser.add_argument("--dataset", default=DATASET)
    parser.add_argument("--tracking-uri", default=None, help="MLflow store (default: ./mlruns)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for model in args.models:
        measure(model, args.dataset, args.tracking_uri, args.seed)


if __name__ == "__main__":
    main()
