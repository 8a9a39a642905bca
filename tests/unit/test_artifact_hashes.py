"""Mask and θ0 artifacts carry their SHA-256; a changed or truncated file is refused on load."""

import hashlib
import logging
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import numpy as np
import pytest

from lth_tf.tracking import artifacts, store as tracking
from lth_tf.errors import UserError

ARRAYS = {"fc1": np.arange(12, dtype=np.float32).reshape(3, 4) > 4, "nested/fc": np.ones((2, 2), bool)}


def _logged(store):
    tracking.open_experiment(None, "hashes")
    with tracking.run_scope() as run:
        artifacts.log_arrays(ARRAYS, "masks/round_01.npz")
    local = Path(urlparse(run.info.artifact_uri).path) / "masks" / "round_01.npz"
    return run.info.run_id, local


def test_the_hash_is_recorded_and_loading_verifies_it(store):
    run_id, local = _logged(store)
    tags = mlflow.get_run(run_id).data.tags
    assert tags["sha256/masks/round_01.npz"] == hashlib.sha256(local.read_bytes()).hexdigest()
    loaded = artifacts.load_arrays(run_id, "masks/round_01.npz")
    assert set(loaded) == set(ARRAYS)
    np.testing.assert_array_equal(loaded["fc1"], ARRAYS["fc1"])


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_changed_or_truncated_artifact_is_refused_in_one_line_naming_it(store, damage):
    run_id, local = _logged(store)
    content = bytearray(local.read_bytes())
    if damage == "flip":
        content[len(content) // 2] ^= 0xFF
    else:
        del content[len(content) // 2:]
    local.write_bytes(bytes(content))
    with pytest.raises(UserError, match=rf"masks/round_01.npz of run {run_id} does not match its recorded SHA-256"):
        artifacts.load_arrays(run_id, "masks/round_01.npz")


def test_an_old_artifact_without_hash_loads_with_a_warning_but_must_still_be_an_npz(store, caplog):
    run_id, local = _logged(store)
    mlflow.tracking.MlflowClient().delete_tag(run_id, "sha256/masks/round_01.npz")
    with caplog.at_level(logging.WARNING):
        assert set(artifacts.load_arrays(run_id, "masks/round_01.npz")) == set(ARRAYS)
    assert "no recorded SHA-256" in caplog.text
    local.write_bytes(local.read_bytes()[:40])
    with pytest.raises(UserError, match="masks/round_01.npz .* is not a readable .npz"):
        artifacts.load_arrays(run_id, "masks/round_01.npz")
    with pytest.raises(UserError, match="masks/round_09.npz .* cannot be read"):
        artifacts.load_arrays(run_id, "masks/round_09.npz")
