"""Bring your own model: `lth_tf.find_tickets` with a user's Keras model and tf.data, tracked in MLflow."""

import mlflow
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_model_optimization.sparsity.keras import PrunableLayer

import lth_tf
from lth_tf.tracking import artifacts
from lth_tf.pruning import counts as pruning
from lth_tf.errors import UserError
from lth_tf.tfkeras import keras

FAST = dict(iterations=20, eval_interval=10, rounds=2, batch_size=20, steps_per_execution=5, log_models="none",
            echo=None)


def _arrays(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 6, 6, 1), dtype=np.float32)
    return x, (x[:, :3].mean(axis=(1, 2, 3)) > x[:, 3:].mean(axis=(1, 2, 3))).astype("int64")


class Scale(keras.layers.Layer, PrunableLayer):
    """A custom layer that opts in to pruning through tfmot's PrunableLayer."""

    def build(self, input_shape):
        self.kernel = self.add_weight("kernel", shape=(input_shape[-1], 8), initializer="glorot_normal")

    def call(self, x):
        return tf.nn.relu(x @ self.kernel)

    def get_prunable_weights(self):
        return [self.kernel]


def users_model():
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Flatten()(inputs)
    x = Scale(name="custom")(x)
    return keras.Model(inputs, keras.layers.Dense(2, name="logits")(x), name="users_net")


def test_user_model_and_tf_data_land_in_mlflow_like_a_cli_run(store):
    train = tf.data.Dataset.from_tensor_slices(_arrays(200, 0)).batch(32)  # batched
    validation = tf.data.Dataset.from_tensor_slices(_arrays(40, 1))  # unbatched
    test = _arrays(40, 2)  # plain arrays
    keras.utils.set_random_seed(7)
    model = users_model()
    theta0 = model.get_layer("custom").kernel.numpy().copy()

    result = lth_tf.find_tickets(model, train, test, validation, fc_rate=0.5, **FAST)

    assert [r.round for r in result.rounds] == [0, 1, 2] and len(result.masks) == 3
    assert set(result.masks[2]) == {"custom", "logits"}
    assert result.masks[2]["custom"].sum() == pruning.surviving_count(36 * 8, 0.5, 2)
    assert result.masks[2]["logits"].sum() == pruning.surviving_count(8 * 2, 0.25, 2)
    runs = mlflow.search_runs([result.experiment_id], output_format="list")
    parent = next(r for r in runs if r.info.run_id == result.run_id)
    assert len(runs) == 4 and parent.info.status == "FINISHED"
    assert parent.data.params["model"] == "python:users_net" and parent.data.params["dataset"] == "python:data"
    assert (parent.data.params["train_size"], parent.data.params["validation_size"]) == ("200", "40")
    assert mlflow.get_experiment(result.experiment_id).name == "python:users_net-python-data"
    np.testing.assert_array_equal(artifacts.load_arrays(result.run_id, "initial_weights/seed_0.npz")["custom/kernel"], theta0)
    child = next(r for r in runs if r.data.tags.get("round") == "2")
    masks = artifacts.load_arrays(child.info.run_id, "masks/round_02.npz")
    np.testing.assert_array_equal(masks["custom"], result.masks[2]["custom"])


def test_a_factory_is_seeded_and_validation_can_be_held_out(store):
    def build():
        return keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(2, name="out")])

    settings = dict(FAST, rounds=1, seed=3, validation_size=20)
    first = lth_tf.find_tickets(build, _arrays(100, 0), _arrays(20, 1), **settings)
    again = lth_tf.find_tickets(build, _arrays(100, 0), _arrays(20, 1), **settings)
    np.testing.assert_array_equal(first.masks[1]["out"], again.masks[1]["out"])
    params = mlflow.get_run(first.run_id).data.params
    assert params["model"] == "python:build" and params["train_size"] == "80" and params["seed"] == "3"


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(keras.layers.Flatten()(x))


class Unsupported(keras.layers.Layer):
    def build(self, input_shape):
        self.w = self.add_weight("w", shape=(input_shape[-1],))

    def call(self, x):
        return x * self.w


def _with_unsupported_layer():
    inputs = keras.Input((6, 6, 1))
    x = Unsupported(name="mystery")(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, keras.layers.Dense(2)(x))


@pytest.mark.parametrize("model, train, message", [
    (Subclassed(), _arrays(60, 0), "subclassed keras.Model.*Sequential or functional API"),
    (_with_unsupported_layer(), _arrays(60, 0),
     "layer 'mystery' \\(Unsupported\\) is not prunable.*PrunableLayer.*unpruned_layers mystery"),
    (lambda: "not a model", _arrays(60, 0), "factory returned builtins.str, not a Keras Model"),
    (users_model(), tf.data.Dataset.from_tensor_slices(_arrays(60, 0)).repeat(), "infinite"),
    (users_model(), (np.zeros((60, 6, 6, 1)), np.eye(2)[np.zeros(60, int)]), "integer class indices"),
    (users_model(), (np.zeros((60, 5, 5, 1)), np.zeros(60, int)), "test examples have shape \\(6, 6, 1\\)"),
])
def test_unusable_models_and_data_get_one_line_errors_and_no_run(store, model, train, message):
    with pytest.raises(UserError, match=message) as error:
        lth_tf.find_tickets(model, train, _arrays(20, 1), validation_size=10, **FAST)
    assert "\n" not in str(error.value)
    assert not (store / "mlruns" / "mlflow.db").exists()


def test_reinit_of_a_custom_prunable_layer_and_a_second_call_start_from_the_models_theta0(store):
    keras.utils.set_random_seed(3)
    model = users_model()
    theta0 = model.get_layer("custom").kernel.numpy().copy()
    data = (_arrays(100, 0), _arrays(20, 1))
    settings = dict(FAST, rounds=1, controls="reinit", control_rounds="", validation_size=20)
    first = lth_tf.find_tickets(model, *data, **settings)
    np.testing.assert_array_equal(model.get_layer("custom").kernel.numpy(), theta0)  # left as it came
    second = lth_tf.find_tickets(model, *data, restart=True, **settings)  # a new run, not the finished one
    assert [r.kind for r in first.rounds] == ["ticket", "ticket", "reinit"]
    for result in (first, second):
        np.testing.assert_array_equal(
            artifacts.load_arrays(result.run_id, "initial_weights/seed_0.npz")["custom/kernel"], theta0)
    np.testing.assert_array_equal(first.masks[1]["custom"], second.masks[1]["custom"])
