"""The `lth-tf` command as a console script and a working run (its one-line errors and the UI:
tests/unit/test_cli.py)."""

import subprocess
import sys

import mlflow

from conftest import invoke, no_runs_recorded
from lth_tf.tracking import store as tracking


def test_console_script_reports_bad_input_without_traceback(store):
    done = subprocess.run([sys.executable, "-m", "lth_tf", "run", "--fc-rate", "-1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip() == "Error: --fc-rate must be between 0 and 1 (exclusive), got -1.0"
    assert no_runs_recorded(store)


def test_run_on_embedded_mnist_with_yaml_and_flag_override(store, capsys):
    (store / "exp.yaml").write_text("iterations: 40\neval_interval: 20\nrounds: 3\nexperiment_name: cli-test\n")
    code, out, err = invoke(["run", "--config", "exp.yaml", "--rounds", "1", "--steps-per-execution", "10",
                             "--log-models", "none"], capsys)
    assert code == 0, err
    assert "seed 0 ticket round 1 (80.0% remaining)" in out
    table = out[out.index("round    kind"):].splitlines()
    assert len([line for line in table if line.strip().startswith(("0 ", "1 "))]) == 2
    mlflow.set_tracking_uri(tracking.default_tracking_uri())
    experiment = mlflow.get_experiment_by_name("cli-test")
    runs = mlflow.search_runs([experiment.experiment_id], output_format="list")
    assert len(runs) == 3  # the parent and rounds 0 and 1: the flag beat the YAML's 3 rounds
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert parent.data.params["dataset"] == "mnist-5k" and parent.data.params["train_size"] == "3500"
    assert experiment.artifact_location.startswith((store / "mlruns" / "artifacts").as_uri())
