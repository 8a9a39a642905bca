"""--robustness: test accuracy under FGSM and Gaussian noise, per network, as summary metrics."""

import mlflow
import numpy as np
import pytest
import tensorflow as tf

from conftest import small_model
from lth_tf import masking, robustness, tracking, training
from lth_tf.config import build_config
from lth_tf.errors import UserError
from lth_tf.tfkeras import keras
from pipelines.child_runs import ChildRuns


@pytest.fixture(scope="module")
def trained(tiny_splits):
    keras.utils.set_random_seed(0)
    model = masking.mask_model(small_model())
    hparams = build_config({"iterations": 100, "eval_interval": 50, "batch_size": 30, "learning_rate": 0.01}).training
    training.train_round(model, tiny_splits, hparams, seed=0)
    return model


def test_fgsm_never_beats_clean_accuracy_and_grows_with_eps(trained, tiny_splits):
    test = tiny_splits.test
    clean = robustness.clean_accuracy(trained, test)
    assert clean > 0.5  # learned something, so an attack has something to break
    scores = robustness.evaluate(trained, test, ["fgsm:0", "fgsm:0.05", "fgsm:0.3", "noise:0", "noise:0.3"], seed=0)
    assert scores["fgsm_0_test_accuracy"] == pytest.approx(clean)
    assert scores["noise_0_test_accuracy"] == pytest.approx(clean)
    assert scores["fgsm_0.3_test_accuracy"] <= scores["fgsm_0.05_test_accuracy"] <= clean
    assert scores["fgsm_0.3_test_accuracy"] < clean - 0.1
    assert scores["noise_0.3_test_accuracy"] != scores["fgsm_0.3_test_accuracy"]


def test_fgsm_moves_every_input_by_eps_in_the_gradients_sign(trained, tiny_splits):
    x, y = (tf.constant(a) for a in tiny_splits.test)
    moved = robustness.fgsm_batch(trained, x, y, 0.1).numpy()
    np.testing.assert_allclose(np.abs(moved - x.numpy())[np.abs(moved - x.numpy()) > 0], 0.1, rtol=1e-5)


@pytest.mark.parametrize("spec", ["fgsm", "fgsm:x", "blur:1", "noise:-1"])
def test_bad_specs_are_one_line_errors(spec):
    with pytest.raises(UserError, match="--robustness: expected fgsm:EPS or noise:SIGMA"):
        robustness.parse([spec])


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
    from pipelines.report import write_report

    client = mlflow.tracking.MlflowClient()
    made = write_report(results.resolve(client, parent.info.run_id), store / "report", client=client)
    assert {"robustness_fgsm_0.2.png", "robustness_noise_0.5.png"} <= {p.name for p in made.files}
