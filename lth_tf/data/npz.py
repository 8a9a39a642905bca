"""`npz:PATH`: a user's own arrays in one NumPy .npz file.

Keys: `x_train`, `y_train`, `x_test`, `y_test`, and optionally `x_val`, `y_val` (then used
as the validation split as they are; otherwise `--validation-size` examples, default
5,000, are held out of train). `x` arrays hold one example per row: images
(N, height, width[, channels]) or feature vectors (N, features); integer pixels (0-255)
are scaled to [0, 1], floating-point arrays are taken as they are. `y` arrays hold integer
class indices 0..C-1 (not one-hot), one per example.
"""

import zipfile
import zlib
from pathlib import Path

import numpy as np

from lth_tf.data.registry import RawData, register
from lth_tf.errors import UserError

REQUIRED = ("x_train", "y_train", "x_test", "y_test")


def _examples(path, arrays, split, shape=None):
    x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
    if split == "train" and len(y) == 0:
        raise UserError(f"{path}: y_train is empty")
    if x.ndim < 2:
        raise UserError(f"{path}: x_{split} must have one example per row, got shape {x.shape}")
    if not (np.issubdtype(y.dtype, np.integer) and y.ndim == 1):
        raise UserError(f"{path}: y_{split} must be a 1-D array of integer class indices, got {y.dtype} {y.shape}")
    if len(x) != len(y):
        raise UserError(f"{path}: x_{split} has {len(x)} examples but y_{split} has {len(y)}")
    if y.size and y.min() < 0:
        raise UserError(f"{path}: y_{split} has negative class indices")
    x = x[..., None] if x.ndim == 3 else x  # grayscale images get a channel axis
    if shape is not None and x.shape[1:] != shape:
        raise UserError(f"{path}: x_{split} examples have shape {x.shape[1:]}, x_train's {shape}")
    x = x.astype(np.float32) / 255.0 if np.issubdtype(x.dtype, np.integer) else x.astype(np.float32)
    return x, y.astype("int64")


@register("npz", default_validation=5000, takes_argument=True)
def load(arg: str, _hparams) -> RawData:
    path = Path(arg).expanduser()
    if not path.is_file():
        raise UserError(f"npz file not found: {path}")
    if not zipfile.is_zipfile(path):  # np.load would guess at pickles and say so
        raise UserError(f"{path} is not a .npz file (save arrays with numpy.savez)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise UserError(f"{path} is not a readable .npz file ({str(error).splitlines()[0]})") from None
    missing = [k for k in REQUIRED if k not in arrays]
    if missing or (("x_val" in arrays) != ("y_val" in arrays)):
        missing = missing or [k for k in ("x_val", "y_val") if k not in arrays]
        raise UserError(f"{path} lacks {', '.join(missing)} (expected keys {', '.join(REQUIRED)}; "
                        "optionally x_val, y_val)")
    train = _examples(path, arrays, "train")
    test = _examples(path, arrays, "test", train[0].shape[1:])
    validation = _examples(path, arrays, "val", train[0].shape[1:]) if "x_val" in arrays else None
    labels = [s[1] for s in (train, test, validation) if s is not None]
    given = arrays["x_train"]
    prepared = ((f"npz images of shape {given.shape[1:]} given a channel axis",) if given.ndim == 3 else ()) + \
        (("integer pixels 0-255 scaled to [0, 1]",) if np.issubdtype(given.dtype, np.integer) else ())
    return RawData(train=train, test=test, validation=validation,
                   num_classes=int(max(y.max() for y in labels if y.size)) + 1, prepared=prepared)
