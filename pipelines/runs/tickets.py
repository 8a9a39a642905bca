"""A finished run's networks as plain Keras models: what `lth-tf export` writes.

A network is named by its nested run's id, or by its experiment's parent run id plus a
round: replicate 0's ticket (of a transfer, its transferred ticket; of a supermask run,
its supermask of that index), the sparsest by default.

Trained weights come from the MLflow Model the run logged (`--log-models`; only selected
networks have one, since a model per network costs a model's size each). Untrained, a
network is the weights its training started from, under its mask:

- a ticket or one-shot ticket: θ0, or θk of the dense run with `--reset-to k`; a
  transferred ticket: the θ0 its transfer stored (the source's, with the target's output
  layer where the class counts differ);
- a control: its start as `pipelines.controls` defines it, computed again from θ0 (or θk)
  and the control's own seed (`reinit`'s redraw, `noise`'s perturbation, ...);
- a supermask: its random weights, which never train (trained and untrained are the same
  network), from the model it logged or drawn again from the run's `weights_seed`;
- `fine_tune` starts from another network's trained weights: it has no untrained state.

θ0 is the parent's `initial_weights/seed_S.npz` (by weight path), θk the dense network's
kept `state/theta_K.npz`. The architecture is any model the experiment logged, else the
model built again from the run's settings (not for a model given in Python).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from lth_tf import data, masking, naming
from lth_tf.tracking import artifacts
from lth_tf.training import weights
from lth_tf.errors import UserError
from lth_tf.models.registry import PYTHON
from lth_tf.reports import results
from lth_tf.reports.rows import NetworkSummary
from lth_tf.tfkeras import keras
from pipelines import controls
from pipelines.runs import logged_models, run_settings
from pipelines.runs.network_run import state_artifact
from pipelines.experiments.supermask import mask_artifact as supermask_mask

PRIMARY = ("ticket", "one_shot", "transfer", "supermask")
"""What an experiment's run id exports with --round, in this order of preference."""
SUPERMASK = "supermask"
STARTED_TRAINED = {"fine_tune": "it starts from the trained weights of the chain's previous network"}
"""Kinds with no untrained state, and why."""
DATA_SETTINGS = ("dataset", "validation_size", "data_dir", "normalization")


@dataclass
class Network:
    """One trained network of a finished experiment (a row of its report)."""

    row: NetworkSummary
    parent: results.ParentRun
    siblings: List[NetworkSummary]
    tags: Dict[str, str] = field(default_factory=dict)
    """Its nested run's tags."""

    @property
    def label(self) -> str:
        r = self.row
        return f"{r.kind} round {r.round} ({r.remaining_fraction:.1%} of weights remaining, seed {r.seed})"

    @property
    def transferred(self) -> bool:
        return self.parent.tags.get(naming.TRANSFER_TAG) == "true"


def locate(client: MlflowClient, run_id: str, round_: Optional[int] = None) -> Network:
    """The network `run_id` names (with `round_` for a parent run); a one-line error otherwise."""
    if not results.is_run_id(run_id):
        raise UserError(f"'{run_id}' is not a run id (32 hex digits); see `lth-tf report` for an experiment's runs")
    try:
        client.get_run(run_id)
    except MlflowException:
        raise UserError(f"no run {run_id} in {client.tracking_uri}") from None
    (parent,) = results.resolve(client, run_id)
    rows = results.load(client, [parent]).rows
    if run_id != parent.run_id:
        row = next((r for r in rows if r.run_id == run_id), None)
        if row is None:
            raise UserError(f"run {run_id} did not finish; nothing to export")
        if round_ is not None and round_ != row.round:
            raise UserError(f"--round {round_}: run {run_id} is the network of round {row.round}; "
                            f"pass its experiment's run {parent.run_id} to choose a round")
        return Network(row, parent, rows, client.get_run(row.run_id).data.tags)
    first = [r for r in rows if r.replicate == 0]
    kind = next((k for k in PRIMARY if any(r.kind == k and (r.round > 0 or k != "ticket") for r in first)), "ticket")
    candidates = {r.round: r for r in first if r.kind == kind}
    if not candidates:
        raise UserError(f"run {run_id} has no finished tickets; nothing to export")
    if round_ is None:
        chosen = min(candidates.values(), key=lambda r: (r.remaining_fraction, -r.round))  # the sparsest
    elif round_ in candidates:
        chosen = candidates[round_]
    else:
        raise UserError(f"run {run_id} has no finished {kind} at round {round_}; "
                        f"its rounds: {', '.join(map(str, sorted(candidates)))}")
    return Network(chosen, parent, rows, client.get_run(chosen.run_id).data.tags)


