"""The `lth-tf` command group and its entry point: one-line errors, exit 2 for bad input.

Bad input is reported in one line with exit status 2, before any MLflow run exists;
Ctrl-C or SIGTERM ends the runs as KILLED (exit 130). Each command lives in its own
module of this package and registers itself on `cli`.
"""

from __future__ import annotations

import os
import signal
import sys

import click

from lth_tf.errors import UserError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="lth-tf")
def cli():
    """Find lottery tickets (Frankle & Carbin, ICLR 2019) in Keras models, tracked in MLflow."""


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> None:
    """Console entry point: one-line errors, exit 2 for bad input, 130 when interrupted."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        cli.main(args=argv, prog_name="lth-tf", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as error:
        click.echo(error.ctx.get_help())
    except click.UsageError as error:
        click.echo(f"Error: {error.format_message()}", err=True)
        sys.exit(2)
    except UserError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(2)
    except (KeyboardInterrupt, click.Abort):
        click.echo("\nInterrupted: finished rounds are in MLflow; the run is marked KILLED.", err=True)
        sys.exit(130)
    except Exception as error:  # a crash: the runs are marked FAILED; say so in one line
        if os.environ.get("LTH_TF_DEBUG"):
            raise
        click.echo(f"Error: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''} "
                   "(the run is marked FAILED; set LTH_TF_DEBUG=1 for the traceback)", err=True)
        sys.exit(1)
