"""A real `lth-tf server` with authentication, for tests: on loopback, an admin and a few users."""

import contextlib
import sys

import pytest

from lth_tf.tracking import server as mlflow_server

ADMIN = ("admin", "admin-password-of-the-test")


def password(user: str) -> str:
    return f"password-of-{user}"


@contextlib.contextmanager
def credentials(username: str, secret: str):
    """MLflow's client logs in as `username` within the block (its environment variables)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_USERNAME", username)
        patch.setenv("MLFLOW_TRACKING_PASSWORD", secret)
        yield


@contextlib.contextmanager
def team_server(root, users=(), host="127.0.0.1", *flags):
    """`lth-tf server` as a real process with users (each with `password(user)`); yields (URL, process, log).

    The admin password and the store reach it the documented way, in the environment
    ($MLFLOW_AUTH_ADMIN_PASSWORD, $MLFLOW_BACKEND_STORE_URI). The server and its children
    are stopped at the end.
    """
    from mlflow.server import get_app_client

    port = mlflow_server.free_port()
    args = [sys.executable, "-m", "lth_tf", "server", "--host", host, "--port", str(port), *flags,
            "--artifacts-destination", str(root / "artifacts"), "--auth-database-uri", f"sqlite:///{root / 'users.db'}"]
    secrets = {"MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN[1], "MLFLOW_BACKEND_STORE_URI": f"sqlite:///{root / 'mlflow.db'}"}
    log_path = root / "server.log"
    with open(log_path, "wb") as log:
        process = mlflow_server.start(mlflow_server.Command(args, secrets), log)
        url = f"http://127.0.0.1:{port}"
        try:
            mlflow_server.wait_until_healthy(url, process, timeout=180)
            with credentials(*ADMIN):
                admin = get_app_client("basic-auth", tracking_uri=url)
                for user in users:
                    admin.create_user(user, password(user))
            yield url, process, log_path
        finally:
            mlflow_server.stop(process)
