"""`lth-tf ui`: the MLflow UI on the lth-tf store."""

from __future__ import annotations

import subprocess
import sys

import click

from lth_tf.cli.app import cli
from lth_tf.errors import UserError


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--backend-store-uri", default=None,
              help="Store to show (default: $MLFLOW_TRACKING_URI, else SQLite in ./mlruns).")
def ui(host, port, backend_store_uri):
    """Start the MLflow UI on the lth-tf store, to compare rounds and experiments."""
    from lth_tf import tracking

    uri = tracking.resolve_tracking_uri(backend_store_uri)
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port)]
    if uri == tracking.default_tracking_uri():
        if not (tracking.DEFAULT_DIR / "mlflow.db").exists():
            raise UserError("no runs yet in ./mlruns; run `lth-tf run` first (or pass --backend-store-uri)")
        command += ["--default-artifact-root", tracking.default_artifact_root()]
    click.echo(f"MLflow UI on http://{host}:{port} (Ctrl-C to stop)")
    raise SystemExit(subprocess.call(command))
