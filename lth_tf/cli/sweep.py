"""`lth-tf sweep`: one experiment per point of a grid or list of settings (see `pipelines.experiments.sweep`)."""

from __future__ import annotations

import click

from lth_tf.cli.app import cli, store_option


@cli.command()
@click.argument("sweep_file", metavar="SWEEP.yaml", type=click.Path(dir_okay=False))
def sweep(sweep_file):
    """Run one full experiment per point of SWEEP.yaml, each its own run under one sweep run.

    SWEEP.yaml has `base:` (settings every point shares, as in --config), `grid:` (each
    setting with a list of values; every combination is a point) and/or `points:` (a list
    of settings). `workers: N` or `ray_address:` in base runs the points as Ray tasks.
    """
    from lth_tf import tfkeras  # noqa: F401  (work starts: TensorFlow, first through its one import)
    from pipelines.experiments import sweep as sweeping

    spec = sweeping.read(sweep_file)
    click.echo(f"lth-tf sweep {spec.name}: {len(spec.points)} points")
    run_ids = sweeping.run(spec, echo=click.echo)
    store = store_option(spec.base.get("tracking_uri"))
    click.echo(f"MLflow experiment {spec.name}: point runs {', '.join(run_ids)}")
    click.echo(f"Compare them: lth-tf compare {' '.join(run_ids)}{store}")
    click.echo(f"Report one: lth-tf report {run_ids[0]}{store}")
