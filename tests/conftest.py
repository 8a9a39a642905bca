"""Shared fixtures: tiny data, tiny models, and a throwaway MLflow store per test.

Every test lives in one of two tiers, its folder: tests/unit (`make test-fast`: no MLflow
server, no Ray, no subprocess, no training beyond a few tiny steps; under 2 minutes) and
tests/integration (the rest). `make test` runs both. Each test is marked with its tier.
"""

from pathlib import Path

import mlflow
import numpy as np
import pytest

from lth_tf import masking
from lth_tf.tracking import store as tracking
from lth_tf.training import loop as training, weights
from lth_tf.settings import build_config
from lth_tf.data.splits import Splits
from lth_tf.tfkeras import keras
import pipelines  # noqa: F401  (registers the controls: their settings and checks, as the CLI and API do)

TIERS = ("unit", "integration")


def pytest_collection_modifyitems(config, items):
    """Marks each test with its tier (`-m unit` works too); a test outside both tiers is refused."""
    root = Path(__file__).parent
    for item in items:
        tier = item.path.relative_to(root).parts[0] if item.path.is_relative_to(root) else None
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: a test belongs in tests/unit or tests/integration")
        item.add_marker(tier)


@pytest.fixture(autouse=True)
def fresh_process_state(monkeypatch):
    """Each test starts as one `lth-tf` process would: no run ended unfinished before it (the CLI's
    crash line names the last one, so a run an earlier test interrupted would be named instead)."""
    monkeypatch.setattr(tracking, "ended_unfinished", [])


@pytest.fixture
def store(tmp_path, monkeypatch):
    """Runs the test in its own working directory, so the default ./mlruns store is fresh."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield tmp_path
    while mlflow.active_run():
        mlflow.end_run()


@pytest.fixture(scope="session")
def tiny_splits():
    """Random 8x8 'images' of 4 classes whose label depends on the pixels (learnable)."""
    rng = np.random.default_rng(0)

    def make(n):
        x = rng.random((n, 8, 8, 1), dtype=np.float32)
        y = (x[:, :4, :, 0].mean(axis=(1, 2)) > x[:, 4:, :, 0].mean(axis=(1, 2))).astype("int64")
        y = y * 2 + (x[:, :, :4, 0].mean(axis=(1, 2)) > 0.5)
        return x, y.astype("int64")

    return Splits("tiny", make(600), make(120), make(120), num_classes=4)


def invoke(args, capsys):
    """Runs the `lth-tf` console entry point in-process; (exit code, stdout, stderr)."""
    from lth_tf import cli

    try:
        cli.main(args)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def no_runs_recorded(store) -> bool:
    """Whether the default store under `store` holds no run (a store never created holds none)."""
    db = store / "mlruns" / "mlflow.db"
    if not db.exists():
        return True
    mlflow.set_tracking_uri(tracking.default_tracking_uri())
    return mlflow.search_runs(search_all_experiments=True, output_format="list") == []


def small_model(input_shape=(8, 8, 1), classes=4, name="small"):
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(32, activation="relu", name="fc1", kernel_initializer="glorot_normal")(x)
    x = keras.layers.Dense(16, activation="relu", name="fc2", kernel_initializer="glorot_normal")(x)
    outputs = keras.layers.Dense(classes, name="output", kernel_initializer="glorot_normal")(x)
    return keras.Model(inputs, outputs, name=name)


@pytest.fixture
def tiny_config():
    """Settings for a run that takes seconds: few iterations, few rounds, no MLflow Models logged."""
    return build_config({"iterations": 40, "eval_interval": 10, "rounds": 2, "batch_size": 30,
                         "steps_per_execution": 5, "log_models": "none"})


def nested_model(input_shape=(8, 8, 1), classes=4):
    """A sub-model `encoder` holding an `fc`, and a top-level `fc` of the same shape: variable names clash."""
    inner_input = keras.Input((16,))
    encoder = keras.Model(inner_input, keras.layers.Dense(16, activation="relu", name="fc")(inner_input),
                          name="encoder")
    inputs = keras.Input(input_shape)
    x = keras.layers.Dense(16, activation="relu", name="pre")(keras.layers.Flatten()(inputs))
    x = keras.layers.Dense(16, activation="relu", name="fc")(encoder(x))
    return keras.Model(inputs, keras.layers.Dense(classes, name="output")(x))


def _branch(name):
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    return keras.Model(inputs, keras.layers.Dense(6, name="fc", kernel_initializer="glorot_normal")(x), name=name)


def two_branches():
    """Two sub-models that each hold a layer named `fc` (and a top-level `fc` too)."""
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Concatenate()([_branch("left")(inputs), _branch("right")(inputs)])
    x = keras.layers.Dense(5, name="fc")(x)
    return keras.Model(inputs, keras.layers.Dense(4, name="output")(x))


@pytest.fixture(scope="module")
def trained(tiny_splits):
    """A masked `small_model` trained 100 iterations on `tiny_splits` (seed 0), once per test module."""
    keras.utils.set_random_seed(0)
    model = masking.mask_model(small_model())
    hparams = build_config({"iterations": 100, "eval_interval": 50, "batch_size": 30, "learning_rate": 0.01}).training
    training.train_round(model, tiny_splits, hparams, seed=0)
    return model


@pytest.fixture
def starts(monkeypatch):
    """{(kind, round): (the weights each network's training starts from, its run's tags)}, as it trains."""
    from pipelines.runs import network_run as child_runs

    seen = {}

    class Watch(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            tags = mlflow.active_run().data.tags
            seen[(tags["kind"], tags["round"])] = (weights.take(self.model), tags)

    real = child_runs.train_round
    monkeypatch.setattr(child_runs, "train_round",
                        lambda model, splits, hp, seed, callbacks, *rest: real(model, splits, hp, seed,
                                                                               [*callbacks, Watch()], *rest))
    return seen
