"""Who may use `lth-tf server`: MLflow's basic-auth app, with users and per-experiment permissions.

Beyond localhost (or with `--auth`), `lth-tf server` runs `mlflow server --app-name
basic-auth`. MLflow reads that app's settings from the INI file named by
$MLFLOW_AUTH_CONFIG_PATH; lth-tf writes one into a private folder for the server's
lifetime (`write_config`):

- `default_permission = NO_PERMISSIONS`: a user sees the experiments they created (MLflow
  makes the creator their manager) and those an admin granted them. MLflow's own default,
  READ, would let every user read every run.
- `database_uri`: where users and permissions live, kept across restarts (SQLite beside
  the store unless told otherwise).
- `auth_cache_ttl_seconds = 60`: a checked password is remembered for a minute. MLflow
  hashes passwords with scrypt on every request otherwise, and a run sends one request
  per batch of metrics, parameters or artifact (`benchmarks/server_auth_cache.py` on a
  busy 2-core machine: a median of 377 ms per authenticated request without the cache,
  16 ms with it). The cost: a password changed through one HTTP worker still works on the others for up to
  a minute.
- the admin account, created by MLflow on the first start with the password from
  $MLFLOW_AUTH_ADMIN_PASSWORD or from a file (`admin_password`); it reaches the server in
  its environment, never on a command line, and is never printed.

The sign-up page's CSRF protection needs a static secret key shared by the server's HTTP
workers: $MLFLOW_FLASK_SERVER_SECRET_KEY, else one drawn for this start.
"""

from __future__ import annotations

import configparser
import importlib.util
import ipaddress
import os
import secrets
from pathlib import Path
from typing import Dict, Optional

from lth_tf.errors import UserError

PASSWORD_ENV = "MLFLOW_AUTH_ADMIN_PASSWORD"
SECRET_KEY_ENV = "MLFLOW_FLASK_SERVER_SECRET_KEY"
AUTH_CACHE_SECONDS = 60
"""How long the server trusts a password it checked (MLflow's `auth_cache_ttl_seconds`; 0 checks every request)."""
MIN_PASSWORD_LENGTH = 12
"""MLflow's password policy (`mlflow.utils.validation._validate_password`), checked before the server starts."""


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host` (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def admin_password(path: Optional[str]) -> str:
    """The admin's password: the first line of `path`, else $MLFLOW_AUTH_ADMIN_PASSWORD; a one-line error if neither."""
    if path:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError as error:
            raise UserError(f"--admin-password-file {path}: {error.strerror}") from None
        password, source = (lines[0].strip() if lines else ""), f"--admin-password-file {path}"
    else:
        password, source = os.environ.get(PASSWORD_ENV, ""), f"${PASSWORD_ENV}"
        if not password:
            raise UserError(f"a server beyond localhost needs an admin password: set ${PASSWORD_ENV} or pass "
                            "--admin-password-file FILE")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"{source}: the admin password needs at least {MIN_PASSWORD_LENGTH} characters")
    return password


def write_config(folder: Path, database_uri: str, admin_username: str) -> Path:
    """The basic-auth INI in `folder` (readable by this user only); returns its path."""
    if importlib.util.find_spec("flask_wtf") is None:
        raise UserError("the server's authentication needs MLflow's auth extra: pip install 'mlflow[auth]'")
    config = configparser.ConfigParser()
    config["mlflow"] = {
        "default_permission": "NO_PERMISSIONS",
        "database_uri": database_uri,
        "admin_username": admin_username,
        "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth",
        "auth_cache_ttl_seconds": str(AUTH_CACHE_SECONDS),
    }
    path = Path(folder, "basic_auth.ini")
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
        config.write(file)
    return path


def environment(config_path: Path, admin_username: str, password: str) -> Dict[str, str]:
    """What the server process needs to start the auth app (overriding any stale values in ours)."""
    return {"MLFLOW_AUTH_CONFIG_PATH": str(config_path), "MLFLOW_AUTH_ADMIN_USERNAME": admin_username,
            PASSWORD_ENV: password, SECRET_KEY_ENV: os.environ.get(SECRET_KEY_ENV) or secrets.token_urlsafe(32)}
