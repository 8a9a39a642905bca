"""Many runs, one store: `lth-tf run` processes started at once on a fresh SQLite store all succeed."""

import os
import subprocess
import sys

import numpy as np
from mlflow.tracking import MlflowClient

from lth_tf.tracking import artifacts, store as tracking


def _tiny_npz(path):
    rng = np.random.default_rng(0)
    x = rng.random((260, 6, 6), dtype=np.float32)
    y = (x[:, :3].mean(axis=(1, 2)) > x[:, 3:].mean(axis=(1, 2))).astype("int64")
    np.savez(path, x_train=x[:200], y_train=y[:200], x_val=x[200:230], y_val=y[200:230],
             x_test=x[230:], y_test=y[230:])


def test_four_runs_started_at_once_on_a_fresh_sqlite_store_all_succeed(tmp_path):
    _tiny_npz(tmp_path / "tiny.npz")
    uri = f"sqlite:///{tmp_path / 'fresh' / 'mlflow.db'}"  # the folder does not exist either
    env = {**os.environ, "MLFLOW_TRACKING_URI": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    seeds = [0, 0, 1, 1]  # two pairs: equal seeds must give bitwise-equal masks and metrics
    processes = [
        subprocess.Popen([sys.executable, "-m", "lth_tf", "run", "--dataset", "npz:tiny.npz", "--tracking-uri", uri,
                          "--experiment-name", "shared", "--seed", str(seed), "--iterations", "10",
                          "--eval-interval", "10", "--steps-per-execution", "10", "--rounds", "1",
                          "--batch-size", "50", "--no-jit-compile"],
                         cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for seed in seeds
    ]
    outcomes = [(p.wait(timeout=900), p.stderr.read()) for p in processes]
    assert [code for code, _ in outcomes] == [0, 0, 0, 0], [err[-500:] for _, err in outcomes]

    client = MlflowClient(uri)
    experiments = [e for e in client.search_experiments() if e.name == "shared"]
    assert len(experiments) == 1  # created once, not raced
    runs = client.search_runs([experiments[0].experiment_id], max_results=100)
    parents = [r for r in runs if r.data.tags.get("kind") == "experiment"]
    assert len(parents) == 4 and len(runs) == 4 * 3
    assert all(r.info.status == "FINISHED" for r in runs)
    tracking.open_store(uri)
    by_seed = {}
    for run in runs:
        if run.data.tags.get("round") == "1":
            mask = artifacts.load_arrays(run.info.run_id, "masks/round_01.npz")
            by_seed.setdefault(run.data.tags["seed"], []).append((mask, run.data.metrics["summary/early_stop_val_loss"]))
    for seed, ((mask_a, loss_a), (mask_b, loss_b)) in by_seed.items():
        assert loss_a == loss_b, seed
        for key in mask_a:
            np.testing.assert_array_equal(mask_a[key], mask_b[key])
