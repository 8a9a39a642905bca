"""`lth-tf run`: one lottery-ticket experiment, its flags generated from the config."""

from __future__ import annotations

import sys

import click

from lth_tf import config as config_module
from lth_tf.cli.app import cli
from lth_tf.cli.options import with_settings

@with_settings
@cli.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="YAML file of settings (keys as the flags, e.g. fc_rate: 0.2); flags override it.")
def run(config_file, **flags):
    """Run a lottery-ticket experiment: train dense, prune, reset to θ0, retrain, for every round.

    With no options: LeNet-300-100 on the embedded 5,000 MNIST digits, 15 rounds of 2,000
    iterations (about two minutes on a 2-core CPU). Every round, mask and metric goes to MLflow;
    open it with `lth-tf ui`.
    """
    from lth_tf import data, distribute  # heavy imports after argument parsing
    from pipelines import lottery, trial
    from pipelines.summary import to_text

    overrides = config_module.read_yaml(config_file) if config_file else {}
    overrides.update({k: v for k, v in flags.items() if v is not None})
    cfg = config_module.build_config(overrides)
    distribute.strategy(cfg.engine.distribute)  # before any other TensorFlow op (multi-worker collectives)
    splits = data.load(cfg.dataset)  # missing data fails here, before anything is printed or tracked
    interactive = sys.stdout.isatty()
    p, c = cfg.pruning, cfg.controls
    click.echo(f"lth-tf: {cfg.model.model} on {cfg.dataset.dataset} ({splits.sizes()['train_size']} training "
               f"examples): dense round + {p.rounds} pruning rounds ({p.mode.replace('_', '-')}), "
               f"{cfg.training.iterations} iterations each"
               + (f"; controls {', '.join(c.controls)}" if c.controls else "")
               + f"; {trial.networks_per_trial(cfg)} networks per trial"
               + (f", {cfg.replicates} trials" if cfg.replicates > 1 else ""))
    result = lottery.run(
        cfg,
        splits=splits,
        echo=lambda line: click.echo(("\r\033[K" if interactive else "") + line),
        status=(lambda line: click.echo("\r\033[K" + line, nl=False)) if interactive else None,
    )
    click.echo("\n" + to_text(result.rounds))
    click.echo(f"MLflow: experiment {result.experiment_id}, run {result.run_id} ({_store_hint(cfg)})")
    click.echo(f"Figures and the mean ± std table are the run's report/ artifacts; "
               f"`lth-tf report {result.run_id}` writes them to ./reports")


def _store_hint(cfg) -> str:
    from lth_tf import tracking

    uri = tracking.resolve_tracking_uri(cfg.tracking_uri)
    return "open it with: lth-tf ui" if uri == tracking.default_tracking_uri() else uri


