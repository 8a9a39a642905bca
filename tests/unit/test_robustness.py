"""--robustness: test accuracy under FGSM and Gaussian noise (logged per network:
tests/integration/test_robustness.py)."""

import numpy as np
import pytest
import tensorflow as tf

from lth_tf.training import robustness
from lth_tf.errors import UserError


def test_fgsm_never_beats_clean_accuracy_and_grows_with_eps(trained, tiny_splits):
    test = tiny_splits.test
    clean = robustness.clean_accuracy(trained, test)
    assert clean > 0.5  # learned something, so an attack has something to break
    scores = robustness.evaluate(trained, test, ["fgsm:0", "fgsm:0.05", "fgsm:0.3", "noise:0", "noise:0.3"], seed=0)
    assert scores["fgsm_0_test_accuracy"] == pytest.approx(clean)
    assert scores["noise_0_test_accuracy"] == pytest.approx(clean)
    assert scores["fgsm_0.3_test_accuracy"] <= scores["fgsm_0.05_test_accuracy"] <= clean
    assert scores["fgsm_0.3_test_accuracy"] < clean - 0.1
    assert scores["noise_0.3_test_accuracy"] != scores["fgsm_0.3_test_accuracy"]


def test_fgsm_moves_every_input_by_eps_in_the_gradients_sign(trained, tiny_splits):
    x, y = (tf.constant(a) for a in tiny_splits.test)
    moved = robustness.fgsm_batch(trained, x, y, 0.1).numpy()
    np.testing.assert_allclose(np.abs(moved - x.numpy())[np.abs(moved - x.numpy()) > 0], 0.1, rtol=1e-5)


@pytest.mark.parametrize("spec", ["fgsm", "fgsm:x", "blur:1", "noise:-1"])
def test_bad_specs_are_one_line_errors(spec):
    with pytest.raises(UserError, match="--robustness: expected fgsm:EPS or noise:SIGMA"):
        robustness.parse([spec])
