"""Review defects: a diverged round is reported and its masks stay nested (NaN scores, conv and
output rates: tests/unit/test_diverged_and_rates.py)."""

import mlflow

from conftest import small_model
from lth_tf.pruning import counts as pruning
from lth_tf.tfkeras import keras
from pipelines.experiments import lottery


def test_a_diverged_round_is_reported_and_masks_stay_nested(store, tiny_config, tiny_splits):
    tiny_config.training.learning_rate = 1e12  # blows up within the first evaluation interval
    lines = []
    keras.utils.set_random_seed(0)
    result = lottery.run(tiny_config, splits=tiny_splits, model=small_model, echo=lines.append)
    assert any("ticket round 0" in line and "diverged" in line for line in lines)
    for earlier, later in zip(result.masks, result.masks[1:]):
        for key in earlier:
            assert not (later[key] & ~earlier[key]).any(), key
    assert [int(m["fc1"].sum()) for m in result.masks] == [pruning.surviving_count(64 * 32, 0.2, r) for r in range(3)]
    dense = [r for r in mlflow.search_runs([result.experiment_id], output_format="list")
             if r.data.tags.get("round") == "0"]
    assert dense[0].data.tags["diverged_at"] == "10"
