"""Tickets that leave lth-tf: MLflow Models logged by a run, and `lth-tf export`."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest
import tensorflow as tf

from conftest import invoke
from lth_tf.tracking import artifacts
from lth_tf.tracking import store as tracking
from lth_tf.tfkeras import keras
from pipelines.runs import logged_models, tickets

RUN = ["run", "--dataset", "npz:tiny.npz", "--iterations", "40", "--eval-interval", "10", "--rounds", "2",
       "--batch-size", "30", "--steps-per-execution", "5", "--fc-rate", "0.8", "--validation-size", "100"]


@pytest.fixture(scope="module")
def experiment(tmp_path_factory, tiny_splits):
    """One tiny CLI run (default --log-models final) on npz data: round 2 keeps ~4% of the weights."""
    folder = tmp_path_factory.mktemp("export")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        (x, y), (xt, yt) = tiny_splits.train, tiny_splits.test
        np.savez(folder / "tiny.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
        from lth_tf import cli

        cli.main(RUN)
        tracking.open_store(None)
        parent = mlflow.search_runs(search_all_experiments=True, filter_string="tags.kind = 'experiment'",
                                    output_format="list")[0]
        children = {int(r.data.tags["round"]): r for r in mlflow.search_runs(
            [parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'", output_format="list")}
        yield folder, parent, children, (xt, yt)


def test_a_run_logs_its_dense_network_and_sparsest_ticket_as_servable_mlflow_models(experiment, capsys):
    folder, parent, children, (x_test, _) = experiment
    uris = {r: logged_models.find(parent.info.experiment_id, run.info.run_id) for r, run in children.items()}
    assert uris[1] is None and uris[0] and uris[2]
    # What the logged networks take on a device: TFLite bytes, sparse storage well below dense at ~5% kept.
    assert "summary/tflite_bytes" not in children[1].data.metrics
    sizes = {r: (children[r].data.metrics["summary/tflite_bytes"], children[r].data.metrics["summary/tflite_dense_bytes"])
             for r in (0, 2)}
    assert sizes[2][0] < 0.5 * sizes[2][1] and sizes[0][1] == sizes[2][1]

    model = mlflow.pyfunc.load_model(uris[2])
    keras_model = mlflow.tensorflow.load_model(uris[2])
    assert isinstance(keras_model, keras.Model)
    np.testing.assert_allclose(model.predict(x_test[:20]), keras_model(x_test[:20]).numpy(), atol=1e-6)
    assert model.metadata.signature.inputs.inputs[0].shape == (-1, 8, 8, 1)

    mask_file = mlflow.artifacts.download_artifacts(run_id=children[2].info.run_id,
                                                    artifact_path="masks/round_02.npz")
    meta = model.metadata.metadata
    assert meta["mask_sha256"] == hashlib.sha256(open(mask_file, "rb").read()).hexdigest()
    assert (meta["kind"], meta["round"], meta["experiment_run"]) == ("ticket", "2", parent.info.run_id)
    with np.load(mask_file) as masks:  # the logged network is the ticket: zero wherever its mask pruned
        for layer in ("fc1", "fc2"):
            kernel = keras_model.get_layer(layer).kernel.numpy()
            assert not kernel[~masks[layer]].any() and kernel[masks[layer]].all()
            assert masks[layer].mean() < 0.06


@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated")
def test_export_tflite_is_sparse_and_predicts_as_keras(experiment, capsys):
    folder, parent, children, (x_test, _) = experiment
    code, out, err = invoke(["export", parent.info.run_id, "--format", "tflite", "--out", str(folder / "lite")], capsys)
    assert code == 0, err
    assert "round 2" in out and "TFLite: dense" in out and "0 prediction(s) differ" in out
    dense, sparse = (folder / "lite" / "ticket_dense.tflite").stat().st_size, (folder / "lite" / "ticket.tflite").stat().st_size
    assert sparse < 0.5 * dense
    # the line says the input the file takes (TFLite's batch of any size, -1, as None) and what the data went through
    batch = "(None, " + ", ".join(map(str, x_test.shape[1:])) + ") float32; the data: "
    assert "  input: serving_default_" in out and batch in out, out

    keras_model = mlflow.tensorflow.load_model(logged_models.find(parent.info.experiment_id, children[2].info.run_id))
    interpreter = tf.lite.Interpreter(model_path=str(folder / "lite" / "ticket.tflite"))
    (inputs,), (outputs,) = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.resize_tensor_input(inputs["index"], x_test.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inputs["index"], x_test)
    interpreter.invoke()
    np.testing.assert_allclose(interpreter.get_tensor(outputs["index"]), keras_model(x_test).numpy(), atol=1e-5)


def test_export_saved_model_round_trips_the_test_predictions(experiment, capsys):
    folder, parent, children, (x_test, y_test) = experiment
    code, out, err = invoke(["export", children[0].info.run_id, "--format", "saved_model",
                             "--out", str(folder / "sm")], capsys)
    assert code == 0, err
    keras_model = mlflow.tensorflow.load_model(logged_models.find(parent.info.experiment_id, children[0].info.run_id))
    served = tf.saved_model.load(str(folder / "sm" / "ticket")).signatures["serving_default"]
    (logits,) = served(tf.constant(x_test)).values()
    np.testing.assert_allclose(logits.numpy(), keras_model(x_test).numpy(), atol=1e-5)
    (name, spec), = served.structured_input_signature[1].items()
    assert f"  input: {name} (None, " + ", ".join(map(str, x_test.shape[1:])) + ") float32; the data: " in out, out
    accuracy = np.mean(logits.numpy().argmax(-1) == y_test)
    assert f"exported {accuracy:.4f}" in out


def test_export_untrained_is_theta0_under_the_rounds_mask(experiment, capsys):
    folder, parent, children, _ = experiment
    code, out, err = invoke(["export", parent.info.run_id, "--round", "1", "--untrained", "--format", "keras",
                             "--out", str(folder / "k")], capsys)
    assert code == 0, err
    model = keras.models.load_model(folder / "k" / "ticket.keras")
    theta0 = artifacts.load_arrays(parent.info.run_id, "initial_weights/seed_0.npz")
    mask = artifacts.load_arrays(children[1].info.run_id, "masks/round_01.npz")["fc1"]
    np.testing.assert_array_equal(model.get_layer("fc1").kernel.numpy(), theta0["fc1/kernel"] * mask)
    np.testing.assert_array_equal(model.get_layer("fc1").bias.numpy(), theta0["fc1/bias"])


@pytest.mark.parametrize("args, message", [
    (["nope"], "is not a run id"),
    (["0a" * 16], "no run 0a0a"),
    (["PARENT", "--round", "7"], "no finished ticket at round 7; its rounds: 0, 1, 2"),
    (["PARENT", "--round", "1"], "logged no trained model (the experiment ran with --log-models final)"),
    (["CHILD0", "--round", "2"], "is the network of round 0"),
])
def test_export_refuses_bad_runs_and_rounds_in_one_line(experiment, capsys, args, message):
    folder, parent, children, _ = experiment
    ids = {"PARENT": parent.info.run_id, "CHILD0": children[0].info.run_id}
    args = [ids.get(a, a) for a in args]
    code, out, err = invoke(["export", *args, "--format", "keras", "--out", str(folder / "bad")], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


TENSORFLOW_FIRST = '''
import tensorflow as tf  # before lth_tf, as many scripts do: tensorflow.keras is Keras 3 in this process
import numpy as np
import tf_keras as keras
import lth_tf
from lth_tf.cli.app import main
from tensorflow.keras.models import Model  # what MLflow's TensorFlow flavor takes for Keras

assert Model is not keras.Model
rng = np.random.default_rng(0)
x = rng.random((400, 8, 8, 1), dtype=np.float32)
y = (x[:, :4].mean(axis=(1, 2, 3)) > x[:, 4:].mean(axis=(1, 2, 3))).astype("int64")
model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(2)])
result = lth_tf.find_tickets(model, (x[:300], y[:300]), (x[300:], y[300:]), rounds=1, iterations=20,
                             eval_interval=10, validation_size=50, echo=None, jit_compile=False)
main(["export", result.run_id, "--format", "keras", "--out", "out"])
'''


def test_tickets_logged_after_tensorflow_was_imported_first_export(tmp_path):
    """Before, they were logged as bare SavedModels: 'logged as a bare TensorFlow SavedModel ... import lth_tf first'."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "TF_USE_LEGACY_KERAS")}
    done = subprocess.run([sys.executable, "-c", TENSORFLOW_FIRST], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Exported ticket round 1" in done.stdout
    assert isinstance(keras.models.load_model(tmp_path / "out" / "ticket.keras"), keras.Model)


FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not FASHION.is_dir(), reason="needs Debian's dataset-fashion-mnist")
def test_readmes_bring_your_own_model_example_runs_offline_and_its_ticket_exports(store, capsys):
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index("## Bring your own model"):]
    code = section[section.index("```python\n") + len("```python\n"):section.index("```\n", 10)]
    assert "load_data()" not in code and code.index("import lth_tf") < code.index("import tensorflow")
    budget = "rounds=5, iterations=2000"
    assert budget in code
    code = code.replace(budget, "rounds=5, iterations=10, eval_interval=10, controls=\"\", jit_compile=False, echo=None")
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - the README's own example
    result = scope["result"]
    hidden, output = result.masks[5].values()  # 0.8^5 and 0.9^5 of the weights: fc and output rates
    assert len(result.rounds) == 6 and 0.3 < hidden.mean() < 0.35 and 0.55 < output.mean() < 0.6
    out = capsys.readouterr().out
    assert result.run_id in out
    code, out, err = invoke(["export", result.run_id, "--format", "keras", "--out", str(store / "t")], capsys)
    assert code == 0 and "round 5" in out, err


