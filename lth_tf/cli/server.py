"""`lth-tf server`: one MLflow tracking server for every worker, with artifact proxying.

Workers on other machines cannot write a local SQLite file, and should not need a shared
filesystem for masks and θ0: they log runs and upload artifacts over HTTP
(`--tracking-uri http://HOST:PORT`), and the server writes both where it runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from lth_tf.cli.app import cli
from lth_tf.errors import UserError


def _check_driver(uri: str) -> None:
    """A PostgreSQL store needs a driver, which is the `postgres` extra, not a core dependency."""
    if not uri.startswith("postgresql"):
        return
    import importlib.util

    wanted = "psycopg" if uri.startswith("postgresql+psycopg:") else "psycopg2"
    if importlib.util.find_spec(wanted) is None:
        raise UserError(f"{uri.split(':', 1)[0]} needs the {wanted} driver: pip install 'lth-tf[postgres]'")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for workers on other machines; then also --allowed-hosts).")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--backend-store-uri", default=None,
              help="Where runs, params and metrics go: sqlite:///PATH or postgresql://USER:PASS@HOST/DB  "
                   "[default: SQLite in ./mlruns].")
@click.option("--artifacts-destination", default=None,
              help="Where uploaded artifacts (masks, θ0, reports) are written  [default: ./mlruns/artifacts].")
@click.option("--allowed-hosts", default=None,
              help="Host headers the server accepts, comma-separated (MLflow allows localhost and private IPs).")
@click.option("--http-workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes answering requests (more for a big team on PostgreSQL).")
def server(host, port, backend_store_uri, artifacts_destination, allowed_hosts, http_workers):
    """Start an MLflow tracking server that workers log runs and artifacts through.

    Point `lth-tf run --tracking-uri http://HOST:PORT` (or $MLFLOW_TRACKING_URI) at it;
    `--workers`/`--ray-address` workers log their nested runs and upload masks and θ0
    through it. Ctrl-C or SIGTERM stops it and its children.
    """
    from lth_tf import mlflow_server, tracking

    uri = backend_store_uri or tracking.default_tracking_uri()
    _check_driver(uri)
    if uri == tracking.default_tracking_uri():
        tracking.DEFAULT_DIR.mkdir(exist_ok=True)
    destination = artifacts_destination or str(Path(tracking.DEFAULT_DIR, "artifacts").resolve())
    args = mlflow_server.tracking_server_command(uri, destination, host, port, http_workers)
    if allowed_hosts:
        args += ["--allowed-hosts", allowed_hosts]
    click.echo(f"MLflow tracking server on http://{host}:{port} (store {uri}, artifacts {destination}); "
               f"run with --tracking-uri http://{host}:{port}. Ctrl-C to stop.")
    raise SystemExit(mlflow_server.serve(args))
