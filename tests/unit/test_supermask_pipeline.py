"""`lth-tf supermask`: bad input in one line, and the scaled initializer's variance (the runs
themselves: tests/integration/test_supermask_pipeline.py)."""

import numpy as np
import pytest

from conftest import invoke
from lth_tf import masking
from lth_tf.settings import build_config
from pipelines.experiments import supermask


TINY = {"iterations": 20, "eval_interval": 10, "batch_size": 30, "steps_per_execution": 5, "model": "python:small",
        "dataset": "python:tiny", "normalization": "unit", "validation_size": 100}


@pytest.mark.parametrize("args, message", [
    (["--keep-fractions", "0.5,1.5"], "--keep-fractions must be in (0, 1]"),
    (["--keep-fractions", "0.5,x"], "'keep_fractions' must be list of numbers"),
    (["--initializer", "zeros"], "Invalid value for '--initializer'"),
    (["--rounds", "3"], "No such option '--rounds'"),
    (["--model", "resnet20"], "non-affine batch norm"),
])
def test_bad_supermask_input_is_one_line_and_exit_2(store, capsys, args, message):
    code, out, err = invoke(["supermask", *args], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (store / "mlruns").exists()


@pytest.mark.parametrize("initializer", [None, "he_normal"])
def test_scale_initializer_divides_the_variance_by_k_with_or_without_initializer(tiny_splits, initializer):
    """Without --initializer the model's own draws are scaled too (before, only a named initializer was)."""
    def kernels(scaled):
        cfg = build_config({**TINY, "model": "conftest:small_model", "initializer": initializer,
                            "scale_initializer": scaled})
        network = supermask.build_supermask_model(cfg, tiny_splits, 0.25, None)
        return {k: w.numpy() for k, w in masking.prunable_weights(network).items()}, network

    (scaled, network), (plain, _) = kernels(True), kernels(False)
    for key in ("fc1", "fc2", "output"):
        np.testing.assert_allclose(scaled[key], 2.0 * plain[key], rtol=1e-6)  # sqrt(1 / 0.25)
    np.testing.assert_array_equal(network.get_layer("supermask_fc1").layer.bias.numpy(), 0)
