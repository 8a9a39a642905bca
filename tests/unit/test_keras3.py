"""A Keras 3 model rebuilt in tf_keras (and a ticket sent back) computes the same function."""

import numpy as np
import pytest

from lth_tf import masking
from lth_tf.errors import UserError
from lth_tf.models import keras3 as convert
from lth_tf.tfkeras import keras as tf_keras

keras = pytest.importorskip("keras")
L = keras.layers


def images(n=16, shape=(12, 12, 3), seed=0):
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype("float32")


def perturb_batch_norm(model, seed=1):
    """Batch norm with non-trivial scale, offset and moving statistics (fresh ones are identities)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 2, gamma.shape), rng.normal(size=beta.shape),
                               rng.normal(size=mean.shape), rng.uniform(0.5, 2, variance.shape)])


def keras3_cnn():
    """A functional CNN with every layer kind the model zoo uses, a residual Add among them."""
    inputs = keras.Input((12, 12, 3), name="image")
    x = L.ZeroPadding2D(1, name="pad")(inputs)
    x = L.Conv2D(8, 3, use_bias=False, name="conv1")(x)
    x = L.BatchNormalization(name="bn1")(x)
    x = L.ReLU(name="relu1")(x)
    y = L.Conv2D(8, 3, padding="same", name="conv2")(x)
    y = L.BatchNormalization(name="bn2")(y)
    x = L.Activation("relu", name="out1")(L.Add(name="add")([x, y]))
    x = L.MaxPooling2D(2, name="max_pool")(x)
    x = L.AveragePooling2D(2, name="avg_pool")(x)
    x = L.Conv2D(6, 1, activation="relu", name="conv3")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Reshape((3, 2), name="reshape")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dropout(0.5, name="dropout")(x)
    logits = L.Dense(5, name="output")(x)
    return keras.Model(inputs, L.Softmax(name="softmax")(logits), name="k3_cnn")


def test_keras3_models_are_recognised_by_their_class_without_importing_anything():
    assert convert.is_keras3(keras.Sequential())
    assert not convert.is_keras3(tf_keras.Sequential())
    assert not convert.is_keras3(object())


def test_a_keras3_sequential_model_is_rebuilt_in_tf_keras_with_the_same_predictions():
    keras.utils.set_random_seed(0)
    original = keras.Sequential([keras.Input((12, 12, 3)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(),
                                 L.Flatten(), L.Dropout(0.3), L.Dense(16, activation="relu"), L.Dense(3)],
                                name="k3_seq")
    rebuilt = convert.from_keras3(original)

    assert isinstance(rebuilt, tf_keras.Sequential) and rebuilt.name == "k3_seq"
    assert [type(layer).__name__ for layer in rebuilt.layers] == [type(layer).__name__ for layer in original.layers]
    x = images()
    np.testing.assert_allclose(rebuilt(x, training=False).numpy(), original(x, training=False).numpy(), atol=1e-6)
    assert len(masking.masked_layers(masking.mask_model(rebuilt))) == 3  # tfmot's masks now apply


def test_a_sequential_model_built_without_an_input_layer_is_rebuilt_from_its_build_shape():
    keras.utils.set_random_seed(0)
    original = keras.Sequential([L.Flatten(), L.Dense(3)])
    original.build((None, 12, 12, 3))
    x = images()
    np.testing.assert_allclose(convert.from_keras3(original)(x).numpy(), original(x).numpy(), atol=1e-6)


def test_a_keras3_functional_cnn_with_batch_norm_add_and_pooling_gives_the_same_predictions():
    keras.utils.set_random_seed(0)
    original = keras3_cnn()
    perturb_batch_norm(original)
    rebuilt = convert.from_keras3(original)

    assert isinstance(rebuilt, tf_keras.Model) and not convert.is_keras3(rebuilt)
    assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in original.layers]
    x = images()
    expected = original(x, training=False).numpy()
    np.testing.assert_allclose(rebuilt(x, training=False).numpy(), expected, atol=1e-6)
    # the residual branch is wired as in the original: the Add takes relu1 and bn2
    assert [n.inbound_layers for n in rebuilt.get_layer("add").inbound_nodes][0] == [rebuilt.get_layer("relu1"),
                                                                                     rebuilt.get_layer("bn2")]
    # settings carried over, not just weights; Keras 3 records `training=False` on the Dropout call,
    # which must not freeze it: in training it still drops (two calls differ), as the original's
    assert rebuilt.get_layer("dropout").rate == 0.5 and not rebuilt.get_layer("conv1").use_bias
    assert not np.allclose(rebuilt(x, training=True).numpy(), rebuilt(x, training=True).numpy(), atol=1e-3)


def test_an_unsupported_layer_is_refused_in_one_line_naming_its_class_and_name():
    model = keras.Sequential([keras.Input((6, 3)), L.Conv1D(4, 3, name="wave"), L.Flatten(), L.Dense(2)], name="m")
    with pytest.raises(UserError) as refused:
        convert.from_keras3(model)
    message = str(refused.value)
    assert "\n" not in message and "'wave' is a Conv1D" in message and "Keras 3 model 'm'" in message


def test_a_setting_tf_keras_cannot_express_is_refused_rather_than_dropped():
    model = keras.Sequential([keras.Input((4,)), L.Dense(3, lora_rank=2, name="adapted")])
    with pytest.raises(UserError, match=r"'adapted' \(Dense\) sets lora_rank=2") as refused:
        convert.from_keras3(model)
    assert "\n" not in str(refused.value)


def test_a_pruned_tf_keras_ticket_goes_back_to_keras3_with_its_zeros_and_predictions(tmp_path):
    keras.utils.set_random_seed(0)
    ticket = masking.mask_model(convert.from_keras3(keras3_cnn()))
    perturb_batch_norm(ticket)
    rng = np.random.default_rng(2)
    masks = {key: rng.random(mask.shape) < 0.3 for key, mask in masking.get_masks(ticket).items()}
    masking.set_masks(ticket, masks)

    path = convert.save_keras3(ticket, tmp_path / "ticket.keras")
    loaded = keras.saving.load_model(path)

    assert convert.is_keras3(loaded) and path.suffix == ".keras"
    x = images()
    np.testing.assert_allclose(loaded(x, training=False).numpy(), ticket(x, training=False).numpy(), atol=1e-6)
    for key, mask in masks.items():  # zeros exactly where the mask pruned, nowhere else
        kernel = loaded.get_layer(key).kernel.numpy()
        assert not kernel[~mask].any() and kernel[mask].all()


def test_only_a_keras_file_is_written():
    ticket = convert.from_keras3(keras.Sequential([keras.Input((4,)), L.Dense(3)]))
    with pytest.raises(UserError, match="ends in .keras"):
        convert.save_keras3(ticket, "ticket.h5")