def _npz(store, splits):
    (x, y), (xt, yt) = splits.train, splits.test
    np.savez(store / "tiny.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
    return ["--dataset", "npz:tiny.npz", "--validation-size", "100", "--iterations", "40", "--eval-interval", "10",
            "--batch-size", "30", "--steps-per-execution", "5", "--no-jit-compile"]


def test_export_untrained_is_where_each_network_started(store, tiny_splits, starts, capsys):
    """θk for a --reset-to k ticket (before: θ0), each control's own start, one-line refusal for fine_tune."""
    code, out, err = invoke(["run", *_npz(store, tiny_splits), "--model", "conftest:small_model", "--rounds", "2",
                             "--reset-to", "10", "--controls", "reinit,random_prune,noise,rewind,prune_at_init,fine_tune",
                             "--control-rounds", "2", "--rewind-to", "20", "--fine-tune-iterations", "10"], capsys)
    assert code == 0, err  # --log-models final: the architecture comes from a logged model
    parent = mlflow.search_runs(search_all_experiments=True, filter_string="tags.kind = 'experiment'",
                                output_format="list")[0]
    code, out, err = invoke(["export", parent.info.run_id, "--round", "1", "--untrained", "--format", "keras",
                             "--out", str(store / "t1")], capsys)
    assert code == 0, err
    exported = keras.models.load_model(store / "t1" / "ticket.keras").get_weights()
    for got, expected in zip(exported, starts[("ticket", "1")][0], strict=True):
        np.testing.assert_array_equal(got, expected)  # θ10 under round 1's mask
    assert "untrained (at θ10)" in out

    client, checked = mlflow.tracking.MlflowClient(), set()
    for child in mlflow.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
                                    output_format="list"):
        network = tickets.locate(client, child.info.run_id)
        key = (network.row.kind, str(network.row.round))
        if network.row.kind == "fine_tune":
            code, out, err = invoke(["export", child.info.run_id, "--untrained", "--format", "keras",
                                     "--out", str(store / "f")], capsys)
            assert code == 2 and "has no untrained state: it starts from the trained weights" in err, err
            continue
        exported = tickets.untrained_model(network, tiny_splits).get_weights()
        for got, expected in zip(exported, starts[key][0], strict=True):
            np.testing.assert_array_equal(got, expected, err_msg=network.label)
        checked.add(key)
    controls = ("reinit", "random_prune", "noise", "rewind", "prune_at_init")
    assert checked == {("ticket", "0"), ("ticket", "1"), ("ticket", "2"), *((k, "2") for k in controls)}


