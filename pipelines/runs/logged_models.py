"""Trained networks as MLflow Models: servable (`mlflow models serve`), registrable, exportable.

A logged network is the plain tf_keras model (masks stripped, pruned weights exactly
zero) in MLflow's TensorFlow flavor, with a signature and an input example taken from the
test split, and the round's mask hash in its metadata, so a registered model can be traced
back to the exact mask it was trained under.

Why HDF5: MLflow's serving process imports `tensorflow.keras`, which is Keras 3 unless
TF_USE_LEGACY_KERAS=1; Keras 3 refuses tf_keras's `.keras` files but reads legacy HDF5, so
an HDF5 model serves under either Keras. Why explicit pip requirements: MLflow infers them
by loading the model in a subprocess, ~20 s per model here; the pins below are what it needs.

Import order: MLflow's TensorFlow flavor knows a Keras model, and loads one, through
`tensorflow.keras`. TensorFlow decides at its import what that is: tf_keras when lth_tf
was imported first (`lth_tf.tfkeras` sets TF_USE_LEGACY_KERAS), Keras 3 when a script
imported TensorFlow before lth_tf. So while MLflow saves or loads a network here,
`tensorflow.keras` is tf_keras (`_tf_keras_for_mlflow`): a network is logged and read
back as a Keras model whatever the import order.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import sys
import warnings
from importlib import metadata
from typing import Dict, Optional

import mlflow
import numpy as np

from lth_tf import masking
from lth_tf.errors import UserError
from lth_tf.tfkeras import keras

SETTINGS = ("none", "final", "all")
TICKET_KINDS = ("ticket", "one_shot", "transfer")
"""Kinds whose sparsest network (at the last round) `--log-models final` logs."""
EXAMPLE_SIZE = 2
"""Test examples saved as the input example (small: MLflow stores it as JSON)."""


def wanted(setting: str, kind: str, round_: int, last_round: int) -> bool:
    """Whether `--log-models setting` logs this network: final = dense and sparsest tickets."""
    if setting == "all":
        return True
    if setting == "final":
        return round_ == 0 or (kind in TICKET_KINDS and round_ == last_round)
    return False


def requirements():
    """The packages a logged model needs to load: TensorFlow and tf_keras, pinned."""
    return [f"{name}=={metadata.version(name)}" for name in ("tensorflow", "tf-keras", "h5py")]


@contextlib.contextmanager
def _without_own_custom_objects():
    """Hides lth-tf's registered Keras classes (the mask wrapper) while MLflow saves a model.

    MLflow pickles every globally registered Keras class beside the model; the stripped
    model uses none of lth-tf's, and leaving them out keeps the model loadable where
    lth-tf is not installed.
    """
    registered = keras.saving.get_custom_objects()
    own = {k: registered.pop(k) for k in [k for k in registered if k.startswith("lth_tf>")]}
    try:
        yield
    finally:
        registered.update(own)


@contextlib.contextmanager
def _quiet():
    """MLflow checks the input example by loading the model and predicting, which prints a Keras
    progress bar and a TensorFlow warning into the run's output, and tf_keras warns that HDF5
    is legacy (chosen on purpose, see above); keep those out of it."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*HDF5 file.*legacy", category=UserWarning)
            yield
    finally:
        logger.setLevel(level)


TF_KERAS_MODULES = {"tensorflow.keras": "tf_keras.api._v2.keras",
                    "tensorflow.keras.models": "tf_keras.api._v2.keras.models",
                    "tensorflow.keras.saving": "tf_keras.api._v2.keras.saving"}
"""What MLflow's flavor imports from `tensorflow.keras`, and tf_keras's module for each."""


@contextlib.contextmanager
def _tf_keras_for_mlflow():
    """`tensorflow.keras` is tf_keras inside the block, also if TensorFlow was imported before lth_tf."""
    if importlib.import_module("tensorflow.keras").Model is keras.Model:
        yield
        return
    saved = {name: sys.modules.get(name) for name in TF_KERAS_MODULES}
    sys.modules.update({name: importlib.import_module(legacy) for name, legacy in TF_KERAS_MODULES.items()})
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def log_network(model: keras.Model, examples: np.ndarray, name: str, meta: Dict[str, str]) -> str:
    """Logs the masked `model` as a plain Keras MLflow Model in the active run; returns its URI."""
    plain = masking.strip_masks(model)
    example = np.asarray(examples[:EXAMPLE_SIZE])
    signature = mlflow.models.infer_signature(example, plain(example, training=False).numpy())
    with _without_own_custom_objects(), _quiet(), _tf_keras_for_mlflow():
        info = mlflow.tensorflow.log_model(
            plain, name=name, signature=signature, input_example=example, metadata=meta,
            pip_requirements=requirements(), keras_model_kwargs={"save_format": "h5"},
        )
    return info.model_uri


def tflite_sizes(model: keras.Model) -> Dict[str, float]:
    """What a logged network takes on a device: its TFLite file's bytes, dense and with TFLite's sparse
    storage of mostly-zero weights (`lth_tf.export.tflite_bytes`), as summary metric names."""
    from lth_tf.export import tflite_bytes

    plain = masking.strip_masks(model)
    return {"tflite_bytes": float(len(tflite_bytes(plain, sparse=True))),
            "tflite_dense_bytes": float(len(tflite_bytes(plain, sparse=False)))}


def find(experiment_id: str, run_id: str) -> Optional[str]:
    """The URI of the model a network's run logged, or None."""
    found = mlflow.search_logged_models(experiment_ids=[experiment_id], output_format="list",
                                        filter_string=f"source_run_id = '{run_id}'")
    return found[0].model_uri if found else None


def load(model_uri: str) -> keras.Model:
    """A logged network as a tf_keras model."""
    with _tf_keras_for_mlflow():
        model = mlflow.tensorflow.load_model(model_uri, keras_model_kwargs={"compile": False})
    if not isinstance(model, keras.Model):  # logged by an lth-tf before `_tf_keras_for_mlflow`, TensorFlow first
        raise UserError(f"{model_uri} was logged as a bare TensorFlow SavedModel (by an lth-tf older than this one, "
                        "in a script that imported TensorFlow before lth_tf); it serves, but export needs a Keras "
                        "model: export it --untrained, or rerun the experiment")
    return model
