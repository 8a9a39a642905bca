"""Bad files and values found by trying: one true line, exit 2, and no run created."""

import numpy as np
import pytest

from conftest import invoke, no_runs_recorded


def _npz(path, train=40):
    zeros = np.zeros
    np.savez(path, x_train=zeros((train, 4, 4)), y_train=np.arange(train) % 2, x_test=zeros((6, 4, 4)),
             y_test=np.arange(6) % 2)


@pytest.mark.parametrize("case", ["binary config", "not an npz", "truncated npz", "negative seed", "batch too big"])
def test_bad_files_and_values_are_one_true_line_exit_2_and_no_run(store, capsys, case):
    (store / "binary.yaml").write_bytes(bytes(range(256)))
    _npz(store / "ok.npz")
    (store / "plain.npz").write_text("x")
    content = (store / "ok.npz").read_bytes()
    (store / "truncated.npz").write_bytes(content[: len(content) // 2])
    args, message = {
        "binary config": (["--config", "binary.yaml"], "config file binary.yaml is not a text file"),
        "not an npz": (["--dataset", "npz:plain.npz"], "plain.npz is not a .npz file"),
        "truncated npz": (["--dataset", "npz:truncated.npz"], "truncated.npz is not a .npz file"),
        "negative seed": (["--seed", "-1"], "--seed must be in 0.."),
        "batch too big": (["--dataset", "npz:ok.npz", "--validation-size", "10", "--batch-size", "60"],
                          "--batch-size 60 exceeds the 30 training examples"),
    }[case]
    code, out, err = invoke(["run", *args], capsys)
    assert code == 2, err
    assert err.startswith("Error: ") and message in err and len(err.strip().splitlines()) == 1, err
    assert "FAILED" not in err and "Traceback" not in err
    assert no_runs_recorded(store)


def test_a_crash_says_which_run_it_marked_failed_and_only_if_there_is_one(store, capsys, monkeypatch):
    import mlflow

    from lth_tf import data
    from pipelines.execution import local

    _npz(store / "ok.npz")
    args = ["run", "--dataset", "npz:ok.npz", "--validation-size", "10", "--batch-size", "10"]
    real_load = data.load
    monkeypatch.setattr(data, "load", lambda *a: (_ for _ in ()).throw(RuntimeError("disk on fire")))
    code, _, err = invoke(args, capsys)
    assert code == 1 and "disk on fire" in err and "marked" not in err and no_runs_recorded(store)

    monkeypatch.setattr(data, "load", real_load)
    monkeypatch.setattr(local, "run_trial", lambda *a: (_ for _ in ()).throw(RuntimeError("mid-run")))
    code, _, err = invoke(args, capsys)
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert code == 1 and len(runs) == 1 and runs[0].info.status == "FAILED"
    last = err.strip().splitlines()[-1]  # MLflow logs its store creation above it
    assert last.startswith("Error: RuntimeError: mid-run") and f"run {runs[0].info.run_id} is marked FAILED" in last
