"""The MLproject file: its parameters are lth-tf settings, and `mlflow run .` runs an experiment."""

import os
import sys
from pathlib import Path

import mlflow
import numpy as np
import yaml

from lth_tf import config

ROOT = Path(__file__).resolve().parents[2]
NUMBERS = ("int", "float")


def entry_point():
    return yaml.safe_load((ROOT / "MLproject").read_text())["entry_points"]["main"]


def test_parameters_are_settings_with_their_defaults_and_types():
    main, settings = entry_point(), config.settings()
    for name, spec in main["parameters"].items():
        field = settings[name]
        default = field.default
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        assert str(spec["default"]) == str(shown) or float(spec["default"]) == shown, name
        assert spec["type"] == ("float" if any(t in str(field.type) for t in NUMBERS) and "Tuple" not in str(field.type)
                                else "string"), name
        assert f"--{name.replace('_', '-')} {{{name}}}" in main["command"], name


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
