"""Fingerprints of what an experiment runs besides its settings: its data and a user's model.

An experiment's identity (`ExperimentConfig.identity`) hashes them with the command and
the settings (`Subject`), so that an edited model builder or relabelled data is another
experiment, never "finished before".

Data: a SHA-256 of every example and label of each split, also logged as the digest of
the MLflow dataset inputs. MLflow's own digest (`compute_numpy_digest`) hashes only the
first 10,000 values of each array (a dozen 28x28 images): a changed label or image past
them would keep it. Hashing everything costs 8-25% of the time loading the data takes
(full Fashion-MNIST, 220 MB of float32 pixels: 0.16-0.83 s against 0.85-4.0 s, three
measurements on a shared 2-core machine; `benchmarks/data_digest.py`), once per run.

Models: a registry model is named by its settings (`model`, `dropout`, ... and the
data's input shape and class count, which the data's digest covers): its code ships
with lth-tf, and hashing its Keras config instead would tie every identity to Keras'
serialization, which gains keys from one Keras version to the next. A user's model
(`--model package.module:function`, or a model handed to the API) has no such name, so
its architecture is hashed: each layer's class and config, the wiring, and the weights'
paths and shapes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, Optional

import numpy as np
from mlflow.data.digest_utils import compute_numpy_digest

from lth_tf import masking
from lth_tf.training import weights
from lth_tf.settings import ExperimentConfig, Subject
from lth_tf.tfkeras import keras

SPLITS = ("train", "validation", "test")
WRAPPERS = "lth_tf>"
"""Registered-name prefix of lth-tf's own layer wrappers (masks, supermasks): not the user's architecture."""


def subject(command: str, cfg: ExperimentConfig, splits, model: keras.Model, given: Any = None,
            source: Optional[str] = None) -> Subject:
    """What `command` runs: `splits`, and `model` (the built network) unless the registry built it by name.

    `given` is the model the caller handed over (a built model or a factory), if any.
    """
    by_name = given is None and ":" not in cfg.model.model
    return Subject(command, data(splits), None if by_name else architecture(model), source,
                   earlier={"prunable_weights": str(sum(m.size for m in masking.get_masks(model).values())),
                            **{split: compute_numpy_digest(*getattr(splits, split)) for split in SPLITS}})


def data(splits) -> Dict[str, str]:
    """`{split: digest}` of a `data.Splits`."""
    return {split: split_digest(*getattr(splits, split)) for split in SPLITS}


def split_digest(x: np.ndarray, y: np.ndarray) -> str:
    """SHA-256 of one split's examples and labels (type, shape and every byte), 16 hex digits."""
    digest = hashlib.sha256()
    for array in (x, y):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()[:16]


def architecture(model: keras.Model) -> str:
    """Digest of the model's layers (class, config, wiring) and of its weights' paths and shapes.

    Layers are known by their place, not their names, where Keras makes names up
    (`dense_3` in the fourth model a process builds); the weights' paths keep the names
    that masks and θ0 are stored by. lth-tf's wrappers count as the layers they wrap.
    """
    try:
        layers = _canonical(model.get_config())
    except NotImplementedError:  # a custom layer without get_config: its class must do
        layers = [type(layer).__qualname__ for layer in model.layers]
    shapes = [[path, list(v.shape)] for path, v in zip(weights.weight_paths(model), weights.network_variables(model))]
    text = json.dumps({"layers": layers, "weights": shapes}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _canonical(config: Dict[str, Any]) -> Dict[str, Any]:
    """A functional or sequential model's config with its layers' names replaced by their places."""
    places = {_name(entry): f"#{i}" for i, entry in enumerate(config["layers"])}
    out = {k: v for k, v in config.items() if k not in ("name", "layers")}
    out["layers"] = [_layer(entry, places) for entry in config["layers"]]
    for key in ("input_layers", "output_layers"):
        if key in config:
            out[key] = _rewired(config[key], places)
    return out


def _layer(entry: Dict[str, Any], places: Dict[str, str]) -> Dict[str, Any]:
    wiring = entry.get("inbound_nodes", [])
    if str(entry.get("registered_name") or "").startswith(WRAPPERS) and "layer" in entry.get("config", {}):
        entry = entry["config"]["layer"]
    config = entry.get("config", {})
    inner = _canonical(config) if isinstance(config.get("layers"), list) else \
        {k: v for k, v in config.items() if k != "name"}
    return {"class_name": entry.get("class_name"), "config": inner, "build_config": entry.get("build_config"),
            "inbound_nodes": _rewired(wiring, places)}


def _name(entry: Dict[str, Any]) -> str:
    return entry.get("name") or entry.get("config", {}).get("name", "")


def _rewired(value: Any, places: Dict[str, str]) -> Any:
    """Layer names in a config's wiring (`inbound_nodes`, `output_layers`) replaced by places."""
    if isinstance(value, str):
        return places.get(value, value)
    if isinstance(value, (list, tuple)):
        return [_rewired(v, places) for v in value]
    if isinstance(value, dict):
        return {k: _rewired(v, places) for k, v in value.items()}
    return value
