"""A plain Keras model (a ticket with its masks stripped) written where TF deploys from.

Four formats: a TensorFlow SavedModel (TF Serving, `tf.saved_model.load`), a tf_keras file
(`tf_keras.models.load_model`), a Keras 3 file (`keras.saving.load_model`, TensorFlow 2.21's
default Keras) and TensorFlow Lite. A ticket's pruned weights are zeros in
dense kernels, which SavedModel and Keras files store in full; TFLite's converter can store
them sparse (`tf.lite.Optimize.EXPERIMENTAL_SPARSITY`, as tfmot's pruning guides do), so the
TFLite export writes both files and reports their sizes.

Every export is read back and run on the given examples: an export is only reported as
good if its predictions match the Keras model's within float tolerance.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Tuple

import numpy as np
import tensorflow as tf

from lth_tf import masking
from lth_tf.tfkeras import keras

TOLERANCE = 1e-4
"""Largest |logit difference| (absolute, and relative to the logit) accepted between an export and Keras."""
BATCH = 1000

Predict = Callable[[np.ndarray], np.ndarray]


@dataclass
class Exported:
    path: Path
    predict: Predict
    """Runs the written file (read back from disk) on a batch of inputs."""
    sizes: Dict[str, int] = field(default_factory=dict)
    """Bytes on disk by variant, e.g. {'dense': ..., 'sparse': ...} for TFLite."""
    inputs: str = ""
    """The written file's input signature, as it reads back: `image (None, 28, 28, 1) float32`."""


@dataclass
class Check:
    """The export against the Keras model on the same examples."""

    keras_accuracy: float
    exported_accuracy: float
    max_difference: float
    differing_predictions: int
    examples: int

    @property
    def ok(self) -> bool:
        return self.max_difference <= TOLERANCE


def export(model: keras.Model, fmt: str, out_dir: Path, name: str = "ticket") -> Exported:
    """Writes `model` to `out_dir` in `fmt`; returns where, its sizes and a reader of the file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return _WRITERS[fmt](model, out_dir, name)


def _saved_model(model, out_dir, name):
    path = out_dir / name
    tf.saved_model.save(model, str(path))
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]

    def predict(x):
        (outputs,) = serve(tf.constant(x)).values()
        return outputs.numpy()

    inputs = ", ".join(_signature(name, spec.shape, spec.dtype.name)
                       for name, spec in serve.structured_input_signature[1].items())
    return Exported(path, predict, {"saved_model": _bytes(path)}, inputs)


def _keras_file(model, out_dir, name):
    path = out_dir / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path, compile=False)
    return Exported(path, lambda x: loaded(x, training=False).numpy(), {"keras": path.stat().st_size},
                    _keras_inputs(loaded))


def tflite_bytes(model: keras.Model, sparse: bool) -> bytes:
    """The model as a TFLite flatbuffer; `sparse` stores mostly-zero weights in a sparse format."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if sparse:
        converter.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    return converter.convert()


def _tflite(model, out_dir, name):
    path, dense = out_dir / f"{name}.tflite", out_dir / f"{name}_dense.tflite"
    path.write_bytes(tflite_bytes(model, sparse=True))
    dense.write_bytes(tflite_bytes(model, sparse=False))
    with warnings.catch_warnings():  # tf.lite.Interpreter's notice about LiteRT, a separate package
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_path=str(path))
    (inputs,), (outputs,) = interpreter.get_input_details(), interpreter.get_output_details()

    def predict(x):
        interpreter.resize_tensor_input(inputs["index"], x.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(inputs["index"], x.astype(inputs["dtype"]))
        interpreter.invoke()
        return interpreter.get_tensor(outputs["index"]).copy()

    return Exported(path, predict, {"dense": dense.stat().st_size, "sparse": path.stat().st_size},
                    _signature(inputs["name"], inputs["shape_signature"], np.dtype(inputs["dtype"]).name))


def _keras3_file(model, out_dir, name):
    """A Keras 3 `.keras` file (TensorFlow 2.21's `import keras`), read back by Keras 3 itself."""
    from lth_tf.models import keras3 as convert

    path = convert.save_keras3(model, out_dir / f"{name}.keras")
    loaded = convert.load_keras3(path)
    return Exported(path, lambda x: np.asarray(loaded(x, training=False)), {"keras3": path.stat().st_size},
                    _keras_inputs(loaded))


def _keras_inputs(model) -> str:
    return ", ".join(_signature(t.name, t.shape, getattr(t.dtype, "name", t.dtype)) for t in model.inputs)


def _signature(name: str, shape, dtype: str) -> str:
    """`image (None, 28, 28, 1) float32`: a batch of any size (TFLite's -1 said as None)."""
    dims = [None if d is None or d == -1 else int(d) for d in (shape.as_list() if hasattr(shape, "as_list") else shape)]
    return f"{name.split(':')[0]} ({', '.join(map(str, dims))}{',' if len(dims) == 1 else ''}) {dtype}"


_WRITERS = {"saved_model": _saved_model, "keras": _keras_file, "keras3": _keras3_file, "tflite": _tflite}
FORMATS = tuple(_WRITERS)


def nonzero_weights(model: keras.Model) -> Tuple[int, int]:
    """(nonzero, all) prunable weights of a plain model: how sparse the exported ticket is."""
    values = [w.numpy() for w in masking.prunable_weights(masking.mask_model(model)).values()]
    return sum(int(np.count_nonzero(v)) for v in values), sum(v.size for v in values)


def _bytes(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


def check(model: keras.Model, exported: Exported, x: np.ndarray, y: np.ndarray) -> Check:
    """Runs the Keras model and the written file on (x, y), batch by batch, and compares."""
    expected, got = [], []
    for start in range(0, len(x), BATCH):
        batch = np.asarray(x[start:start + BATCH], dtype=np.float32)
        expected.append(model(batch, training=False).numpy())
        got.append(exported.predict(batch))
    expected, got = np.concatenate(expected), np.concatenate(got)
    scale = np.maximum(1.0, np.abs(expected))
    return Check(
        keras_accuracy=float(np.mean(expected.argmax(-1) == y)),
        exported_accuracy=float(np.mean(got.argmax(-1) == y)),
        max_difference=float(np.max(np.abs(got - expected) / scale)),
        differing_predictions=int(np.sum(got.argmax(-1) != expected.argmax(-1))),
        examples=len(y),
    )
