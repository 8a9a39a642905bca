"""`lth-tf transfer`: train a finished experiment's tickets on other data or with another optimizer."""

from __future__ import annotations

import sys

import click

from lth_tf import settings as config_module
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

    The network is the source's (--model and every other model setting, --initializer and
    --nonaffine-batchnorm included, and --seed); every other setting is the target's
    (flags, YAML, defaults), e.g. --dataset idx:/usr/share/datasets/fashion-mnist
    --optimizer sgd. Each transferred ticket trains as a nested run tagged kind=transfer,
    source_run, source_round, and at --control-rounds (as in `lth-tf run`; '' for every
    transferred round) beside the controls of --controls (default reinit; also
    random_prune, noise, prune_at_init). The parent run gets
    transfer/accuracy_vs_remaining.png. A differing class count draws one fresh output
    layer, shared by every network, and leaves it unpruned.

    Examples:

    \b
      lth-tf transfer --ticket RUN_ID --dataset idx:/usr/share/datasets/fashion-mnist   (every round's ticket)
      lth-tf transfer --ticket RUN_ID:7 --dataset npz:mydata.npz --controls reinit,random_prune
      lth-tf transfer --ticket RUN_ID --dataset npz:mydata.npz --compare-to TARGET_RUN_ID --tracking-uri http://HOST:5000
    """
    from lth_tf import tfkeras  # noqa: F401  (work starts: TensorFlow, first through its one import)
    from lth_tf import data
    from lth_tf.tracking import store as tracking
    from pipelines.experiments import transfer as transferring
    from pipelines.runs.summary import to_text

    overrides = config_module.read_yaml(config_file) if config_file else {}
    overrides.update({k: v for k, v in flags.items() if v is not None})
    source_id, _ = transferring.parse_ticket(ticket)
    client = tracking.open_store(overrides.get("tracking_uri"))
    cfg = transferring.target_config(overrides, transferring.source_parent(client, source_id))
    splits = data.load(cfg.dataset)
    interactive = sys.stdout.isatty()
    result = transferring.run(
        cfg, ticket, compare_to, splits=splits,
        echo=lambda line: click.echo(("\r\033[K" if interactive else "") + line),
        status=(lambda line: click.echo("\r\033[K" + line, nl=False)) if interactive else None,
    )
    click.echo("\n" + to_text(result.rounds))
    click.echo(f"MLflow: experiment {result.experiment_id}, run {result.run_id}")
