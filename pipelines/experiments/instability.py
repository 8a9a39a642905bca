"""Instability analysis: from which rewinding point k do two copies of a network end linearly connected?

Frankle, Dziugaite, Roy, Carbin, "Linear Mode Connectivity and the Lottery Ticket
Hypothesis" (ICML 2020). For a network of a finished lottery experiment (round 0: the
dense one; round r: its ticket's mask m_r, from the experiment's first trial) and a
rewinding point k: take θk ⊙ m_r, train two copies to the end of the budget with two data
orders (the paper's "SGD noise": batch order and, where the data has it, augmentation;
everything else equal: the optimizer is fresh at k with its schedule advanced to k, as
`--reset-to k`, and the global generators are seeded alike), evaluate train and test error
at `points` evenly spaced points on the straight line between the two final weight vectors
(`lth_tf.training.interpolation`; BatchNorm statistics interpolated too, see there), and
report the error barrier: the maximum error on the path minus the mean of the endpoints'.
A network is stable at k when its test barrier is below `stable_below` (the paper's 2%).

θk is the source's dense run retrained from its θ0 (`initial_weights/seed_S.npz`) to
max(k), with the source's settings and data order (data seed = seed), the same trajectory
as the source's own dense network; θk is kept as the parent's artifact, so a resumed
analysis does not retrain it. The data seeds depend only on (seed, pair, copy), never on k
or the network: every k and every network see the same two data orders, and pair 0's copy
1 is the source's own order (at the source's `--reset-to`, it is the source's ticket).

Tracking: one parent run (tag kind=instability, source_run, identity) in the source's
MLflow experiment; one nested run per (round, k, pair) with each copy's final metrics
(`copy1/...`, `copy2/...`), the path's errors with step = point index (`path/test_error`,
`path/train_error`), and `barrier/test`, `barrier/train`, `stable`. The parent gets
`barrier/test/round_R` and `barrier/train/round_R` with step = k (mean over pairs),
`earliest_stable_k/round_R` (-1: none), and the figures. The same arguments again resume
an unfinished analysis (finished pairs are read back, a pair cut short is redone) or
return a finished one untouched. The runs are written and read back by
`pipelines.experiments.instability_records`; this module trains.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np

from lth_tf import data, masking, naming
from lth_tf.errors import UserError
from lth_tf.reports import results
from lth_tf.tracking import artifacts, store as tracking
from lth_tf.training import interpolation, weights
from lth_tf.training.callbacks import RecordWeights, StartFrom
from lth_tf.training.loop import train_round, uses_xla
from pipelines.experiments.lottery import build_masked_model
from pipelines.experiments.transfer import load_source, source_parent
from pipelines.experiments import instability_records as records
from pipelines.experiments.instability_records import (  # noqa: F401  (re-exported: the results' types)
    BARRIER_FIGURE, KIND, PAIR_KIND, InstabilityResult, PairResult, table)
from pipelines.runs import run_settings

DATA_ORDER_TAG = 1912_05671
"""Keys the instability's data-seed stream (the paper's arXiv number): a stream of its own."""
Echo = Callable[[str], None]


@dataclass(frozen=True)
class Request:
    """What to analyse; every field enters the analysis's identity."""

    source_run: str
    rounds: Tuple[int, ...] = (0,)
    ks: Tuple[str, ...] = ("0",)
    """Iterations (`500`) or percentages of the budget (`10%`)."""
    pairs: int = 1
    points: int = interpolation.POINTS
    stable_below: float = interpolation.STABLE_BELOW
    path_train_examples: Optional[int] = None
    """Train error on the first N training examples only (default: all): a path point of Conv-2 on
    55K images costs many seconds."""


def data_seeds(seed: int, pair: int) -> Tuple[int, int]:
    """The two copies' data seeds of `pair` for replicate seed `seed`; pair 0's copy 1 is `seed` (the source's order)."""
    def one(copy: int) -> int:
        if pair == 0 and copy == 1:
            return seed
        return int(np.random.SeedSequence([seed, DATA_ORDER_TAG, pair, copy]).generate_state(1)[0] % 2**31)

    first, second = one(1), one(2)
    if first == second:  # a hash collision, in principle
        second = (second + 1) % 2**31
    return first, second


def parse_k(text: str, iterations: int, interval: int) -> int:
    """'500' -> 500; '10%' -> 10% of the budget (rounded to a multiple of `interval`). One line on bad input."""
    try:
        k = round(float(text[:-1]) / 100 * iterations / interval) * interval if text.endswith("%") else int(text)
    except ValueError:
        raise UserError(f"--k: expected iterations or a percentage of the budget, got '{text}'") from None
    if not 0 <= k < iterations:
        raise UserError(f"--k {text}: the rewinding point must be in 0..{iterations - 1} (the source's budget is "
                        f"{iterations} iterations)")
    if k % interval:
        raise UserError(f"--k {text}: must be a multiple of the source's --eval-interval {interval}, as --reset-to")
    return k


