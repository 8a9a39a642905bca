"""What the speed work must not change: artifacts read back exactly, evaluation figures agree."""

import io

import numpy as np

from lth_tf import tracking


def test_npz_artifacts_round_trip_exactly_and_compress_only_masks():
    rng = np.random.default_rng(0)
    arrays = {"fc1": rng.random((300, 100)) < 0.3, "fc1/bias": rng.normal(size=100).astype(np.float32),
              "steps": np.arange(5)}
    content = tracking.npz_bytes(arrays)
    with np.load(io.BytesIO(content), allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(arrays)
        for key, array in arrays.items():
            assert archive[key].dtype == array.dtype
            np.testing.assert_array_equal(archive[key], array)
    assert len(content) < 30_000 / 2 + 100 * 4 + 2_000, "the mask was not compressed"
