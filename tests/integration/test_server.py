"""`lth-tf server` beyond localhost: nobody gets in without logging in.

A real server process with MLflow's basic-auth app, bound as a team would (0.0.0.0) and
reached on 127.0.0.1: refused without credentials (401), a worker with credentials logs a
real run, and another user cannot read it. Ray workers logging with credentials:
tests/integration/test_fanout.py (its server is authenticated too). Bad input in one line:
tests/unit/test_server.py.
"""

import os
import subprocess
import sys
import urllib.error
import urllib.request
from base64 import b64encode

import mlflow
import pytest
from mlflow.exceptions import MlflowException

from team_server import ADMIN, credentials, password, team_server

TINY = ["--iterations", "20", "--eval-interval", "10", "--rounds", "1", "--batch-size", "30", "--no-jit-compile",
        "--steps-per-execution", "10", "--controls", "", "--log-models", "none"]


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    root = tmp_path_factory.mktemp("team")
    with team_server(root, ("alice", "bob"), "0.0.0.0") as running:
        yield running


def status(url, user=None):
    request = urllib.request.Request(url)
    if user:
        request.add_header("Authorization", "Basic " + b64encode(f"{user[0]}:{user[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_nobody_gets_in_without_logging_in(team):
    url, _, _ = team
    for path in ("/api/2.0/mlflow/experiments/search?max_results=10",
                 "/ajax-api/2.0/mlflow/experiments/search?max_results=10",  # what the UI reads
                 "/api/2.0/mlflow-artifacts/artifacts"):  # the artifact proxy
        assert status(url + path) == 401
        assert status(url + path, ("alice", "not-her-password")) == 401
    assert status(url + "/api/2.0/mlflow/experiments/search?max_results=10", ("alice", password("alice"))) == 200
    assert status(url + "/health") == 200


def test_secrets_stay_off_command_lines_and_out_of_the_log(team):
    _, process, log = team
    processes = family(process.pid)
    assert len(processes) >= 3  # lth-tf server, the MLflow server it started, its HTTP worker
    for pid in processes:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            words = cmdline.read().decode(errors="replace")
        assert ADMIN[1] not in words and "mlflow.db" not in words and "--backend-store-uri" not in words
    assert ADMIN[1] not in log.read_text(errors="replace")


def family(pid):
    """`pid` and every process descended from it (from /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = {pid}, [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier and child not in found]
        found.update(children)
        frontier = children
    return sorted(found)


def test_a_worker_with_credentials_logs_a_run_that_another_user_cannot_read(team, tmp_path):
    url = team[0]
    alice = {**os.environ, "MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": password("alice")}
    done = subprocess.run([sys.executable, "-m", "lth_tf", "run", "--tracking-uri", url, "--experiment-name", "alice",
                           *TINY], env=alice, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # quiet against a server: none of MLflow's per-run links; the closing hints name the server, so they work
    # when pasted in another folder (issue 23)
    assert "View run" not in done.stdout + done.stderr and "View experiment" not in done.stdout + done.stderr
    with credentials("alice", password("alice")):
        client = mlflow.MlflowClient(url)
        experiment = client.get_experiment_by_name("alice")
        (parent,) = client.search_runs([experiment.experiment_id], "tags.kind = 'experiment'")
        assert f"open it at {url}" in done.stdout, done.stdout[-1000:]
        assert f"`lth-tf report {parent.info.run_id} --tracking-uri {url}`" in done.stdout, done.stdout[-1000:]
        networks = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
        assert parent.info.status == "FINISHED" and sorted(r.data.tags["round"] for r in networks) == ["0", "1"]
        assert {a.path for a in client.list_artifacts(networks[0].info.run_id, "masks")}  # uploaded through the proxy
    with credentials("bob", password("bob")):
        client = mlflow.MlflowClient(url)
        for read in (lambda: client.get_experiment(experiment.experiment_id),
                     lambda: client.get_run(parent.info.run_id),
                     lambda: client.get_experiment_by_name("alice"),
                     lambda: client.list_artifacts(networks[0].info.run_id, "masks")):
            with pytest.raises(MlflowException, match="Permission denied"):
                read()
        assert client.search_runs([experiment.experiment_id]) == []  # searches leave out what bob cannot read
        assert "alice" not in [e.name for e in client.search_experiments()]
    nobody = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    done = subprocess.run([sys.executable, "-m", "lth_tf", "run", "--tracking-uri", url, *TINY],
                          env=nobody, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith(f"Error: cannot open MLflow store {url}")
