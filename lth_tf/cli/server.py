"""`lth-tf server`: one MLflow tracking server for every worker, with artifact proxying.

Workers on other machines cannot write a local SQLite file, and should not need a shared
filesystem for masks and θ0: they log runs and upload artifacts over HTTP
(`--tracking-uri http://HOST:PORT`), and the server writes both where it runs.

MLflow's server checks Host headers, not who is asking: bound beyond localhost it would
serve every run to anyone who reaches the port. So there it runs MLflow's basic-auth app
(`lth_tf.tracking.server_auth`): users log in, and each sees only what they created or were
granted. TLS is a reverse proxy's job (docs/server-and-team.md, "TLS in front").
"""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import click

from lth_tf.cli.app import cli
from lth_tf.errors import UserError
from lth_tf.tracking.server import STORE_ENV


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
              help="Address to listen on (0.0.0.0 for workers on other machines; then users must log in, and "
                   "also --allowed-hosts).")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--backend-store-uri", default=None, envvar=STORE_ENV,
              help=f"Where runs, params and metrics go: sqlite:///PATH or postgresql://USER:PASS@HOST/DB (best in "
                   f"${STORE_ENV}, off the command line)  [default: SQLite in ./mlruns].")
@click.option("--artifacts-destination", default=None,
              help="Where uploaded artifacts (masks, θ0, reports) are written  [default: ./mlruns/artifacts].")
@click.option("--allowed-hosts", default=None,
              help="Host headers the server accepts, comma-separated (MLflow allows localhost and private IPs).")
@click.option("--http-workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes answering requests (more for a big team on PostgreSQL).")
@click.option("--auth", "auth", is_flag=True, default=False,
              help="Users log in (MLflow's basic-auth app) even on localhost; always on beyond localhost.")
@click.option("--admin-username", default="admin", show_default=True, envvar="MLFLOW_AUTH_ADMIN_USERNAME",
              help="The admin account, created on the first start with authentication.")
@click.option("--admin-password-file", default=None, type=click.Path(dir_okay=False), metavar="FILE",
              help="File whose first line is the admin's password  [default: $MLFLOW_AUTH_ADMIN_PASSWORD].")
@click.option("--auth-database-uri", default=None,
              help="Where users and permissions are kept  [default: SQLite ./mlruns/basic_auth.db].")
def server(host, port, backend_store_uri, artifacts_destination, allowed_hosts, http_workers, auth, admin_username,
           admin_password_file, auth_database_uri):
    """Start an MLflow tracking server that workers log runs and artifacts through.

    Point `lth-tf run --tracking-uri http://HOST:PORT` (or $MLFLOW_TRACKING_URI) at it;
    `--workers`/`--ray-address` workers log their nested runs and upload masks and θ0
    through it. Beyond localhost only users who log in see anything: each sees the
    experiments they created or were granted (MLflow's basic-auth app); workers log in
    with $MLFLOW_TRACKING_USERNAME and $MLFLOW_TRACKING_PASSWORD. Ctrl-C or SIGTERM stops
    it and its children.
    """
    from lth_tf.tracking import server as mlflow_server, server_auth, store as tracking

    uri = backend_store_uri or tracking.default_tracking_uri()
    _check_driver(uri)
    auth = auth or not server_auth.is_loopback(host)
    password = server_auth.admin_password(admin_password_file) if auth else None
    if uri == tracking.default_tracking_uri() or (auth and not auth_database_uri):
        tracking.DEFAULT_DIR.mkdir(exist_ok=True)
    destination = artifacts_destination or str(Path(tracking.DEFAULT_DIR, "artifacts").resolve())
    command = mlflow_server.tracking_server_command(uri, destination, host, port, http_workers)
    if allowed_hosts:
        command.args += ["--allowed-hosts", allowed_hosts]
    address = f"http://{socket.gethostname() if host in ('0.0.0.0', '::') else host}:{port}"
    opening = (f"MLflow tracking server on {address} (store {mlflow_server.masked(uri)}, artifacts {destination}); "
               f"run with --tracking-uri {address}. Ctrl-C to stop.")
    if not auth:
        click.echo(opening)
        raise SystemExit(mlflow_server.serve(command))
    users = auth_database_uri or f"sqlite:///{Path(tracking.DEFAULT_DIR, 'basic_auth.db').resolve()}"
    with tempfile.TemporaryDirectory(prefix="lth-tf-auth-") as private:
        config = server_auth.write_config(Path(private), users, admin_username)
        command.args += ["--app-name", "basic-auth"]
        command.env.update(server_auth.environment(config, admin_username, password))
        click.echo(opening)
        click.echo(f"Users log in (admin '{admin_username}'; users and permissions in {mlflow_server.masked(users)}); "
                   "each sees the experiments they created or were granted. Workers: set MLFLOW_TRACKING_USERNAME "
                   "and MLFLOW_TRACKING_PASSWORD.")
        raise SystemExit(mlflow_server.serve(command))
