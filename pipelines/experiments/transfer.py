"""Ticket transfer: a ticket found on one dataset or optimizer, trained on another.

Morcos et al., "One ticket to win them all" (NeurIPS 2019), and the seed notes' "what if
we train a winning ticket on different data?". The source is a finished lottery
experiment (its first trial): each chosen round's mask and the trial's θ0, read back
from MLflow (`artifacts.load_arrays`, which checks the artifacts' recorded hashes where
the store has them). Each becomes a nested run of a new parent run, trained on the
target's data with the target's settings from θ0 at iteration 0, tagged `kind=transfer`,
`source_run`, `source_round`, beside the target's controls for the same mask
(`reinit`: the transferred mask on fresh weights; `random_prune`: a random mask of the
same per-layer counts on the transferred θ0). With `--compare-to`, the target's own
tickets (a finished experiment on the target data) join the parent's transfer figure.

The network is the source's: every setting that builds it or draws θ (`NETWORK`: the
model group, initializer and batch norm included, and the seed) comes from the source's
params, so the `reinit` control draws from the source's initializer; everything else
(data, optimizer, budget, controls) is the target's. Controls run at `--control-rounds`
among the transferred rounds, as in `lth-tf run`. `rewind` and `fine_tune` do not apply
(every network starts at the source's θ0 at iteration 0, and nothing is pruned here), nor
do `--reset-to` and `--replicates`: they are refused in one line.

Different class counts: the output layer is left unpruned and starts from a fresh draw,
the target network as built from the trial's seed (its own initializer), one per
transfer, shared by every transferred ticket and every control: the output layer is not
part of what transfers, so a control still differs from its ticket in one thing only
(`reinit` redraws the transferred weights, not this head). Its source mask picked output
units of other classes, so there is no ticket to transfer there; a mask of our own
choosing (random, or by some rate) would mix a second intervention into the comparison,
and the output layer is a small share of the weights (1,000 of LeNet-300-100's 266,200).
The θ0 every network of the transfer starts from (the source's, with that head) is the
parent's `initial_weights/seed_S.npz`, as a lottery run's, for `lth-tf export --untrained`.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from mlflow.tracking import MlflowClient

from lth_tf import data, masking, naming
from lth_tf.tracking import artifacts, fingerprints, store as tracking
from lth_tf.training import weights
from lth_tf.training.callbacks import StartFrom
from lth_tf.settings import ExperimentConfig, build_config
from lth_tf.errors import UserError
from lth_tf.settings.groups import ModelHparams
from lth_tf.reports import aggregate, figures, results
from pipelines import controls
from pipelines.runs import run_settings
from pipelines.runs.network_run import ChildRuns, Echo
from pipelines.experiments.lottery import build_masked_model, with_resolved_jit_compile
from lth_tf.reports.rows import NetworkSummary
from pipelines.runs.summary import log_network_table
from pipelines.experiments.trial import log_initial_weights

KIND = "transfer"
TARGET_TICKET = "target_ticket"
"""The target's own tickets (`--compare-to`), as the figure names them."""
FIGURE = "transfer/accuracy_vs_remaining.png"
NETWORK = (*(f.name for f in dataclasses.fields(ModelHparams)), "seed")
"""Settings that build the network or draw θ: the source's in a transfer."""


@dataclass
class SourceTicket:
    """One round of the source experiment's first trial."""

    run_id: str
    round: int
    seed: int
    masks: masking.Masks
    initial: Dict[str, np.ndarray]
    """θ0 of the source trial, by weight path (`fc1/kernel`, `encoder/fc/kernel`)."""


@dataclass
class TransferResult:
    experiment_id: str
    run_id: str
    rounds: List[NetworkSummary]


def parse_ticket(spec: str) -> Tuple[str, Optional[List[int]]]:
    """'RUN' or 'RUN:all' -> (RUN, None: every round); 'RUN:3' -> (RUN, [3])."""
    run_id, _, which = spec.partition(":")
    if not results.is_run_id(run_id):
        raise UserError(f"--ticket: expected RUN_ID[:ROUND|all] with a 32-hex-digit run id, got '{spec}'")
    if which in ("", "all"):
        return run_id, None
    if not which.isdigit():
        raise UserError(f"--ticket: the round must be a number or 'all', got '{which}'")
    return run_id, [int(which)]


def source_parent(client: MlflowClient, run_id: str) -> results.ParentRun:
    return results.resolve(client, run_id)[0]


