"""CIFAR-10 through TFDS (mock data), normalization, augmentation, and a user's .npz arrays."""

import numpy as np
import pytest
import tensorflow as tf

from lth_tf import data
from lth_tf.settings.groups import DatasetHparams
from lth_tf.data.augment import PAD, flip_and_crop
from lth_tf.data.splits import Splits
from lth_tf.errors import UserError


@pytest.fixture(scope="module")
def mock_tfds():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=60):
        yield


def test_cifar10_through_tfds_is_standardized_per_channel(mock_tfds):
    splits = data.load(DatasetHparams(dataset="tfds:cifar10", validation_size=20))
    assert splits.sizes() == {"train_size": 40, "validation_size": 20, "test_size": 60}
    assert splits.input_shape == (32, 32, 3) and splits.num_classes == 10 and not splits.augment
    x = splits.train[0]
    np.testing.assert_allclose(x.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(x.std(axis=(0, 1, 2)), 1.0, atol=1e-3)
    unit = data.load(DatasetHparams(dataset="tfds:cifar10", validation_size=20, normalization="unit"))
    assert unit.train[0].min() >= 0.0 and unit.train[0].max() <= 1.0
    # The same held-out examples either way, standardized with the training split's statistics.
    mean, std = unit.train[0].mean(axis=(0, 1, 2)), unit.train[0].std(axis=(0, 1, 2))
    np.testing.assert_allclose(splits.validation[0], (unit.validation[0] - mean) / std, atol=1e-4)


def test_mnist_through_tfds_stays_in_unit_range(mock_tfds):
    splits = data.load(DatasetHparams(dataset="tfds:mnist", validation_size=20, augment=True))
    assert splits.input_shape == (28, 28, 1) and splits.augment
    assert splits.train[0].min() >= 0.0 and splits.train[0].max() <= 1.0


def _shifts(image):
    """Every flip and pad-and-crop of one image."""
    padded = np.pad(image, ((PAD, PAD), (PAD, PAD), (0, 0)))
    h, w = image.shape[:2]
    for candidate in (padded, padded[:, ::-1]):
        for dy in range(2 * PAD + 1):
            for dx in range(2 * PAD + 1):
                yield candidate[dy:dy + h, dx:dx + w]


def test_augmentation_flips_and_crops_each_image_repeatably_per_seed():
    rng = np.random.default_rng(0)
    images = rng.random((16, 10, 10, 3), dtype=np.float32) + 1.0  # no zeros: padding is visible
    out = flip_and_crop(tf.constant(images), 0, tf.constant(7, tf.int64)).numpy()
    assert out.shape == images.shape
    for original, augmented in zip(images, out):
        assert any(np.array_equal(augmented, s) for s in _shifts(original))
    assert not np.array_equal(out, images)
    assert len({a.tobytes() for a in out - images}) > 1  # images draw their own flips and offsets
    np.testing.assert_array_equal(out, flip_and_crop(tf.constant(images), 0, tf.constant(7, tf.int64)).numpy())
    assert not np.array_equal(out, flip_and_crop(tf.constant(images), 1, tf.constant(7, tf.int64)).numpy())
    assert not np.array_equal(out, flip_and_crop(tf.constant(images), 0, tf.constant(8, tf.int64)).numpy())


def test_augmented_training_batches_repeat_per_seed_and_keep_labels():
    rng = np.random.default_rng(0)
    arrays = (rng.random((40, 8, 8, 3), dtype=np.float32), np.arange(40) % 10)
    splits = Splits("tiny", arrays, arrays, arrays, 10, augment=True)
    take = lambda seed: list(splits.train_batches(20, seed).take(3).as_numpy_iterator())  # noqa: E731
    first, again, other = take(0), take(0), take(1)
    for (x, y), (x2, y2) in zip(first, again):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(first[0][0], other[0][0])
    plain = list(Splits("tiny", arrays, arrays, arrays, 10).train_batches(20, 0).take(3).as_numpy_iterator())
    assert all(np.array_equal(y, p[1]) for (_, y), p in zip(first, plain))  # same order, same labels
    assert not np.array_equal(first[0][0], plain[0][0])
    with pytest.raises(UserError, match="--augment needs images"):
        Splits("flat", (arrays[0].reshape(40, -1), arrays[1]), arrays, arrays, 10, augment=True)


def _save(path, **arrays):
    np.savez(path, **arrays)
    return f"npz:{path}"


def test_npz_arrays_load_with_their_own_or_a_held_out_validation(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (50, 12, 12), dtype=np.uint8), np.arange(50) % 5
    spec = _save(tmp_path / "own.npz", x_train=x, y_train=y, x_test=x[:10], y_test=y[:10])
    splits = data.load(DatasetHparams(dataset=spec, validation_size=15))
    assert splits.sizes() == {"train_size": 35, "validation_size": 15, "test_size": 10}
    assert splits.input_shape == (12, 12, 1) and splits.num_classes == 5
    np.testing.assert_allclose(splits.test[0][..., 0], x[:10] / 255.0, rtol=1e-6)
    features = rng.random((30, 7)).astype(np.float64) * 9  # floats are taken as given
    spec = _save(tmp_path / "val.npz", x_train=features, y_train=np.arange(30) % 3, x_test=features[:5],
                 y_test=np.zeros(5, int), x_val=features[:4], y_val=np.ones(4, int))
    splits = data.load(DatasetHparams(dataset=spec))
    assert splits.sizes() == {"train_size": 30, "validation_size": 4, "test_size": 5}
    np.testing.assert_allclose(splits.train[0], features.astype(np.float32))


@pytest.mark.parametrize("arrays, message", [
    (dict(x_train=np.zeros((4, 3)), y_train=np.zeros(4, int), x_test=np.zeros((2, 3))), "lacks y_test"),
    (dict(x_train=np.zeros((4, 3)), y_train=np.zeros(5, int), x_test=np.zeros((2, 3)), y_test=np.zeros(2, int)),
     "x_train has 4 examples but y_train has 5"),
    (dict(x_train=np.zeros((4, 3)), y_train=np.zeros(4, int), x_test=np.zeros((2, 4)), y_test=np.zeros(2, int)),
     "x_test examples have shape \\(4,\\), x_train's \\(3,\\)"),
    (dict(x_train=np.zeros((4, 3)), y_train=np.eye(4), x_test=np.zeros((2, 3)), y_test=np.zeros(2, int)),
     "y_train must be a 1-D array of integer class indices"),
    (dict(x_train=np.zeros((4, 3)), y_train=np.zeros(4, int), x_test=np.zeros((2, 3)), y_test=np.zeros(2, int),
          x_val=np.zeros((1, 3))), "lacks y_val"),
])
def test_npz_errors_name_what_is_wrong(tmp_path, arrays, message):
    with pytest.raises(UserError, match=message) as error:
        data.load(DatasetHparams(dataset=_save(tmp_path / "bad.npz", **arrays), validation_size=1))
    assert "\n" not in str(error.value)
    with pytest.raises(UserError, match="npz file not found"):
        data.load(DatasetHparams(dataset=f"npz:{tmp_path}/missing.npz"))
