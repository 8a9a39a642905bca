"""`idx:DIR`: MNIST-format files (train/t10k images and labels, .gz or not).

This is how MNIST and Fashion-MNIST are distributed; Debian's `dataset-fashion-mnist`
installs them in /usr/share/datasets/fashion-mnist.
"""

import gzip
from pathlib import Path

import numpy as np

from lth_tf.data.registry import RawData, register
from lth_tf.errors import UserError

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def read_idx(path: Path) -> np.ndarray:
    """An IDX array (big-endian dims after a magic number giving dtype and rank)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise UserError(f"{path} is not an unsigned-byte IDX file")
    rank = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=rank, offset=4)
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank)
    if array.size != int(np.prod(dims)):
        raise UserError(f"{path} is truncated: {array.size} values for shape {tuple(dims)}")
    return array.reshape(tuple(int(d) for d in dims))


def _find(directory: Path, stem: str) -> Path:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    raise UserError(f"{directory} has no {stem}[.gz]; expected the four MNIST-format files")


@register("idx", default_validation=5000, takes_argument=True)
def load(arg: str, _hparams) -> RawData:
    from lth_tf.data.splits import to_images

    directory = Path(arg).expanduser()
    if not directory.is_dir():
        hint = (
            " (install it with: apt-get install dataset-fashion-mnist)"
            if "fashion-mnist" in str(directory)
            else f" (it should hold {FILES['train_images']}.gz and the other three MNIST-format files)"
        )
        raise UserError(f"data directory not found: {directory}{hint}")
    arrays = {key: read_idx(_find(directory, stem)) for key, stem in FILES.items()}
    given = arrays["train_images"].shape[1:]
    shape = (*given, 1) if len(given) == 2 else given
    num_classes = int(max(arrays["train_labels"].max(), arrays["test_labels"].max())) + 1
    return RawData(
        train=(to_images(arrays["train_images"], shape), arrays["train_labels"].astype("int64")),
        test=(to_images(arrays["test_images"], shape), arrays["test_labels"].astype("int64")),
        num_classes=num_classes,
        prepared=((f"IDX images of shape {given} given a channel axis",) if len(given) == 2 else ())
        + ("pixels 0-255 scaled to [0, 1]",),
    )