def load_source(client: MlflowClient, parent: results.ParentRun, rounds: Optional[Sequence[int]]) -> List[SourceTicket]:
    """The chosen rounds' masks (tickets; one-shot ones if only those ran) and θ0 of the first trial."""
    rows = [r for r in results.load(client, [parent]).rows if r.replicate == 0]
    kind = "ticket" if any(r.kind == "ticket" and r.round > 0 for r in rows) else "one_shot"
    by_round = {r.round: r for r in rows if r.kind == kind or (r.kind == "ticket" and r.round == 0)}
    chosen = sorted(by_round) if rounds is None else list(rounds)
    missing = [r for r in chosen if r not in by_round]
    if missing:
        raise UserError(f"--ticket: run {parent.run_id} has no finished round {missing[0]} "
                        f"(rounds: {','.join(map(str, sorted(by_round)))})")
    seed = by_round[chosen[0]].seed
    initial = artifacts.load_arrays(parent.run_id, f"initial_weights/seed_{seed}.npz")
    return [SourceTicket(parent.run_id, r, seed, artifacts.load_arrays(by_round[r].run_id, f"masks/round_{r:02d}.npz"),
                         initial) for r in chosen]


def transplant(model, ticket: SourceTicket,
               drawn: weights.Snapshot) -> Tuple[weights.Snapshot, masking.Masks, List[str]]:
    """(θ0, masks) of `ticket` fitted to the target `model`; the paths of the weights drawn afresh.

    θ0 is matched by weight path (`weights.weight_paths`), as it was saved. Shapes must
    match except in the output layer (another class count), which starts from `drawn`
    (the target network as built, before any training) and is left unpruned (see the
    module's docstring).
    """
    output = masking.output_layer(model)
    output_refs = {v.ref() for v in output.weights} if output is not None else set()
    start, redrawn = [], []
    for path, variable, fresh in zip(weights.weight_paths(model), weights.network_variables(model), drawn,
                                     strict=True):
        source = ticket.initial.get(path)
        if source is not None and source.shape == fresh.shape:
            start.append(source)
        elif variable.ref() in output_refs:
            start.append(fresh)
            redrawn.append(path)
        else:
            raise UserError(f"the source's θ0 does not fit the target model at '{path}' (source "
                            f"{None if source is None else source.shape}, target {fresh.shape}): transfer needs "
                            "the same architecture and input shape")
    masks, output_keys = {}, _output_keys(model, output)
    for key, target in masking.get_masks(model).items():
        source = ticket.masks.get(key)
        if source is not None and source.shape == target.shape:
            masks[key] = source
        elif key in output_keys:
            masks[key] = np.ones_like(target)
        else:
            raise UserError(f"the source's mask does not fit the target model at '{key}'")
    return start, masks, redrawn


def control_start(name: str, context: controls.RoundContext, redrawn: Sequence[str]) -> controls.Start:
    """Where control `name` starts on the target: its own start, but the output layer drawn for
    the target (`redrawn`, paths) is the transfer's one head, as the ticket's."""
    begin = controls.get(name)(context)
    paths = weights.weight_paths(context.model)
    own = [context.initial[i] if path in redrawn else value for i, (path, value) in
           enumerate(zip(paths, begin.weights, strict=True))]
    return controls.Start(begin.masks, own, begin.step)


def source_network(source: results.ParentRun) -> Dict[str, Any]:
    """The source's `NETWORK` settings, from its params."""
    return run_settings.settings(source.params, NETWORK)


def target_config(overrides: Mapping[str, Any], source: results.ParentRun) -> ExperimentConfig:
    """The target's settings (flags, YAML, defaults) on the source's network.

    A network setting given here must be the source's (a one-line `UserError` otherwise).
    """
    given = {name.replace("-", "_"): value for name, value in overrides.items()}
    cfg = build_config({**source_network(source), **given})
    check(cfg, source)
    return cfg


def check(cfg: ExperimentConfig, source: results.ParentRun) -> None:
    """A one-line `UserError` unless `cfg` can train `source`'s tickets: its network, and what applies."""
    flat = cfg.flat()
    for name in NETWORK:
        if name in source.params and str(flat[name]) != source.params[name]:
            raise UserError(f"--{name.replace('_', '-')} is the source's ({source.params[name]}) in a transfer, "
                            f"not {flat[name]}")
    refused = [name for name in cfg.controls.controls if controls.not_in_transfer(name)]
    if refused:  # a control says why it cannot run in a transfer (its `NOT_IN_TRANSFER`)
        allowed = sorted(name for name in controls.CONTROLS if not controls.not_in_transfer(name))
        raise UserError(f"--controls {refused[0]}: not in a transfer ({controls.not_in_transfer(refused[0])}); "
                        f"choose from {', '.join(allowed)}")
    if cfg.pruning.reset_to:
        raise UserError("--reset-to: a transfer trains every network from the source's θ0 at iteration 0 "
                        "(the source stores no θk)")
    if cfg.replicates != 1:
        raise UserError("--replicates: a transfer trains the masks and θ0 of the source's first trial, once")


