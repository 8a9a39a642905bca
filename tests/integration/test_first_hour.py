"""A newcomer's first hour (issue 23): mistakes said before training in one true line, and a Keras 3 model in and out.

Each mistake goes through the CLI as a user makes it (their own builder module, their own
npz file, in a fresh folder): one line, exit 2, and no run in the store.
"""

import sys
import textwrap

import mlflow
import numpy as np
import pytest

from conftest import invoke, no_runs_recorded
from lth_tf.data.splits import Splits
from lth_tf.errors import UserError
from lth_tf.settings import build_config

BUILDERS = '''
from lth_tf.tfkeras import keras


def _net(input_shape, units, last=None):
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(16, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(units, activation=last)(x))


def for_cifar(input_shape, num_classes):
    return _net((32, 32, 3), num_classes)


def five_outputs(input_shape, num_classes):
    return _net(input_shape, 5)


def ends_in_softmax(input_shape, num_classes):
    return _net(input_shape, num_classes, last="softmax")


def a_feature_map(input_shape, num_classes):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, keras.layers.Conv2D(num_classes, 3)(inputs))


def keras3_five_outputs(input_shape, num_classes):
    import keras as keras3

    return keras3.Sequential([keras3.Input(input_shape), keras3.layers.Flatten(), keras3.layers.Dense(5)])
'''

KERAS3_BUILDER = '''
import keras


def build(input_shape, num_classes):
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dense(24, activation="relu", name="fc")(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, name="output")(x), name="k3net")
'''

TINY = ["--iterations", "20", "--eval-interval", "10", "--batch-size", "20", "--steps-per-execution", "5",
        "--validation-size", "40"]


def _npz(path, classes=10, n=120, shape=(8, 8)):
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.random((n, *shape)).astype("float32"), y_train=np.arange(n) % classes,
             x_test=rng.random((40, *shape)).astype("float32"), y_test=np.arange(40) % classes)


def _module(store, name, text):
    (store / f"{name}.py").write_text(textwrap.dedent(text))
    sys.modules.pop(name, None)  # each test's own file, not one an earlier test imported


def _one_line_exit_2_no_run(code, err, store, *wanted):
    assert code == 2, err
    assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1, err
    for text in wanted:
        assert text in err, err
    assert "Traceback" not in err and "FAILED" not in err
    assert no_runs_recorded(store)


@pytest.mark.parametrize("builder, wanted", [
    ("for_cifar", ["takes inputs of shape (32, 32, 3), but the data", "has examples of shape (8, 8, 1)"]),
    ("five_outputs", ["has 5 output units, but the data", "has 10 classes", "build its last layer with 10 units"]),
    ("ends_in_softmax", ["ends in a softmax", "end the model with the logits"]),
    ("a_feature_map", ["outputs shape (6, 6, 10) per example", "needs one vector of 10 class logits"]),
    ("keras3_five_outputs", ["has 5 output units", "has 10 classes"]),
])
@pytest.mark.parametrize("command", ["run", "supermask"])
def test_a_model_that_does_not_fit_its_data_is_one_true_line_before_any_run(store, capsys, builder, wanted, command):
    _npz(store / "digits.npz")
    _module(store, "user_models", BUILDERS)
    code, _, err = invoke([command, "--model", f"user_models:{builder}", "--dataset", "npz:digits.npz", *TINY],
                          capsys)
    _one_line_exit_2_no_run(code, err, store, *wanted)


def test_labels_outside_the_classes_are_one_true_line_before_any_run(store, tiny_splits):
    from conftest import small_model
    from pipelines.experiments import lottery

    (x, y), test = tiny_splits.train, tiny_splits.test
    splits = Splits("tiny", (x, np.where(y == 3, 11, y)), tiny_splits.validation, test, num_classes=4)
    cfg = build_config({"iterations": 20, "eval_interval": 10, "rounds": 1, "batch_size": 20})
    with pytest.raises(UserError, match=r"train label\(s\) outside the 4 classes 0..3 \(e.g. 11\)"):
        lottery.run(cfg, splits=splits, model=lambda: small_model(), echo=lambda _: None)
    assert no_runs_recorded(store)


def test_an_unknown_yaml_key_names_the_close_one(store, capsys):
    (store / "settings.yaml").write_text("fc_rates: 0.3\n")
    code, _, err = invoke(["run", "--config", "settings.yaml"], capsys)
    _one_line_exit_2_no_run(code, err, store, "unknown setting 'fc_rates' (did you mean 'fc_rate'?)")
    with pytest.raises(UserError, match=r"^unknown setting 'roundz' \(did you mean 'rounds'\?\)$"):
        build_config({"roundz": 3})
    with pytest.raises(UserError, match="; known: "):  # nothing close: the list
        build_config({"zzzz": 3})


