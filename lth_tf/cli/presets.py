"""`lth-tf presets`: the paper's experiments by name."""

from __future__ import annotations

import click

from lth_tf.cli.app import cli


@cli.command()
def presets():
    """List the paper's experiments that `lth-tf run` / `lth-tf supermask --preset NAME` set up (flags override)."""
    from lth_tf.settings.presets import markdown_table, supermask_table

    click.echo(markdown_table())
    click.echo("\nSupermasks (`lth-tf supermask --preset NAME`):\n")
    click.echo(supermask_table())