def check(request: Request) -> None:
    """The request's own numbers; one-line `UserError`s."""
    if request.pairs < 1:
        raise UserError(f"--pairs must be at least 1, not {request.pairs}")
    if request.points < 2:
        raise UserError(f"--points must be at least 2 (the path's endpoints), not {request.points}")
    if not 0 < request.stable_below < 1:
        raise UserError(f"--stable-below is an error difference in (0, 1), not {request.stable_below}")
    if request.path_train_examples is not None and request.path_train_examples < 1:
        raise UserError(f"--path-train-examples must be at least 1, not {request.path_train_examples}")
    if not request.rounds or not request.ks:
        raise UserError("--rounds and --k need at least one value each")


def identity(request: Request) -> str:
    fields = {**request.__dict__, "rounds": sorted(set(request.rounds))}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:32]


def run(request: Request, tracking_uri: Optional[str] = None, echo: Echo = print,
        splits: Optional[data.Splits] = None) -> InstabilityResult:
    """Validates everything, then trains and evaluates every (round, k, pair) in one parent run."""
    check(request)
    if not results.is_run_id(request.source_run):
        raise UserError(f"expected a 32-hex-digit run id of a finished lottery experiment, got '{request.source_run}'")
    client = tracking.open_store(tracking_uri)
    source = source_parent(client, request.source_run)
    cfg = run_settings.config(source.params, tracking_uri=tracking_uri, replicates=1)
    hparams = cfg.training
    ks = sorted({parse_k(k, hparams.iterations, hparams.eval_interval) for k in request.ks})
    rounds = sorted(set(request.rounds))
    if any(r < 0 for r in rounds):
        raise UserError(f"--rounds: a round is 0 (dense) or more, not {min(rounds)}")
    try:
        tickets = {t.round: t for t in load_source(client, source, rounds)}
    except UserError as error:  # a round that was not trained (or did not finish)
        raise UserError(str(error).replace("--ticket:", "--rounds:", 1)) from None
    seed = tickets[rounds[0]].seed
    splits = splits or data.load(cfg.dataset)
    if request.path_train_examples is not None and request.path_train_examples > len(splits.train[1]):
        raise UserError(f"--path-train-examples {request.path_train_examples} exceeds the "
                        f"{len(splits.train[1])} training examples")
    model = build_masked_model(cfg, splits, None, seed)
    try:
        initial = weights.from_named(model, tickets[rounds[0]].initial)
    except ValueError as error:
        raise UserError(f"θ0 of run {source.run_id} does not fit the network its settings build ({error})") from None
    dense_masks = {k: np.ones_like(m) for k, m in masking.get_masks(model).items()}

    ident = identity(request)
    previous = records.previous(client, source.experiment_id, ident)
    if previous is not None and previous.info.status == "FINISHED":
        echo(f"instability analysis finished before, in run {previous.info.run_id}")
        return records.read_back(client, previous, request.stable_below)
    done = records.finished_pairs(client, previous) if previous is not None else {}
    started = (dict(run_id=previous.info.run_id) if previous is not None else dict(
        experiment_id=source.experiment_id, run_name=f"instability-{source.run_name}",
        tags={naming.KIND_TAG: KIND, naming.SOURCE_RUN_TAG: source.run_id, naming.IDENTITY_TAG: ident}))
    with tracking.run_scope(**started) as parent:
        parent_id = parent.info.run_id
        if previous is None:
            tracking.log_params({"source_run": source.run_id, "rounds": ",".join(map(str, rounds)),
                                 "k": ",".join(map(str, ks)), "pairs": request.pairs, "points": request.points,
                                 "stable_below": request.stable_below,
                                 "path_train_examples": request.path_train_examples, "seed": seed,
                                 "iterations": hparams.iterations})
        else:
            echo(f"resuming instability run {parent_id}: {len(done)} pairs finished before")
        theta = _theta(model, cfg, splits, initial, dense_masks, ks, seed, parent_id, echo)
        train_x, train_y = splits.train
        if request.path_train_examples is not None:
            train_x, train_y = train_x[:request.path_train_examples], train_y[:request.path_train_examples]
        path_splits = {"train": (train_x, train_y), "test": splits.test}
        result = InstabilityResult(source.experiment_id, parent_id)
        paths: Dict[int, Dict[int, Dict[str, np.ndarray]]] = {}
        for round_ in rounds:
            masks = dense_masks if round_ == 0 else tickets[round_].masks
            for k in ks:
                for pair in range(request.pairs):
                    key = (round_, k, pair)
                    if key in done:
                        pair_result, errors = done[key]
                    else:
                        pair_result, errors = _train_pair(model, cfg, splits, masks, theta[k], key, seed,
                                                          path_splits, request, parent_id)
                    result.pairs.append(pair_result)
                    if pair == 0:
                        paths.setdefault(round_, {})[k] = errors
                    echo(f"round {round_} ({pair_result.remaining_fraction:.1%} remaining) k={k} pair {pair}: "
                         f"test barrier {pair_result.barriers['test']:.4f}, train barrier "
                         f"{pair_result.barriers['train']:.4f}")
        records.log_parent(client, result, request.stable_below, ks, rounds, paths)
    return result


