"""`lth-tf ui`: a real server that starts lean, answers, and stops with all its processes."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest
from mlflow.tracking import MlflowClient

from lth_tf.tracking import server as mlflow_server


def processes_with(marker):
    """Pids whose environment carries `marker`: lth-tf and everything it started, orphans included."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found


def port_answers(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_url_lands_on_the_runs_table():
    assert mlflow_server.url("0.0.0.0", 5000) == "http://127.0.0.1:5000/#/experiments?workflowType=machine_learning"
    assert mlflow_server.url("localhost", 80, "3") == "http://localhost:80/#/experiments/3/runs?workflowType=machine_learning"
    assert mlflow_server.url("h", 1, "3", "lth-tf").endswith("?workflowType=machine_learning&compareRunsMode=CHART&viewStateShareKey=lth-tf")


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds the server's processes through /proc")
def test_ui_answers_then_sigterm_stops_every_process_and_frees_the_port(tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    experiment_id = MlflowClient(store).create_experiment("exp", artifact_location=(tmp_path / "a").as_uri())
    port, marker = mlflow_server.free_port(), f"LTH_TF_UI_TEST={uuid.uuid4().hex}"
    env = {**os.environ, marker.split("=")[0]: marker.split("=")[1]}
    ui = subprocess.Popen([sys.executable, "-m", "lth_tf", "ui", "--port", str(port), "--backend-store-uri", store],
                          cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          start_new_session=True)
    try:
        first = ui.stdout.readline()
        assert f"http://127.0.0.1:{port}/#/experiments/{experiment_id}/runs?workflowType=machine_learning" in first
        mlflow_server.wait_until_healthy(f"http://127.0.0.1:{port}", ui, timeout=180)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/get?experiment_id="
                                    f"{experiment_id}", timeout=10) as response:
            assert response.status == 200 and b'"exp"' in response.read()
        assert len(processes_with(marker)) >= 2  # lth-tf and the server it started
        ui.send_signal(signal.SIGTERM)
        assert ui.wait(timeout=60) == 0
        output = ui.stdout.read()
        assert "KILLED" not in output and "Traceback" not in output
        deadline = time.monotonic() + 10
        while processes_with(marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert processes_with(marker) == [] and not port_answers(port)
    finally:
        for pid in processes_with(marker):
            os.kill(pid, signal.SIGKILL)
