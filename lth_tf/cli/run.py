"""`lth-tf run`: one lottery-ticket experiment, its flags generated from the config."""

from __future__ import annotations

import sys

import click

from lth_tf import settings as config_module
from lth_tf.cli.app import cli, store_option
from lth_tf.cli.options import with_settings

@with_settings(skip_groups=("supermask",))
@cli.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="YAML file of settings (keys as the flags, e.g. fc_rate: 0.2); flags override it.")
def run(config_file, **flags):
    """Run a lottery-ticket experiment: train dense, prune, reset to θ0, retrain, for every round.

    With no options: LeNet-300-100 on the embedded 5,000 MNIST digits, 15 rounds of 2,000
    iterations, random re-initialization at rounds 3, 7 and 12 (about a minute on a 2-core
    CPU). Every round, mask and metric goes to MLflow; open it with `lth-tf ui`.

    Examples:

    \b
      lth-tf run --rounds 5 --controls reinit,random_prune
      lth-tf run --model mymodels:build --dataset npz:digits.npz   (your model and data)
      lth-tf run --preset conv2 --replicates 3 --tracking-uri http://HOST:5000
    """
    overrides = config_module.read_yaml(config_file) if config_file else {}
    overrides.update({k: v for k, v in flags.items() if v is not None})
    cfg = config_module.build_config(overrides)  # bad input stops here, before TensorFlow is imported

    from lth_tf import tfkeras  # noqa: F401  (work starts: TensorFlow, first through its one import)
    from lth_tf import data
    from lth_tf.runtime import distribute
    from pipelines.experiments import lottery, trial
    from pipelines.runs.summary import budget_warnings, last_evaluation, to_text, versus_controls

    distribute.strategy(cfg.engine.distribute)  # before any other TensorFlow op (multi-worker collectives)
    splits = data.load(cfg.dataset)  # missing data fails here, before anything is printed or tracked
    interactive = sys.stdout.isatty()
    p, c = cfg.pruning, cfg.controls
    control_rounds = cfg.control_rounds(p.rounds)
    click.echo(f"lth-tf: {cfg.model.model} on {cfg.dataset.dataset} ({splits.sizes()['train_size']} training "
               f"examples): dense round + {p.rounds} pruning rounds ({p.mode.replace('_', '-')}), "
               f"{cfg.training.iterations} iterations each"
               + (f"; controls {', '.join(c.controls)} at rounds {', '.join(map(str, control_rounds))}"
                  if c.controls and control_rounds else "")
               + f"; {trial.networks_per_trial(cfg)} networks per trial"
               + (f", {cfg.replicates} trials" if cfg.replicates > 1 else ""))
    click.echo(f"input: {data.input_note(splits)}")
    result = lottery.run(
        cfg,
        splits=splits,
        echo=lambda line: click.echo(("\r\033[K" if interactive else "") + line),
        status=(lambda line: click.echo("\r\033[K" + line, nl=False)) if interactive else None,
    )
    if result.finished_before:
        click.echo(f"This experiment finished before, in run {result.run_id}; its results (pass --restart to "
                   "run it again):")
    click.echo("\n" + to_text(result.rounds))
    versus = versus_controls(result.rounds)
    if versus:
        click.echo("Ticket - control and ticket - dense, test accuracy at early stop, paired by seed (winning: "
                   "not below dense, ahead of every control beyond the 95% interval):")
        click.echo("".join(f"  {line}\n" for line in versus))
    for line in budget_warnings(result.rounds, last_evaluation(cfg.training)):
        click.echo(line)
    click.echo(f"MLflow: experiment {result.experiment_id}, run {result.run_id}; {_store_hint(cfg)}")
    click.echo(f"Figures and the mean ± std table are the run's report/ artifacts; "
               f"`lth-tf report {result.run_id}{store_option(cfg.tracking_uri)}` writes them to ./reports")


def _store_hint(cfg) -> str:
    """Where to look at the run: the server's address, else `lth-tf ui` on its store."""
    from lth_tf.tracking import store as tracking

    uri = tracking.resolve_tracking_uri(cfg.tracking_uri)
    if uri.startswith(("http://", "https://")):
        return f"open it at {uri}"
    return f"open it with: lth-tf ui{store_option(cfg.tracking_uri)}"