def test_export_untrained_of_a_nested_model_gives_each_layer_its_own_theta0(store, tiny_config, tiny_splits, capsys):
    """encoder/fc and the top-level fc share a variable name; θ0 goes by layer path (before: both got fc's)."""
    code, out, err = invoke(["run", *_npz(store, tiny_splits), "--model", "conftest:nested_model", "--rounds", "1"],
                            capsys)
    assert code == 0, err
    parent = mlflow.search_runs(search_all_experiments=True, filter_string="tags.kind = 'experiment'",
                                output_format="list")[0]
    code, out, err = invoke(["export", parent.info.run_id, "--untrained", "--format", "keras",
                             "--out", str(store / "k")], capsys)
    assert code == 0, err
    model = keras.models.load_model(store / "k" / "ticket.keras")
    theta0 = artifacts.load_arrays(parent.info.run_id, "initial_weights/seed_0.npz")
    child = mlflow.search_runs([parent.info.experiment_id], "tags.round = '1'", output_format="list")[0]
    masks = artifacts.load_arrays(child.info.run_id, "masks/round_01.npz")
    inner = model.get_layer("encoder").get_layer("fc").kernel.numpy()
    np.testing.assert_array_equal(inner, theta0["encoder/fc/kernel"] * masks["encoder/fc"])
    np.testing.assert_array_equal(model.get_layer("fc").kernel.numpy(), theta0["fc/kernel"] * masks["fc"])
