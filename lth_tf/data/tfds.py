"""`tfds:NAME`: a classification dataset from tensorflow-datasets (mnist, fashion_mnist, cifar10...).

Never downloads unless asked (`--download`): offline, TFDS would retry for minutes.
"""

from lth_tf.data.registry import RawData, register
from lth_tf.data.splits import to_images
from lth_tf.errors import UserError


@register("tfds", default_validation=5000, takes_argument=True)
def load(name: str, hparams) -> RawData:
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=hparams.data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise UserError(f"tensorflow-datasets has no dataset '{name}'") from None
    if not builder.is_prepared() and not hparams.download:
        raise UserError(
            f"tfds:{name} is not prepared in {builder.data_dir}; rerun with --download "
            "(needs internet), or point --data-dir at prepared data"
        )
    try:
        train, test = tfds.load(
            name, split=["train", "test"], batch_size=-1, as_supervised=True,
            data_dir=hparams.data_dir, download=hparams.download,
        )
    except Exception as error:  # TFDS raises many kinds; the user needs one line
        raise UserError(f"could not load tfds:{name}: {str(error).splitlines()[0]}") from None
    (train_x, train_y), (test_x, test_y) = tfds.as_numpy(train), tfds.as_numpy(test)
    classes = builder.info.features["label"].num_classes
    shape = tuple(train_x.shape[1:])
    return RawData(
        train=(to_images(train_x, shape), train_y.astype("int64")),
        test=(to_images(test_x, shape), test_y.astype("int64")),
        num_classes=classes,
    )
