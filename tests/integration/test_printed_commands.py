"""Every command lth-tf prints works when pasted, from another folder: run, sweep, their reports.

Real tiny runs in one folder; each printed `lth-tf ...` line is then run, as printed, in
another folder (where ./mlruns does not exist).
"""

import re
import shlex

import mlflow
import pytest

from conftest import invoke
from lth_tf.tracking import server as mlflow_server

TINY = ["--iterations", "20", "--eval-interval", "10", "--rounds", "1", "--batch-size", "30", "--no-jit-compile",
        "--steps-per-execution", "10", "--controls", "reinit", "--control-rounds", "1"]


def printed_commands(out):
    """Every `lth-tf ...` command in the output: in backticks, or closing a line after a colon."""
    quoted = re.findall(r"`(lth-tf [^`]+)`", out)
    closing = [m.group(1) for m in re.finditer(r": (lth-tf [^`\n]+)$", out, re.MULTILINE)]
    return quoted + closing


def paste(command, capsys):
    words = shlex.split(command)
    assert words[0] == "lth-tf"
    return invoke(words[1:], capsys)


@pytest.fixture
def elsewhere(tmp_path):
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def move_to(folder, monkeypatch):
    """Where commands are pasted: another folder, in a new shell (`mlflow.set_tracking_uri`, which
    the run called in this process, also set $MLFLOW_TRACKING_URI)."""
    monkeypatch.chdir(folder)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def test_a_runs_printed_commands_work_from_another_folder(store, elsewhere, capsys, monkeypatch):
    code, out, err = invoke(["run", *TINY, "--log-models", "none"], capsys)
    assert code == 0, err
    commands = printed_commands(out)
    assert sorted(c.split()[1] for c in commands) == ["report", "ui"], out
    move_to(elsewhere, monkeypatch)
    report = next(c for c in commands if c.split()[1] == "report")
    code, out, err = paste(report, capsys)
    assert code == 0, err
    (folder,) = (elsewhere / "reports").iterdir()
    assert len(list(folder.iterdir())) == 1 and "mean_std.md" in out
    served = []
    monkeypatch.setattr(mlflow_server, "supervise", lambda server, open_url: served.append(server))
    code, out, err = paste(next(c for c in commands if c.split()[1] == "ui"), capsys)
    assert code == 0, err
    assert served[0].env[mlflow_server.STORE_ENV] == f"sqlite:///{store / 'mlruns' / 'mlflow.db'}"
    assert not (elsewhere / "mlruns").exists()


def test_a_sweeps_points_report_compare_and_export_from_another_folder(store, elsewhere, capsys, monkeypatch):
    (store / "sweep.yaml").write_text("base: {iterations: 20, eval_interval: 10, rounds: 1, batch_size: 30, "
                                      "jit_compile: false, steps_per_execution: 10, controls: '', "
                                      "log_models: final}\ngrid: {fc_rate: [0.2, 0.5]}\n")
    code, out, err = invoke(["sweep", "sweep.yaml"], capsys)
    assert code == 0, err
    commands = printed_commands(out)
    assert sorted(c.split()[1] for c in commands) == ["compare", "report"], out
    points = re.search(r"point runs (\S+), (\S+)$", out, re.MULTILINE).groups()
    store_option = commands[0][commands[0].index("--tracking-uri"):]
    move_to(elsewhere, monkeypatch)
    for command in commands:
        code, out, err = paste(command, capsys)
        assert code == 0, f"{command}: {err}"
    compared = next(c for c in commands if c.split()[1] == "compare")
    table = paste(compared, capsys)[1]
    assert re.search(r"^\| fc_rate=0\.2\b[^|]* \| ticket \| 1 \|", table, re.MULTILINE), table  # what varies

    # Both points are named lottery-iterative-seed0: their reports must not overwrite each other.
    for point in points:
        code, _, err = paste(f"lth-tf report {point} {store_option}", capsys)
        assert code == 0, err
    folders = sorted(p.name for p in (elsewhere / "reports" / "sweep-sweep").iterdir())
    assert folders == sorted(f"lottery-iterative-seed0-{p}" for p in points)

    code, out, err = paste(f"lth-tf export {points[1]} --format keras --out exported {store_option}", capsys)
    assert code == 0, err
    assert (elsewhere / "exported").is_dir() and "prediction(s) differ" in out

    client = mlflow.MlflowClient(f"sqlite:///{store / 'mlruns' / 'mlflow.db'}")
    sweep_run = client.get_run(points[0]).data.tags["mlflow.parentRunId"]
    code, _, err = paste(f"lth-tf report {sweep_run} {store_option}", capsys)
    assert code == 2 and f"run {sweep_run} is a sweep; name one of its points' runs" in err
