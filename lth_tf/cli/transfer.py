"""`lth-tf transfer`: train a finished experiment's tickets on other data or with another optimizer."""

from __future__ import annotations

import sys

import click

from lth_tf import config as config_module
from lth_tf.cli.app import cli
from lth_tf.cli.options import with_settings


@with_settings
@cli.command()
@click.option("--ticket", "ticket", required=True, metavar="RUN_ID[:ROUND|all]",
              help="The source experiment's parent run and which round's ticket to transfer  [default: all].")
@click.option("--compare-to", "compare_to", default=None, metavar="RUN_ID",
              help="A finished experiment on the target data whose own tickets join the transfer figure.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="YAML file of settings; flags override it.")
def transfer(ticket, compare_to, config_file, **flags):
    """Train the masks and θ0 of a source experiment's tickets on the target data and settings.

    The model (and its unpruned layers and dropout) is the source's; every other setting is
    the target's (flags, YAML, defaults), e.g. --dataset idx:/usr/share/datasets/fashion-mnist
    --optimizer sgd. Each transferred ticket trains beside its controls (--controls, default
    reinit,random_prune) as nested runs tagged kind=transfer, source_run, source_round; the
    parent run gets transfer/accuracy_vs_remaining.png. A differing class count re-draws the
    output layer and leaves it unpruned.
    """
    from lth_tf import data, tracking
    from pipelines import transfer as transferring
    from pipelines.summary import to_text

    overrides = config_module.read_yaml(config_file) if config_file else {}
    overrides.update({k: v for k, v in flags.items() if v is not None})
    source_id, _ = transferring.parse_ticket(ticket)
    client = tracking.open_store(overrides.get("tracking_uri"))
    source = transferring.source_parent(client, source_id)
    for name in ("model", "unpruned_layers", "dropout"):
        mine, theirs = overrides.get(name), source.params.get(name)
        if mine is not None and str(mine) != theirs:
            raise click.UsageError(f"--{name.replace('_', '-')} is the source's ({theirs}) in a transfer")
    overrides.update(model=source.params["model"], dropout=source.params.get("dropout", "0.0"),
                     unpruned_layers=_tuple(source.params.get("unpruned_layers", "()")))
    cfg = config_module.build_config(overrides)
    splits = data.load(cfg.dataset)
    interactive = sys.stdout.isatty()
    result = transferring.run(
        cfg, ticket, compare_to, splits=splits,
        echo=lambda line: click.echo(("\r\033[K" if interactive else "") + line),
        status=(lambda line: click.echo("\r\033[K" + line, nl=False)) if interactive else None,
    )
    click.echo("\n" + to_text(result.rounds))
    click.echo(f"MLflow: experiment {result.experiment_id}, run {result.run_id}")


def _tuple(logged: str) -> str:
    """A tuple param as MLflow logged it ("('a', 'b')") back to the flag's form ("a,b")."""
    return ",".join(part.strip(" '\"") for part in logged.strip("()[]").split(",") if part.strip(" '\""))
