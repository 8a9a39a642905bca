"""`lth-tf server` and `lth-tf ui`: bad input in one line, secrets masked and off the command line.

A real server process where nobody gets in without logging in: tests/integration/test_server.py.
"""

import importlib.util

import pytest

from conftest import invoke
from lth_tf.tracking import server as mlflow_server


@pytest.mark.skipif(importlib.util.find_spec("psycopg2") is not None, reason="the driver is installed")
def test_postgres_store_without_its_driver_says_which_extra(capsys):
    code, _, err = invoke(["server", "--backend-store-uri", "postgresql://lth@127.0.0.1/lth"], capsys)
    assert code == 2
    assert err.strip() == "Error: postgresql needs the psycopg2 driver: pip install 'lth-tf[postgres]'"


@pytest.mark.parametrize("password_env, args, message", [
    (None, [], "a server beyond localhost needs an admin password: set $MLFLOW_AUTH_ADMIN_PASSWORD or pass "
               "--admin-password-file FILE"),
    ("short", [], "$MLFLOW_AUTH_ADMIN_PASSWORD: the admin password needs at least 12 characters"),
    (None, ["--admin-password-file", "missing.txt"], "--admin-password-file missing.txt: No such file or directory"),
])
def test_beyond_localhost_the_server_needs_an_admin_password(store, capsys, monkeypatch, password_env, args, message):
    monkeypatch.delenv("MLFLOW_AUTH_ADMIN_PASSWORD", raising=False)
    if password_env:
        monkeypatch.setenv("MLFLOW_AUTH_ADMIN_PASSWORD", password_env)
    code, out, err = invoke(["server", "--host", "0.0.0.0", *args], capsys)
    assert code == 2 and err.strip() == f"Error: {message}" and out == ""


def test_the_ui_serves_this_machine_only(store, capsys):
    code, out, err = invoke(["ui", "--host", "0.0.0.0"], capsys)
    assert code == 2 and out == "" and err.strip() == (
        "Error: --host 0.0.0.0: lth-tf ui serves this machine only; for other machines run "
        "`lth-tf server --host HOST`, where users log in")


def test_a_store_password_is_masked_in_what_the_server_prints_and_kept_off_its_command_line(
        store, capsys, monkeypatch):
    started = []
    monkeypatch.setattr(mlflow_server, "serve", lambda server: started.append(server) or 0)
    monkeypatch.setenv("MLFLOW_BACKEND_STORE_URI", "mysql://lth:s3cret-pw@127.0.0.1:1/lth")
    code, out, _ = invoke(["server", "--port", "5999"], capsys)
    assert code == 0 and "store mysql://lth:***@127.0.0.1:1/lth" in out and "s3cret-pw" not in out
    (server,) = started
    assert server.env[mlflow_server.STORE_ENV] == "mysql://lth:s3cret-pw@127.0.0.1:1/lth"
    assert not any("s3cret-pw" in word for word in server.args)
    assert mlflow_server.masked("postgresql+psycopg2://u:p%40ss@db.example:5432/x?sslmode=require") == \
        "postgresql+psycopg2://u:***@db.example:5432/x?sslmode=require"
    assert mlflow_server.masked("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"
