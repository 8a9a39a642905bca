"""`--reset-to k`: batches from start k are the dense run's batches from k on (the rounds that reset to
θk: tests/integration/test_rewinding.py)."""

import numpy as np
import pytest

from lth_tf.data.splits import Splits


@pytest.mark.parametrize("augment", [False, True])
def test_batches_from_start_k_are_the_dense_runs_batches_from_k_on(tiny_splits, augment):
    splits = Splits("tiny", tiny_splits.train, tiny_splits.validation, tiny_splits.test, 4, augment=augment)
    # 600 examples in batches of 30: 20 per epoch, so k = 25 starts inside the second epoch.
    dense = [x.numpy() for x, _ in splits.train_batches(30, seed=3).take(28)]
    resumed = [x.numpy() for x, _ in splits.train_batches(30, seed=3, start=25).take(3)]
    for offset, batch in enumerate(resumed):
        np.testing.assert_array_equal(batch, dense[25 + offset])