def load_data(network: Network) -> Optional[data.Splits]:
    """The experiment's data, loaded again from its settings; None for data given in Python."""
    from lth_tf.settings import build_config

    params = network.parent.params
    if params.get("dataset", "").startswith("python:"):
        return None
    return data.load(build_config(run_settings.settings(params, DATA_SETTINGS)).dataset)


def trained_model(network: Network, splits: Optional[data.Splits]) -> keras.Model:
    """The trained network as logged, checked to be zero wherever its mask pruned."""
    if network.row.kind == SUPERMASK:
        return _supermask(network, splits)
    uri = logged_models.find(network.parent.experiment_id, network.row.run_id)
    if uri is None:
        setting = network.parent.params.get("log_models", "none")
        raise UserError(f"run {network.row.run_id} ({network.label}) logged no trained model (the experiment "
                        f"ran with --log-models {setting}); export it with --untrained, or rerun with "
                        "--log-models all")
    model = logged_models.load(uri)
    masked = masking.mask_model(model)
    for key, mask in _masks(network).items():
        weight = masking.prunable_weights(masked)[key].numpy()
        if weight[~mask].any():
            raise UserError(f"the model logged by run {network.row.run_id} has weights where its mask pruned "
                            f"them (layer {key}); it does not match the run's mask")
    return model


def untrained_model(network: Network, splits: Optional[data.Splits]) -> keras.Model:
    """The network at the weights its training started from, under its mask (see the module's docstring)."""
    kind = network.row.kind
    if kind == SUPERMASK:
        return _supermask(network, splits)
    if kind in STARTED_TRAINED:
        raise UserError(f"run {network.row.run_id} ({network.label}) has no untrained state: "
                        f"{STARTED_TRAINED[kind]}; export it trained")
    masked = _architecture(network, splits)
    weights.restore(masked, _start(network, masked))
    masking.set_masks(masked, _masks(network))
    return masking.strip_masks(masked)


def start_label(network: Network) -> str:
    """What `untrained_model` starts from, in words."""
    kind = network.row.kind
    if kind == SUPERMASK:
        return "its random weights (never trained)"
    if kind in ("ticket", "one_shot", "transfer", "random_prune"):
        return f"θ{_start_step(network)}"
    if kind in ("rewind", "prune_at_init"):
        return f"θ{_int_param(network, 'rewind_to') if kind == 'rewind' else 0}"
    return f"the {kind} control's own start"


def _start_step(network: Network) -> int:
    """k with --reset-to k (the pruned rounds of a lottery run), else 0."""
    if network.transferred or network.row.round == 0:
        return 0
    return _int_param(network, "reset_to")


def _int_param(network: Network, name: str) -> int:
    return int(run_settings.value(network.parent.params.get(name, "0")) or 0)


def _start(network: Network, masked: keras.Model) -> weights.Snapshot:
    row, params = network.row, network.parent.params
    theta0 = _theta0(network, masked)
    step = _start_step(network)
    start = _theta_k(network, masked, step) if step else theta0
    if row.kind in ("ticket", "one_shot", "transfer"):
        return start
    if row.kind not in controls.CONTROLS or controls.is_chain(row.kind):
        raise UserError(f"run {row.run_id}: lth-tf does not know where a '{row.kind}' network starts; export it trained")
    rewind_to = _int_param(network, "rewind_to")
    context = controls.RoundContext(
        masked, row.round, row.seed, _masks(network), theta0, theta0,
        rewind=_theta_k(network, masked, rewind_to) if row.kind == "rewind" else None,
        noise_scale=float(run_settings.value(params.get("noise_scale", "0.5"))), start=start, start_step=step,
        rewind_step=rewind_to)
    if network.transferred:
        from pipelines.experiments import transfer

        redrawn = [p for p in params.get("reinitialized_output", "-").split(",") if p not in ("", "-")]
        return transfer.control_start(row.kind, context, redrawn).weights
    return controls.get(row.kind)(context).weights