def _output_keys(model, output) -> set:
    return {w.key for w in masking.masked_weights(model) if w.layer is output}


def run(cfg: ExperimentConfig, ticket_spec: str, compare_to: Optional[str] = None, echo: Echo = print,
        status: Optional[Echo] = None, splits: Optional[data.Splits] = None) -> TransferResult:
    """Trains every chosen source ticket and its controls on the target; one parent run."""
    source_id, rounds = parse_ticket(ticket_spec)
    client = tracking.open_store(cfg.tracking_uri)
    parent_source = source_parent(client, source_id)
    check(cfg, parent_source)
    target_parent = source_parent(client, compare_to) if compare_to else None
    tickets = load_source(client, parent_source, rounds)
    splits = splits or data.load(cfg.dataset)
    seed = tickets[0].seed
    model = build_masked_model(cfg, splits, None, seed)
    drawn = weights.take(model)  # the target network as built from the seed: the output layer's one fresh draw
    initial, _, redrawn = transplant(model, tickets[0], drawn)  # checks the fit before any run exists
    cfg = with_resolved_jit_compile(cfg, model)  # what ran, in the params and the identity
    subject = fingerprints.subject("transfer", cfg, splits, model,
                                   source=f"{parent_source.run_id}:{','.join(str(t.round) for t in tickets)}")
    experiment_id = tracking.open_experiment(cfg.tracking_uri, cfg.experiment_name or
                                             f"transfer-{cfg.resolved_experiment_name}")
    control_rounds = set(cfg.control_rounds(max(t.round for t in tickets)))
    with tracking.run_scope(experiment_id=experiment_id, run_name=f"transfer-{parent_source.run_name}",
                            tags={naming.KIND_TAG: naming.EXPERIMENT_KIND, naming.TRANSFER_TAG: "true",
                                  naming.SOURCE_RUN_TAG: parent_source.run_id,
                                  naming.IDENTITY_TAG: cfg.identity(subject),
                                  naming.FAMILY_TAG: cfg.family(subject)}) as parent:
        tracking.log_params({**cfg.params(), **splits.sizes(), "source_run": parent_source.run_id,
                             "source_dataset": parent_source.params.get("dataset", "?"),
                             "source_optimizer": parent_source.params.get("optimizer", "?"),
                             "reinitialized_output": ",".join(redrawn) or "-"})
        log_initial_weights(weights.named(model, initial), seed, parent.info.run_id)
        # --log-models final logs the sparsest transferred ticket: the last round transferred is this run's last
        last = dataclasses.replace(cfg.pruning, rounds=max(t.round for t in tickets))
        runs = ChildRuns(dataclasses.replace(cfg, pruning=last), splits, parent.info.run_id, echo, status)
        for ticket in tickets:
            start, masks, _ = transplant(model, ticket, drawn)
            tags = {naming.SOURCE_RUN_TAG: ticket.run_id, naming.SOURCE_ROUND_TAG: str(ticket.round)}
            runs.train(model, KIND, ticket.round, 0, seed, masks, [StartFrom(start)], tags=tags)
            if ticket.round not in control_rounds:
                continue
            context = controls.RoundContext(model, ticket.round, seed, masks, start, start)
            for name in cfg.controls.controls:
                begin = control_start(name, context, redrawn)
                runs.train(model, name, ticket.round, 0, seed, begin.masks, [StartFrom(begin.weights)],
                           start_step=begin.step, tags=tags)
        log_network_table(runs.summaries)
        _log_figure(client, parent.info.run_id, target_parent, echo,
                    f"{parent_source.params.get('dataset', '?')} ({parent_source.params.get('optimizer', '?')}) "
                    f"ticket on {cfg.dataset.dataset} ({cfg.training.optimizer})")
    return TransferResult(experiment_id, parent.info.run_id, runs.summaries)


def _log_figure(client: MlflowClient, run_id: str, target: Optional[results.ParentRun], echo: Echo,
                title: str) -> None:
    """Accuracy vs % remaining: transferred tickets, their controls, and the target's own tickets."""
    rows = results.load(client, results.resolve(client, run_id)).rows
    if target is not None:
        rows += [_as_target(r) for r in results.load(client, [target]).rows if r.kind == "ticket"]
    points = aggregate.levels(rows)
    with tempfile.TemporaryDirectory() as tmp:
        written = figures.metric_vs_remaining(
            points, "early_stop_test_accuracy",
            f"Transfer: {title}", Path(tmp) / Path(FIGURE).name)
        if written:
            client.log_artifact(run_id, str(written), str(Path(FIGURE).parent))
            echo(f"transfer figure: {FIGURE} of run {run_id}")


def _as_target(row: NetworkSummary) -> NetworkSummary:
    return dataclasses.replace(row, kind=TARGET_TICKET)
