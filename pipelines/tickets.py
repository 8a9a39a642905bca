"""A finished run's networks as plain Keras models: what `lth-tf export` writes.

A network is named by its nested run's id, or by its experiment's parent run id plus a
round (replicate 0's ticket; the sparsest by default). Trained weights come from the
MLflow Model the run logged (`--log-models`; only selected networks have one, since a
model per network costs a model's size each). The untrained ticket, θ0 ⊙ mask, is built
from the run's own artifacts: θ0 of its seed and its round's mask, in the architecture of
any model logged by the same experiment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from lth_tf import artifacts, masking, naming, weights
from lth_tf.data.splits import Arrays
from lth_tf.errors import UserError
from lth_tf.reports import results
from lth_tf.tfkeras import keras
from pipelines import logged_models


@dataclass
class Network:
    """One trained network of a finished experiment (a row of its report)."""

    row: results.ChildRow
    parent: results.ParentRun
    siblings: List[results.ChildRow]

    @property
    def label(self) -> str:
        r = self.row
        return f"{r.kind} round {r.round} ({r.remaining_fraction:.1%} of weights remaining, seed {r.seed})"


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
        return Network(row, parent, rows)
    kinds = {r.kind for r in rows}
    kind = "ticket" if "ticket" in kinds else "one_shot"
    candidates = {r.round: r for r in rows if r.kind == kind and r.replicate == 0}
    if not candidates:
        raise UserError(f"run {run_id} has no finished tickets; nothing to export")
    chosen = max(candidates) if round_ is None else round_
    if chosen not in candidates:
        raise UserError(f"run {run_id} has no finished {kind} at round {chosen}; "
                        f"its rounds: {', '.join(map(str, sorted(candidates)))}")
    return Network(candidates[chosen], parent, rows)


def trained_model(network: Network) -> keras.Model:
    """The trained network as logged, checked to be zero wherever its mask pruned."""
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


def untrained_model(network: Network) -> keras.Model:
    """The ticket at θ0 ⊙ mask, in the architecture the experiment logged."""
    uri = _any_logged_model(network)
    masked = masking.mask_model(logged_models.load(uri))
    theta0 = artifacts.load_arrays(network.parent.run_id, naming.initial_weights_artifact(network.row.seed))
    for variable in weights.network_variables(masked):
        name = variable.name.rsplit(":", 1)[0]
        if name not in theta0 or theta0[name].shape != tuple(variable.shape):
            raise UserError(f"θ0 of run {network.parent.run_id} does not fit its logged model (weight {name})")
        variable.assign(theta0[name])
    masking.set_masks(masked, _masks(network))
    return masking.strip_masks(masked)


def _any_logged_model(network: Network) -> str:
    """This network's model, else any of its experiment's: they share one architecture."""
    own = logged_models.find(network.parent.experiment_id, network.row.run_id)
    if own:
        return own
    for row in network.siblings:
        uri = logged_models.find(network.parent.experiment_id, row.run_id)
        if uri:
            return uri
    raise UserError(f"run {network.parent.run_id} logged no model to take the architecture from (it ran with "
                    f"--log-models {network.parent.params.get('log_models', 'none')}); rerun with --log-models final")


def _masks(network: Network) -> masking.Masks:
    return artifacts.load_arrays(network.row.run_id, naming.mask_artifact(network.row.round))


DATA_SETTINGS = ("dataset", "validation_size", "data_dir", "normalization")


def test_split(network: Network) -> Optional[Arrays]:
    """The experiment's test split, loaded again from its settings; None for data given in Python."""
    from lth_tf import data
    from lth_tf.config import build_config

    params = network.parent.params
    if params.get("dataset", "").startswith("python:"):
        return None
    settings = {k: params[k] for k in DATA_SETTINGS if params.get(k, "None") != "None"}
    return data.load(build_config(settings).dataset).test
