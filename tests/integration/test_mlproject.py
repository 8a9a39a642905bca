"""The MLproject file: `mlflow run .` runs an experiment (its parameters: tests/unit/test_mlproject.py)."""

import os
import sys
from pathlib import Path

import mlflow
import numpy as np


ROOT = Path(__file__).resolve().parents[2]


def test_mlflow_run_of_the_project_is_the_experiments_parent_run(tmp_path, monkeypatch, tiny_splits):
    (x, y), (xt, yt) = tiny_splits.train, tiny_splits.test
    np.savez(tmp_path / "tiny.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    submitted = mlflow.projects.run(
        str(ROOT), entry_point="main", env_manager="local", experiment_name="project", synchronous=True,
        parameters={"dataset": f"npz:{tmp_path / 'tiny.npz'}", "rounds": 1, "iterations": 20, "eval_interval": 10,
                    "batch_size": 30, "validation-size": 100, "log_models": "none", "controls": "",
                    "steps-per-execution": 10},
    )
    parent = mlflow.get_run(submitted.run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["kind"] == "experiment" and parent.data.params["rounds"] == "1"
    children = mlflow.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{submitted.run_id}'",
                                  output_format="list")
    assert sorted(int(c.data.tags["round"]) for c in children) == [0, 1]
