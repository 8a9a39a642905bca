"""`lth-tf supermask`: edge-popup supermasks of an untrained random network, one per keep fraction."""

from __future__ import annotations

import sys

import click

from lth_tf import settings as config_module
from lth_tf.cli.app import cli
from lth_tf.cli.options import with_settings


@with_settings(skip_groups=("pruning", "controls", "engine"))
@cli.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="YAML file of settings (keys as the flags, e.g. keep_fractions: [0.3, 0.5]); flags override it.")
@click.option("--compare-to", "compare_to", default=None, metavar="RUN_ID",
              help="A finished `lth-tf run` of the same model and data: its dense network and tickets stand beside "
                   "the supermasks (and no dense network is trained here).")
def supermask(config_file, compare_to, **flags):
    """Find supermasks: subnetworks of a random, never-trained network (edge-popup, Ramanujan et al. 2020).

    For each --keep-fractions k, the weights (drawn once from --seed, with --initializer,
    e.g. signed_constant) stay frozen; a score per weight is trained, and each layer uses
    its top k by |score|. Besides, the dense network is trained for reference. One MLflow
    parent run, a nested run per k; `report/supermask_vs_tickets.png` on the parent.

    Examples:

    \b
      lth-tf supermask --keep-fractions 0.3,0.5 --initializer signed_constant
      lth-tf supermask --compare-to RUN_ID   (beside the tickets of a finished `lth-tf run`)
    """
    overrides = config_module.read_yaml(config_file) if config_file else {}
    overrides.update({k: v for k, v in flags.items() if v is not None})
    cfg = config_module.build_config(overrides)  # bad input stops here, before TensorFlow is imported

    from lth_tf import tfkeras  # noqa: F401  (work starts: TensorFlow, first through its one import)
    from lth_tf import data
    from pipelines.experiments import supermask as pipeline
    from pipelines.runs.summary import to_text

    splits = data.load(cfg.dataset)  # missing data fails here, before anything is tracked
    interactive = sys.stdout.isatty()
    fractions = ", ".join(f"{k:g}" for k in cfg.supermask.keep_fractions)
    click.echo(f"lth-tf supermask: {cfg.model.model} on {cfg.dataset.dataset} "
               f"({splits.sizes()['train_size']} training examples), weights {cfg.model.initializer or 'as built'} "
               f"from seed {cfg.seed}, never trained; keep fractions {fractions}; {cfg.training.iterations} "
               f"iterations each" + (f"; tickets from run {compare_to}" if compare_to else "; plus the dense network"))
    click.echo(f"input: {data.input_note(splits)}")
    result = pipeline.run(
        cfg, splits=splits, compare_to=compare_to,
        echo=lambda line: click.echo(("\r\033[K" if interactive else "") + line),
        status=(lambda line: click.echo("\r\033[K" + line, nl=False)) if interactive else None,
    )
    click.echo("\n" + to_text(result.rounds))
    click.echo(f"MLflow: experiment {result.experiment_id}, run {result.run_id}; figure: report/{pipeline.FIGURE}")
