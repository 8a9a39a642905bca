"""A network's checkpoint copy in MLflow: only the latest while it trains, verified when fetched, gone once
it finished; over a real tracking server that serves artifacts (`mlflow-artifacts:`) as on the local store
(tests/integration/test_resume.py checks the local store)."""

import shutil
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from lth_tf.tracking import server as mlflow_server
from lth_tf.tracking.hook import COMPLETE_TAG
from lth_tf.errors import UserError
from pipelines.runs import run_index

from .test_resume import assert_no_checkpoint_copies, run_tiny


@pytest.fixture
def server(tmp_path):
    """`lth-tf server` (SQLite and an artifact folder under tmp_path/server) on a free loopback port."""
    root = tmp_path / "server"
    root.mkdir()
    port = mlflow_server.free_port()
    args = [sys.executable, "-m", "lth_tf", "server", "--port", str(port),
            "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}", "--artifacts-destination", str(root / "artifacts")]
    with open(root / "server.log", "wb") as log:
        process = mlflow_server.start(mlflow_server.Command(args, {}), log)
        try:
            mlflow_server.wait_until_healthy(f"http://127.0.0.1:{port}", process)
            yield f"http://127.0.0.1:{port}", root / "artifacts"
        finally:
            mlflow_server.stop(process)


def interrupt_at(kind, round_, iteration, iterations):
    def status(line):
        if line.startswith(f"seed 0 {kind} round {round_} ") and f" it {iteration}/{iterations} " in line:
            raise KeyboardInterrupt
    return status


def test_checkpoint_copies_through_a_tracking_server(server, store, tiny_config, tiny_splits):
    url, served = server
    tiny_config.tracking_uri, tiny_config.pruning.rounds = url, 1
    with pytest.raises(KeyboardInterrupt):  # checkpoints at 10 and 20, interrupted after logging 30
        run_tiny(tiny_config, tiny_splits, status=interrupt_at("ticket", 1, 30, 40))
    client = MlflowClient(url)
    parent = next(r for r in client.search_runs([e.experiment_id for e in client.search_experiments()])
                  if r.data.tags.get("kind") == "experiment")
    networks = run_index.child_runs(parent)
    interrupted = networks[("ticket", 1, 0)]
    assert interrupted.info.artifact_uri.startswith("mlflow-artifacts:")
    latest = {"checkpoint/ckpt-20.index", "checkpoint/ckpt-20.data-00000-of-00001", "checkpoint/callbacks-20.npz",
              "checkpoint/ckpt-20.state"}
    assert {a.path for a in client.list_artifacts(interrupted.info.run_id, "checkpoint")} == latest
    assert interrupted.data.tags[COMPLETE_TAG] == "20"
    assert_no_checkpoint_copies(parent.info.run_id)  # the dense network finished: its copy left the server
    on_server = [p for p in served.rglob("*") if p.parent.name == "checkpoint"]
    assert sorted(p.name for p in on_server) == sorted(Path(f).name for f in latest)

    # The local checkpoint is gone and the copy on the server was changed: refused in one line.
    shutil.rmtree(next(Path("mlruns/checkpoints").glob("*/ticket-round01-replicate0")))
    data = next(p for p in on_server if p.name.startswith("ckpt-20.data"))
    original = data.read_bytes()
    data.write_bytes(original[:-4] + bytes(4))
    with pytest.raises(UserError, match="checkpoint/ckpt-20.data-00000-of-00001 of run .* does not match its "
                                        "recorded SHA-256"):
        run_tiny(tiny_config, tiny_splits)

    data.write_bytes(original)  # restored: the resume continues from the server's copy
    lines = []
    result = run_tiny(tiny_config, tiny_splits, status=lines.append)
    assert [line.split(" it ")[1].split()[0] for line in lines if line.startswith("seed 0 ticket round 1 ")] == \
        ["30/40", "40/40"]
    assert result.run_id == parent.info.run_id
    assert_no_checkpoint_copies(parent.info.run_id)
    assert not [p for p in served.rglob("*") if "checkpoint" in p.parts]
    assert client.get_run(parent.info.run_id).info.status == "FINISHED"

