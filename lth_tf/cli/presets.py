"""`lth-tf presets`: the paper's experiments by name."""

from __future__ import annotations

import click

from lth_tf.cli.app import cli


@cli.command()
def presets():
    """List the paper's experiments that `lth-tf run --preset NAME` sets up (any flag overrides them)."""
    from lth_tf.presets import markdown_table

    click.echo(markdown_table())
