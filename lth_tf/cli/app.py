"""The `lth-tf` command group and its entry point: one-line errors, exit 2 for bad input.

Bad input is reported in one line with exit status 2, before any MLflow run exists;
Ctrl-C or SIGTERM ends the runs as KILLED (exit 130). Each command lives in its own
module of this package and registers itself on `cli`. A command that the tool prints
for the user to paste names its store (`store_option`), so it works from any folder.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import urllib.parse
from pathlib import Path
from typing import Optional

import click

from lth_tf.errors import UserError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="lth-tf")
def cli():
    """Find lottery tickets (Frankle & Carbin, ICLR 2019) in Keras models, tracked in MLflow."""


def store_option(tracking_uri: Optional[str], option: str = "--tracking-uri") -> str:
    """` --tracking-uri URI` for a printed command: the store a run used, readable from any folder.

    The default store (./mlruns) and any other local path become absolute; a URI holding a
    password is never printed: it is `"$MLFLOW_TRACKING_URI"` when that is where it came
    from, else shown with the password masked.
    """
    from lth_tf.tracking import server as mlflow_server, store as tracking

    uri = tracking.resolve_tracking_uri(tracking_uri)
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme == "sqlite" and tracking.sqlite_path(uri) is not None:
        uri = f"sqlite:///{tracking.sqlite_path(uri).resolve()}" + (f"?{parts.query}" if parts.query else "")
    elif parts.scheme in ("", "file") and not parts.netloc:
        uri = Path(parts.path).resolve().as_uri()
    elif parts.password is not None:
        shown = mlflow_server.masked(uri)
        return f' {option} "$MLFLOW_TRACKING_URI"' if os.environ.get("MLFLOW_TRACKING_URI") == uri else \
            f" {option} {shlex.quote(shown)}"
    return f" {option} {shlex.quote(uri)}"


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> None:
    """Console entry point: one-line errors, exit 2 for bad input, 130 when interrupted."""
    signal.signal(signal.SIGTERM, _terminate)
    # MLflow prints "View run ... / View experiment ..." for every nested run against a server; lth-tf
    # prints where the experiment is once, with what it needs to work when pasted (`store_option`).
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    try:
        cli.main(args=argv, prog_name="lth-tf", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as error:
        click.echo(error.ctx.get_help())
    except click.NoSuchOption as error:
        click.echo(f"Error: {_no_such_option(error)}", err=True)
        sys.exit(2)
    except click.UsageError as error:
        click.echo(f"Error: {error.format_message()}", err=True)
        sys.exit(2)
    except UserError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(2)
    except (KeyboardInterrupt, click.Abort):
        runs = _ended_runs()
        click.echo("\nInterrupted" + (f": finished rounds are in MLflow; {runs}." if runs else "."), err=True)
        sys.exit(130)
    except Exception as error:  # a crash: say in one line what it left behind
        if os.environ.get("LTH_TF_DEBUG"):
            raise
        runs = _ended_runs()
        click.echo(f"Error: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''} "
                   f"({runs + '; ' if runs else ''}set LTH_TF_DEBUG=1 for the traceback)", err=True)
        sys.exit(1)


def _no_such_option(error: click.NoSuchOption) -> str:
    """`No such option '--fc_rates' (did you mean '--fc-rate'?)`: the close visible flags only, never a hidden alias."""
    from lth_tf.settings.suggest import did_you_mean

    command = error.ctx.command if error.ctx is not None else cli
    flags = [flag for param in command.params if not getattr(param, "hidden", False)
             for flag in (*param.opts, *param.secondary_opts) if flag.startswith("--")]
    said = click.NoSuchOption(error.option_name).format_message()  # click's own words, without its guesses
    return f"{said.rstrip('.')}{did_you_mean(error.option_name, flags)}"


def _ended_runs() -> str:
    """'run 3f2a... is marked FAILED' for the top run this process ended unfinished, '' if none."""
    tracking = sys.modules.get("lth_tf.tracking.store")  # never imported: no run was ever started
    if tracking is None or not tracking.ended_unfinished:
        return ""
    run_id, status = tracking.ended_unfinished[-1]  # the parent ends last
    return f"run {run_id} is marked {status}"
