"""Which settings change the numbers? Trains one LeNet-300-100 round under each variant.

Every variant starts from the same θ0, seed and data order (mnist-5k) and trains
`--iterations`; the script prints, against the default settings, the largest weight
difference at the end and how many weights the next round's mask (magnitude, fc 20%)
puts differently. A setting whose variant differs changes results, so it belongs in the
experiment's identity (`lth_tf/settings/config.py`, `NOT_IDENTITY`). The default settings are
trained twice to show the run-to-run noise (zero on CPU).

    python benchmarks/determinism.py [--iterations 1000]
"""

import argparse
import dataclasses

import numpy as np
from tensorflow.python.framework import config as tf_config

from lth_tf import data, masking, models
from lth_tf.training import loop as training, weights
from lth_tf.settings import build_config
from lth_tf.settings.groups import DatasetHparams
from pipelines.experiments import trial

VARIANTS = {
    "default (again)": {},
    "jit_compile off": {"jit_compile": False},
    "steps_per_execution 1": {"steps_per_execution": 1},
    "steps_per_execution 10": {"steps_per_execution": 10},
    "deterministic on": {"deterministic": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1000)
    args = parser.parse_args()
    splits = data.load(DatasetHparams())
    cfg = build_config({"iterations": args.iterations})
    model = masking.mask_model(models.build("lenet_300_100", splits.input_shape, splits.num_classes))
    theta0 = weights.take(model)
    dense = masking.get_masks(model)

    def train(overrides):
        hparams = dataclasses.replace(cfg.training, **overrides)
        (tf_config.enable_op_determinism if hparams.deterministic else tf_config.disable_op_determinism)()
        weights.restore(model, theta0)
        training.train_round(model, splits, hparams, seed=0)
        trained = weights.take(model)
        mask = trial.next_masks(model, cfg, trained, theta0, dense, 1, np.random.default_rng(0))
        return trained, mask

    base_weights, base_mask = train({})
    print(f"{'variant':<24} {'max |Δ weight|':>15} {'mask entries that differ':>25}")
    for name, overrides in VARIANTS.items():
        trained, mask = train(overrides)
        delta = max(float(np.max(np.abs(a - b))) for a, b in zip(trained, base_weights))
        flips = sum(int((mask[k] != base_mask[k]).sum()) for k in mask)
        print(f"{name:<24} {delta:>15.3g} {flips:>25}")


if __name__ == "__main__":
    main()