def _theta(model, cfg, splits, initial, dense_masks, ks: Sequence[int], seed: int, parent_id: str,
           echo: Echo) -> Dict[int, weights.Snapshot]:
    """θk for every k: θ0 itself, and the dense network retrained from θ0 to max(k) (logged, so read back on resume)."""
    theta = {0: initial}
    wanted = [k for k in ks if k > 0]
    stored = {k: f"instability/theta/seed_{seed}/k_{k}.npz" for k in wanted}
    if wanted and all(artifacts.has_artifact(parent_id, path) for path in stored.values()):
        return {**theta, **{k: weights.from_named(model, artifacts.load_arrays(parent_id, stored[k])) for k in wanted}}
    if wanted:
        echo(f"retraining the dense network from θ0 to iteration {max(wanted)} for θk")
        masking.set_masks(model, dense_masks)
        record = RecordWeights(wanted)
        train_round(model, splits, cfg.training, seed, [StartFrom(initial), record], align_to=wanted,
                    iterations=max(wanted))
        for k in wanted:
            theta[k] = record.snapshots[k]
            artifacts.log_arrays(weights.named(model, theta[k]), stored[k], parent_id)
    return theta


def _train_pair(model, cfg, splits, masks, start: weights.Snapshot, key: Tuple[int, int, int], seed: int,
                path_splits, request: Request, parent_id: str) -> Tuple[PairResult, Dict[str, np.ndarray]]:
    """Both copies from θk ⊙ mask with their own data orders, the path between them, in one nested run."""
    round_, k, pair = key
    masking.set_masks(model, masks)
    remaining = float(sum(int(np.count_nonzero(m)) for m in masks.values()) / sum(m.size for m in masks.values()))
    seeds = data_seeds(seed, pair)
    tags = {naming.KIND_TAG: PAIR_KIND, naming.ROUND_TAG: str(round_), naming.K_TAG: str(k), naming.PAIR_TAG: str(pair),
            naming.SEED_TAG: str(seed), naming.REMAINING: f"{remaining:.6f}"}
    with tracking.run_scope(nested=True, parent_run_id=parent_id, tags=tags,
                            run_name=f"instability-round{round_:02d}-k{k}-pair{pair}") as child:
        run_id = child.info.run_id
        tracking.log_params({"data_seed_1": seeds[0], "data_seed_2": seeds[1], "round": round_, "k": k,
                             "pair": pair, "remaining_fraction": f"{remaining:.6f}"})
        ends, metrics = [], {}
        for copy, data_seed in enumerate(seeds, start=1):
            history = train_round(model, splits, cfg.training, seed, [StartFrom(start)], start_step=k,
                                  data_seed=data_seed)
            ends.append(weights.take(model))
            final = {f"copy{copy}/final_{name}": v for name, v in history.final.items() if name != "iteration"}
            final[f"copy{copy}/final_train_accuracy"] = history.final_train_accuracy
            metrics.update({name: naming.tracked_value(v) for name, v in final.items()})
        tracking.log_metrics(run_id, metrics, step=round_)
        path = interpolation.evaluate_path(model, ends[0], ends[1], path_splits, request.points,
                                           uses_xla(cfg.training, model))
        for index in range(request.points):
            tracking.log_metrics(run_id, {f"path/{split}_{what}": float(values[split][index])
                                          for split in path.errors
                                          for what, values in (("error", path.errors), ("loss", path.losses))},
                                 step=index)
        barriers = {split: naming.tracked_value(v) for split, v in path.barriers().items()}  # as MLflow holds them
        tracking.log_metrics(run_id, {"barrier/test": barriers["test"], "barrier/train": barriers["train"],
                                      "stable": float(barriers["test"] < request.stable_below)}, step=k)
    result = PairResult(round_, k, pair, remaining, barriers,
                        (metrics["copy1/final_test_accuracy"], metrics["copy2/final_test_accuracy"]), run_id)
    return result, path.errors
