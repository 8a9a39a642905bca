"""`tfds:NAME`: a classification dataset from tensorflow-datasets (mnist, fashion_mnist, cifar10...).

Never downloads unless asked (`--download`): offline, TFDS would retry for minutes.
"""

import numpy as np

from lth_tf.data.registry import RawData, register
from lth_tf.errors import UserError


def _arrays(dataset):
    """A supervised tf.data split as two arrays (batched reads: fast, and mock-data safe)."""
    images, labels = zip(*((x, y) for x, y in dataset.batch(4096).as_numpy_iterator()))
    return np.concatenate(images), np.concatenate(labels)


@register("tfds", default_validation=5000, takes_argument=True)
def load(name: str, hparams) -> RawData:
    from lth_tf.data.splits import to_images

    import tensorflow_datasets as tfds

    try:
        (train, test), info = tfds.load(
            name, split=["train", "test"], as_supervised=True, with_info=True,
            data_dir=hparams.data_dir, download=hparams.download,
        )
    except tfds.core.registered.DatasetNotFoundError:
        raise UserError(f"tensorflow-datasets has no dataset '{name}'") from None
    except AssertionError:  # TFDS's way of saying the data is not prepared
        where = hparams.data_dir or "TFDS's data directory (~/tensorflow_datasets)"
        raise UserError(
            f"tfds:{name} is not prepared in {where}; rerun with --download (needs internet), "
            "or point --data-dir at prepared data"
        ) from None
    except Exception as error:  # download or parsing failures: one line for the user
        raise UserError(f"could not load tfds:{name}: {str(error).splitlines()[0]}") from None
    (train_x, train_y), (test_x, test_y) = _arrays(train), _arrays(test)
    shape = tuple(train_x.shape[1:])
    return RawData(
        train=(to_images(train_x, shape), train_y.astype("int64")),
        test=(to_images(test_x, shape), test_y.astype("int64")),
        num_classes=info.features["label"].num_classes,
        prepared=("pixels 0-255 scaled to [0, 1]",),
    )
