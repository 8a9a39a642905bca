"""Ray fan-out into a real `lth-tf server`: same results as the sequential run, a killed worker retried.

One MLflow server process (started through the CLI, on 127.0.0.1, users logging in) and
one local Ray with two workers serve the whole module: both take seconds to start. Every
network logs in with credentials that only the tasks carry to the workers.
"""

import os
import signal
import subprocess
import sys
import threading
import time

import mlflow
import numpy as np
import pytest
from mlflow.entities import ViewType

from lth_tf.tracking import artifacts
from lth_tf.settings import build_config
from pipelines.experiments import lottery
from team_server import credentials, password, team_server

ray = pytest.importorskip("ray")

SETTINGS = {"iterations": 20, "eval_interval": 10, "rounds": 1, "batch_size": 30, "steps_per_execution": 5,
            "jit_compile": False, "replicates": 2, "controls": "reinit", "control_rounds": "", "model": "lenet_300_100"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`lth-tf server` as a real process on a free loopback port, with users who log in (`--auth`);
    stopped (with its children) at the end."""
    with team_server(tmp_path_factory.mktemp("server"), ("alice",), "127.0.0.1", "--auth") as (url, process, _):
        yield url
    with pytest.raises(ProcessLookupError):  # nothing of the server's process group outlived it
        os.killpg(process.pid, 0)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def alice(server, local_ray):
    """The tests log in as alice, whose credentials are set after Ray started: its workers get them
    only through the tasks, as on a cluster, whose machines never see the driver's environment."""
    with credentials("alice", password("alice")):
        yield server


@pytest.fixture(scope="module")
def sequential(alice, tiny_splits):
    return lottery.run(build_config({**SETTINGS, "tracking_uri": alice, "experiment_name": "sequential"}),
                       tiny_splits, echo=lambda line: None)


def children(run_id, view=ViewType.ACTIVE_ONLY, client=None):
    client = client or mlflow.MlflowClient()
    parent = client.get_run(run_id)
    return client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'", run_view_type=view)


def network(run):
    return tuple(run.data.tags[k] for k in ("kind", "round", "replicate"))


def kill_first_control(server, stop):
    """Waits for a control's run to start on a worker, then SIGKILLs that worker; returns what it killed."""
    client = mlflow.MlflowClient(server)
    while not stop.is_set():
        experiment = client.get_experiment_by_name("ray")
        runs = experiment and client.search_runs([experiment.experiment_id],
                                                 "tags.kind = 'reinit' and attributes.status = 'RUNNING'")
        if runs:
            pid = int(runs[0].data.tags["worker"].rsplit(":", 1)[1])
            os.kill(pid, signal.SIGKILL)
            return network(runs[0])
        time.sleep(0.05)
    return None


def test_workers_match_the_sequential_run_and_retry_a_killed_worker(alice, sequential, tiny_splits):
    server = alice
    killed, stop = [], threading.Event()
    killer = threading.Thread(target=lambda: killed.append(kill_first_control(server, stop)))
    killer.start()
    try:
        fanned = lottery.run(build_config({**SETTINGS, "tracking_uri": server, "experiment_name": "ray",
                                           "workers": 2}), tiny_splits, echo=lambda line: None)
    finally:
        stop.set()
        killer.join()

    assert fanned.rounds == sequential.rounds  # every summary, bitwise, in the sequential order
    client = mlflow.MlflowClient(server)
    assert client.get_run(fanned.run_id).info.status == "FINISHED"
    assert client.get_run(fanned.run_id).data.metrics == client.get_run(sequential.run_id).data.metrics
    live, reference = children(fanned.run_id), {network(r): r for r in children(sequential.run_id)}
    assert sorted(network(r) for r in live) == sorted(reference)  # no duplicates, none missing
    for run in live:
        assert run.info.status == "FINISHED"
        assert run.data.metrics == reference[network(run)].data.metrics
        mask = f"masks/round_{int(run.data.tags['round']):02d}.npz"
        got, want = artifacts.load_arrays(run.info.run_id, mask), artifacts.load_arrays(reference[network(run)].info.run_id, mask)
        assert got.keys() == want.keys() and all(np.array_equal(got[k], want[k]) for k in got)
    assert killed and killed[0] is not None, "no control's worker was caught running"
    replaced = [r for r in children(fanned.run_id, ViewType.DELETED_ONLY) if network(r) == killed[0]]
    assert replaced, "the killed attempt's run was not replaced by its retry"


def test_a_sweep_on_ray_runs_each_point_as_its_own_experiment_under_the_sweep_run(alice, tmp_path):
    server = alice
    from pipelines.experiments import sweep as sweeping

    spec = tmp_path / "sweep.yaml"
    spec.write_text(f"base: {{iterations: 20, eval_interval: 10, rounds: 1, batch_size: 30, jit_compile: false, "
                    f"dataset: mnist-5k, workers: 2, tracking_uri: '{server}'}}\n"
                    "grid: {fc_rate: [0.2, 0.5]}\n")
    run_ids = sweeping.run(sweeping.read(str(spec)), echo=lambda line: None)

    client = mlflow.MlflowClient(server)
    points = [client.get_run(run_id) for run_id in run_ids]
    sweep_run = client.get_run(points[0].data.tags["mlflow.parentRunId"])
    assert sweep_run.data.tags["kind"] == "sweep" and sweep_run.info.status == "FINISHED"
    assert [p.data.params["fc_rate"] for p in points] == ["0.2", "0.5"]
    for point in points:
        assert point.data.tags["mlflow.parentRunId"] == sweep_run.info.run_id and point.info.status == "FINISHED"
        assert sorted(network(r) for r in children(point.info.run_id)) == [("ticket", "0", "0"), ("ticket", "1", "0")]
    remaining = [next(r for r in children(p.info.run_id) if r.data.tags["round"] == "1").data.tags["remaining_fraction"]
                 for p in points]
    assert float(remaining[0]) > float(remaining[1])  # each point pruned at its own rate


FAKE_GPU_DRIVER = ("import sys, ray; ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False); "
                   "from lth_tf.cli import main; main(sys.argv[1:])")


def test_a_run_with_controls_finishes_on_a_one_gpu_cluster(tmp_path):
    """Ray's fake resources: one GPU, which every network asks for. A trial that held it while
    waiting for its controls (each needing a GPU) would wait forever."""
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = [sys.executable, "-c", FAKE_GPU_DRIVER, "run", "--workers", "2", "--iterations", "20",
            "--eval-interval", "10", "--rounds", "1", "--batch-size", "30", "--no-jit-compile",
            "--controls", "reinit", "--control-rounds", "1", "--log-models", "none", "--tracking-uri", store]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    process = subprocess.Popen(args, cwd=tmp_path, env=env, start_new_session=True, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate()
        pytest.fail(f"the run did not finish within 300 s on a 1-GPU cluster:\n{out[-2000:]}")
    assert process.returncode == 0, out[-2000:]
    client = mlflow.MlflowClient(store)
    (parent,) = client.search_runs([e.experiment_id for e in client.search_experiments()], "tags.kind = 'experiment'")
    assert parent.info.status == "FINISHED"
    assert sorted(network(r) for r in children(parent.info.run_id, client=client)) == [
        ("reinit", "1", "0"), ("ticket", "0", "0"), ("ticket", "1", "0")]
