"""`lth-tf ui`: the MLflow UI on the lth-tf store, opening on the runs table."""

from __future__ import annotations

import click

from lth_tf.cli.app import cli
from lth_tf.errors import UserError


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on: this machine only (for a team: `lth-tf server`).")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--tracking-uri", default=None,
              help="Store to show (default: $MLFLOW_TRACKING_URI, else SQLite in ./mlruns).")
@click.option("--backend-store-uri", "old_store_uri", default=None, hidden=True)  # the earlier spelling, still taken
@click.option("--experiment", default=None, metavar="NAME",
              help="Print (and open) this experiment's runs  [default: the only experiment, else the list].")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server worker processes (each ~250 MB; one is plenty for one user).")
@click.option("--open/--no-open", "open_browser", default=False,
              help="Open the runs table in a web browser once the server answers.  [default: off]")
def ui(host, port, tracking_uri, old_store_uri, experiment, workers, open_browser):
    """Start the MLflow UI on the lth-tf store, to compare rounds and experiments.

    Prints the address of the runs table (MLflow 3 would open experiments in its GenAI
    view). Ctrl-C or SIGTERM stops the server with all its worker processes.
    """
    from lth_tf.tracking import server as mlflow_server, server_auth, store as tracking

    if not server_auth.is_loopback(host):  # it would show every run to anyone who reaches the port
        raise UserError(f"--host {host}: lth-tf ui serves this machine only; for other machines run "
                        "`lth-tf server --host HOST`, where users log in")
    uri = tracking.resolve_tracking_uri(tracking_uri or old_store_uri)
    artifact_root = None
    if uri == tracking.default_tracking_uri():
        if not (tracking.DEFAULT_DIR / "mlflow.db").exists():
            raise UserError("no runs yet in ./mlruns; run `lth-tf run` first (or pass --tracking-uri)")
        artifact_root = tracking.default_artifact_root()
    address = mlflow_server.url(host, port, *_experiment_view(uri, experiment))
    extra = ["--workers", str(workers)] + (["--default-artifact-root", artifact_root] if artifact_root else [])
    click.echo(f"MLflow UI: {address}  (starting; Ctrl-C to stop)")
    mlflow_server.supervise(mlflow_server.command("server", uri, host, port, *extra),
                            open_url=address if open_browser else None)


def _experiment_view(uri, name):
    """(experiment id, shared view key) to land on: `name`, or the store's only experiment; (None, None) for the list."""
    from mlflow.tracking import MlflowClient

    from lth_tf import naming

    client = MlflowClient(uri)
    if name:
        found = client.get_experiment_by_name(name)
        if found is None:
            raise UserError(f"no experiment '{name}' in {uri}")
    else:
        ours = [e for e in client.search_experiments() if e.name != "Default"]
        found = ours[0] if len(ours) == 1 else None
    if found is None:
        return None, None
    has_view = naming.SHARED_VIEW_TAG + naming.RUNS_VIEW_KEY in found.tags
    return found.experiment_id, naming.RUNS_VIEW_KEY if has_view else None