@pytest.mark.parametrize("flag, wanted", [
    ("--fc_rate", "No such option '--fc_rate' (did you mean '--fc-rate'?)"),
    ("--fc-rates", "No such option '--fc-rates' (did you mean '--fc-rate'?)"),
    ("--round", "No such option '--round' (did you mean '--rounds'?)"),
])
def test_an_unknown_flag_names_the_close_one(store, capsys, flag, wanted):
    code, _, err = invoke(["run", flag, "0.3"], capsys)
    _one_line_exit_2_no_run(code, err, store, wanted)


def _keras3_predictions(path, x):
    import keras as keras3

    return np.asarray(keras3.saving.load_model(path, compile=False)(x, training=False))


def test_a_keras3_model_runs_through_the_cli_and_its_ticket_comes_back_as_keras3(store, capsys):
    import keras as keras3

    from lth_tf.tfkeras import keras

    _npz(store / "digits.npz", classes=4)
    _module(store, "k3models", KERAS3_BUILDER)
    code, out, err = invoke(["run", "--model", "k3models:build", "--dataset", "npz:digits.npz", "--rounds", "1",
                             "--fc-rate", "0.5", "--controls", "", *TINY], capsys)
    assert code == 0, err
    # what was done to the data, said where a user looks: the run's header, its description, the export
    said = "(8, 8, 1) per example (npz images of shape (8, 8) given a channel axis)"
    assert f"\ninput: {said}\n" in out, out
    mlflow.set_tracking_uri(f"sqlite:///{store / 'mlruns' / 'mlflow.db'}")
    (parent,) = mlflow.search_runs(search_all_experiments=True, filter_string="tags.kind = 'experiment'",
                                   output_format="list")
    assert f"- Input: {said}." in parent.data.tags["mlflow.note.content"]
    code, out, err = invoke(["export", parent.info.run_id, "--format", "keras3", "--out", "k3"], capsys)
    assert code == 0 and "max logit difference" in out and "0 prediction(s) differ" in out, out + err
    assert "  input: " in out and f" (None, 8, 8, 1) float32; the data: {said}\n" in out, out  # Keras 3 names the input
    code, out, err = invoke(["export", parent.info.run_id, "--format", "keras", "--out", "k2"], capsys)
    assert code == 0, err

    x = np.load(store / "digits.npz")["x_test"][..., None]
    ticket = keras.models.load_model(store / "k2" / "ticket.keras", compile=False)
    loaded = keras3.saving.load_model(store / "k3" / "ticket.keras", compile=False)
    assert isinstance(loaded, keras3.Model) and not isinstance(loaded, keras.Model)
    np.testing.assert_allclose(np.asarray(loaded(x)), ticket(x).numpy(), atol=1e-5)
    for name in ("conv", "fc", "output"):  # the zeros in place: where the ticket pruned, and only there
        kernel3 = np.asarray(loaded.get_layer(name).kernel)
        np.testing.assert_array_equal(kernel3 == 0, ticket.get_layer(name).kernel.numpy() == 0)
    assert np.mean(np.asarray(loaded.get_layer("fc").kernel) == 0) == pytest.approx(0.5, abs=0.01)


def test_find_tickets_takes_a_keras3_model_leaves_it_untouched_and_its_ticket_comes_back_as_keras3(
        store, capsys, tiny_splits, monkeypatch):
    import keras as keras3

    import lth_tf
    from lth_tf.tfkeras import keras

    _module(store, "k3models", KERAS3_BUILDER)
    monkeypatch.syspath_prepend(str(store))
    import k3models

    model = k3models.build((8, 8, 1), 4)
    before = [np.array(w) for w in model.get_weights()]
    result = lth_tf.find_tickets(model, tiny_splits.train, tiny_splits.test, rounds=1, controls="", iterations=20,
                                 eval_interval=10, batch_size=20, validation_size=100, fc_rate=0.2, echo=None)
    assert len(result.masks) == 2 and np.mean(result.masks[1]["fc"]) == pytest.approx(0.8, abs=0.01)
    for old, new in zip(before, model.get_weights()):  # the rebuilt tf_keras copy trained, not the user's model
        np.testing.assert_array_equal(old, np.asarray(new))

    # The ticket back as Keras 3: the same predictions as the tf_keras ticket, zeros where it pruned.
    for fmt in ("keras", "keras3"):
        code, out, err = invoke(["export", result.run_id, "--format", fmt, "--out", fmt], capsys)
        assert code == 0, err
    x = tiny_splits.test[0][:50]
    ticket = keras.models.load_model(store / "keras" / "ticket.keras", compile=False)
    loaded = keras3.saving.load_model(store / "keras3" / "ticket.keras", compile=False)
    np.testing.assert_allclose(np.asarray(loaded(x)), ticket(x).numpy(), atol=1e-5)
    np.testing.assert_array_equal(np.asarray(loaded.get_layer("fc").kernel) != 0, result.masks[1]["fc"])


