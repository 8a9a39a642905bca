"""`lth-tf instability`: from which rewinding point k is a finished experiment's network stable to SGD noise?"""

from __future__ import annotations

import click

from lth_tf.cli.app import cli
from lth_tf.cli.options import STORE_HELP


def _ints(ctx, param, value):
    try:
        return tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got '{value}'") from None


@cli.command()
@click.argument("run_id")
@click.option("--rounds", default="0", callback=_ints, show_default=True,
              help="Rounds of the experiment's first trial to analyse, comma-separated: 0 is the dense network, "
                   "r its ticket of round r (mask applied).")
@click.option("--k", "ks", default="0", show_default=True,
              help="Rewinding points, comma-separated: iterations (500) or percentages of the budget (10%); "
                   "each in 0..budget-1 and a multiple of the experiment's --eval-interval.")
@click.option("--pairs", type=int, default=1, show_default=True, help="Pairs of copies per (network, k).")
@click.option("--points", type=int, default=30, show_default=True,
              help="Evenly spaced points on the linear path, endpoints included (the paper's 30).")
@click.option("--stable-below", type=float, default=0.02, show_default=True,
              help="Test error barrier under which a network is stable (the paper's 2%).")
@click.option("--path-train-examples", type=int, default=None,
              help="Train error along the path on the first N training examples  [default: all].")
@click.option("--tracking-uri", default=None, help=STORE_HELP)
def instability(run_id, rounds, ks, pairs, points, stable_below, path_train_examples, tracking_uri):
    """Linear mode connectivity (Frankle et al. 2020) of a finished lottery experiment's networks.

    For each round and k: θk of the experiment's dense run (⊙ the round's mask) trains twice
    to the end of the budget with two data orders; the error along the straight line between
    the two results gives the error barrier. Prints the barrier per (round, k), the earliest
    stable k per round and the figures' artifact paths; all of it is one MLflow run (tag
    kind=instability) in the experiment's MLflow experiment. Rerunning the same command
    resumes an interrupted analysis.
    """
    from lth_tf import tfkeras  # noqa: F401  (work starts: TensorFlow, first through its one import)
    from pipelines.experiments import instability as analysis

    request = analysis.Request(run_id, rounds, tuple(k.strip() for k in ks.split(",") if k.strip()), pairs, points,
                               stable_below, path_train_examples)
    result = analysis.run(request, tracking_uri, echo=click.echo)
    click.echo("\n" + analysis.table(result))
    for name in result.figures:
        click.echo(f"figure: {name} of run {result.run_id}")
    click.echo(f"MLflow: experiment {result.experiment_id}, run {result.run_id}")
