"""--robustness: each network logs its robustness beside its summary metrics (the attacks:
tests/unit/test_robustness.py)."""

import mlflow
import pytest

from lth_tf import masking
from lth_tf.tracking import store as tracking
from pipelines.runs.network_run import ChildRuns


def test_each_network_logs_its_robustness_beside_its_summary(store, tiny_config, tiny_splits, trained):
    tiny_config.robustness.robustness = ("fgsm:0.2", "noise:0.5")
    experiment = tracking.open_experiment(None, "robust")
    with tracking.run_scope(experiment_id=experiment, tags={"kind": "experiment"}) as parent:
        runs = ChildRuns(tiny_config, tiny_splits, parent.info.run_id, echo=lambda _: None)
        summary, _ = runs.train(trained, "ticket", 0, 0, 0, masking.get_masks(trained), [])
    child = next(r for r in mlflow.search_runs([experiment], output_format="list") if r.info.run_id != parent.info.run_id)
    metrics = child.data.metrics
    assert metrics["summary/fgsm_0.2_test_accuracy"] == pytest.approx(summary.robustness["fgsm_0.2_test_accuracy"])
    assert metrics["summary/fgsm_0.2_test_accuracy"] <= metrics["summary/final_test_accuracy"]
    assert "summary/noise_0.5_test_accuracy" in metrics
    parent_metrics = mlflow.get_run(parent.info.run_id).data.metrics
    assert parent_metrics["rounds/ticket/fgsm_0.2_test_accuracy"] == metrics["summary/fgsm_0.2_test_accuracy"]
    from lth_tf.reports import results
    from pipelines.reporting.report import write_report

    client = mlflow.tracking.MlflowClient()
    made = write_report(results.resolve(client, parent.info.run_id), store / "report", client=client)
    assert {"robustness_fgsm_0.2.png", "robustness_noise_0.5.png"} <= {p.name for p in made.files}