def test_tfmot_loads_without_keras3_and_keras3_still_imports_after():
    """tfmot's probe of Keras 2's private module no longer loads all of Keras 3 at every start (~a quarter of it)."""
    import subprocess

    code = ("import sys\nfrom lth_tf.tfkeras import keras\n"
            "from tensorflow_model_optimization.python.core.sparsity.keras import prune_registry\n"
            "print('keras' in sys.modules, prune_registry.base_layer, len(prune_registry.PruneRegistry._LAYERS_WEIGHTS_MAP))\n"
            "import keras as keras3\nprint(keras3.__version__.split('.')[0], keras3.layers.Dense(2).__module__)\n")
    lines = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    hidden, base_layer, layers = lines[0].split()
    assert hidden == "False" and base_layer == "None" and int(layers) > 20
    assert lines[1].startswith("3 keras.")


def test_run_help_shows_the_decisions_first_names_every_data_form_and_gives_examples(capsys):
    code, out, _ = invoke(["run", "--help"], capsys)
    assert code == 0
    titles = [line[:-1] for line in out.splitlines() if line.endswith(":") and not line.startswith(" ")]
    assert titles == ["Start from", "What to prune", "Controls", "Model and data", "Training", "Trials and tracking",
                      "Resuming", "Robustness", "Speed", "Other options"], titles
    listing = out[out.index("Start from:"):]
    assert listing.index("--preset") < listing.index("--rounds") < listing.index("--controls") \
        < listing.index("--iterations") < listing.index("--workers")
    assert "Examples:" in out and "lth-tf run --model mymodels:build --dataset npz:digits.npz" in out
    for command in ("run", "supermask", "transfer"):
        code, out, _ = invoke([command, "--help"], capsys)
        assert code == 0 and all(form in out for form in ("mnist-5k", "npz:FILE", "idx:DIR", "tfds:NAME")), command


def test_ui_takes_tracking_uri_as_every_command_and_the_old_spelling_hidden(store, capsys):
    code, out, _ = invoke(["ui", "--help"], capsys)
    assert code == 0 and "--tracking-uri" in out and "--backend-store-uri" not in out
    for flag in ("--tracking-uri", "--backend-store-uri"):  # both parse; the host is refused after
        code, _, err = invoke(["ui", "--host", "0.0.0.0", flag, "sqlite:///x.db"], capsys)
        assert code == 2 and "lth-tf ui serves this machine only" in err, err


def test_the_python_api_names_its_arguments_not_the_cli_flags(store, tiny_splits):
    import lth_tf
    from conftest import small_model

    with pytest.raises(UserError) as error:
        lth_tf.find_tickets(small_model(), tiny_splits.train, tiny_splits.test, seed=-1, echo=None)
    assert str(error.value).startswith("seed must be in 0..") and "--" not in str(error.value), error.value
    said = []
    lth_tf.find_tickets(small_model(), tiny_splits.train, tiny_splits.test, rounds=1, control_rounds="3",
                        iterations=20, eval_interval=10, batch_size=20, validation_size=100, log_models="none",
                        echo=said.append)
    note = next(line for line in said if line.startswith("note: no control runs"))
    assert "control_rounds 3 are all past rounds 1" in note and "--" not in note, note


def test_the_mean_std_csv_holds_no_float_noise():
    from lth_tf.reports import tables
    from lth_tf.reports.aggregate import Level

    mean = float(np.mean([0.1, 0.2]))  # 0.15000000000000002
    level = Level("ticket", 1, 0.07, 2, {"early_stop_test_accuracy": mean}, {"early_stop_test_accuracy": 0.0})
    row = tables.summary_csv([level], ["early_stop_test_accuracy"]).splitlines()[1]
    assert row == "ticket,1,7,2,0.15,0", row  # 100 * 0.07 is 7.000000000000001