def _theta0(network: Network, masked: keras.Model) -> weights.Snapshot:
    parent = network.parent
    path = naming.initial_weights_artifact(network.row.seed)
    if network.transferred and not any(a.path == path for a in MlflowClient().list_artifacts(parent.run_id,
                                                                                            "initial_weights")):
        raise UserError(f"transfer run {parent.run_id} stores no θ0 (it was made by an older lth-tf); export its "
                        "networks trained")
    try:
        return weights.from_named(masked, artifacts.load_arrays(parent.run_id, path))
    except ValueError as error:
        raise UserError(f"θ0 of run {parent.run_id} does not fit its model ({error})") from None


def _theta_k(network: Network, masked: keras.Model, k: int) -> weights.Snapshot:
    """θk of the dense network of the same trial, as it kept it (in `weights.network_variables` order)."""
    dense = next((r for r in network.siblings if r.kind == "ticket" and r.round == 0
                  and r.replicate == network.row.replicate), None)
    if dense is None:
        raise UserError(f"run {network.parent.run_id} has no finished dense network to take θ{k} from")
    snapshot = weights.from_arrays(artifacts.load_arrays(dense.run_id, state_artifact(f"theta_{k}")))
    shapes = [tuple(v.shape) for v in weights.network_variables(masked)]
    if [tuple(a.shape) for a in snapshot] != shapes:
        raise UserError(f"θ{k} kept by run {dense.run_id} does not fit its model")
    return snapshot


def _architecture(network: Network, splits: Optional[data.Splits]) -> keras.Model:
    """The masked network as trained (weights to be set): a logged model's, else built from the settings."""
    params = network.parent.params
    unpruned = run_settings.value(params.get("unpruned_layers", "()"))
    uri = _any_logged_model(network)
    if uri is not None:
        return masking.mask_model(logged_models.load(uri), unpruned)
    if splits is None or params.get("model", "").startswith(PYTHON):
        raise UserError(f"run {network.parent.run_id} logged no model to take the architecture from, and its model "
                        f"or data was given in Python (it ran with --log-models {params.get('log_models', 'none')}); "
                        "rerun with --log-models final")
    from pipelines.experiments.lottery import build_masked_model

    return build_masked_model(_settings(network), splits, None, network.row.seed)


def _settings(network: Network):
    """The experiment's settings, to build its network again here (on this machine's devices)."""
    return run_settings.config(network.parent.params, distribute="none", workers=0, ray_address=None)


def _any_logged_model(network: Network) -> Optional[str]:
    """This network's model, else any of its experiment's: they share one architecture."""
    for row in [network.row, *network.siblings]:
        uri = logged_models.find(network.parent.experiment_id, row.run_id)
        if uri:
            return uri
    return None


def _supermask(network: Network, splits: Optional[data.Splits]) -> keras.Model:
    """A supermask's random weights under its mask: the model it logged, else drawn again from `weights_seed`."""
    own = logged_models.find(network.parent.experiment_id, network.row.run_id)
    if own:
        return logged_models.load(own)
    params = network.parent.params
    if splits is None or params.get("model", "").startswith(PYTHON):
        raise UserError(f"supermask run {network.row.run_id} logged no model, and its random weights cannot be drawn "
                        "again here (its model or data was given in Python); rerun with --log-models all")
    from pipelines.experiments.supermask import random_network

    cfg = _settings(network)
    plain = random_network(cfg, splits.input_shape, splits.num_classes, float(network.tags[naming.KEEP_FRACTION_TAG]))
    masked = masking.mask_model(plain, cfg.model.unpruned_layers)
    masking.set_masks(masked, _masks(network))
    return masking.strip_masks(masked)


def _masks(network: Network) -> masking.Masks:
    row = network.row
    if row.kind == SUPERMASK:
        return artifacts.load_arrays(row.run_id, supermask_mask(float(network.tags[naming.KEEP_FRACTION_TAG])))
    return artifacts.load_arrays(row.run_id, naming.mask_artifact(row.round))
