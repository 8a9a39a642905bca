"""Reports: a real tiny run logs its report under the parent run (synthetic stores:
tests/unit/test_report.py)."""

import csv

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from pipelines.reporting import report


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------- end to end
def test_log_report_of_a_real_tiny_run_lands_under_report(store, tiny_config, tiny_splits):
    from .test_pipeline_mlflow import run_tiny

    result = run_tiny(tiny_config, tiny_splits)
    logged = report.log_report(result.run_id)
    client = MlflowClient()
    artifacts = {a.path for a in client.list_artifacts(result.run_id, "report")}
    assert set(logged) == artifacts
    assert {"report/accuracy_vs_remaining.png", "report/early_stop_vs_remaining.png",
            "report/accuracy_over_iterations.png", "report/train_vs_test.png", "report/paired_difference.png",
            "report/accuracy_vs_flops.png", "report/verdict.csv", "report/verdict.md",
            "report/mean_std.csv", "report/mean_std.md"} == artifacts
    png = mlflow.artifacts.download_artifacts(run_id=result.run_id, artifact_path="report/accuracy_vs_remaining.png")
    assert open(png, "rb").read(8) == PNG_MAGIC
    table = mlflow.artifacts.download_artifacts(run_id=result.run_id, artifact_path="report/mean_std.csv")
    rows = list(csv.DictReader(open(table)))
    assert [int(r["round"]) for r in rows] == [0, 1, 2]
    for row, summary in zip(rows, result.rounds):
        assert row["n"] == "1" and float(row["early_stop_test_accuracy_std"]) == 0
        assert float(row["early_stop_test_accuracy_mean"]) == pytest.approx(summary.early_stop_test_accuracy)
        assert float(row["early_stop_iteration_mean"]) == summary.early_stop_iteration
        assert float(row["remaining_percent"]) == pytest.approx(100 * summary.remaining_fraction)
