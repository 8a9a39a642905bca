"""Training speed of masked LeNet-300-100 vs unmasked vs tfmot's `prune_low_magnitude`.

All three models are built, compiled with identical settings and trained in one process,
interleaved over several repeats (this 2-core machine's timings jump between runs), on
the same input pipeline lth-tf uses. The masked and tfmot models hold the same fixed
mask (~21% remaining, the paper's round 7). Prints steps/s (median over repeats) and
the ratios. Targets: masked >= 0.9x unmasked, and faster than tfmot.

    python benchmarks/masking_speed.py [--steps 2000] [--repeats 7] [--no-jit]
"""

import argparse
import statistics
import time

import numpy as np

from lth_tf import data, masking, models
from lth_tf.pruning import counts as pruning
from lth_tf.training import loop as training
from lth_tf.settings.groups import DatasetHparams, TrainingHparams
from lth_tf.tfkeras import keras
import tensorflow_model_optimization as tfmot
from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import PruneLowMagnitude


def build_all(splits, keep_masks_from):
    def lenet():
        return models.build("lenet_300_100", splits.input_shape, splits.num_classes)

    plain = lenet()
    masked = masking.mask_model(lenet())
    masking.set_masks(masked, keep_masks_from)
    sparsity = tfmot.sparsity.keras
    with_tfmot = sparsity.prune_low_magnitude(lenet(), pruning_schedule=sparsity.ConstantSparsity(0.5, begin_step=10**9))
    for layer in with_tfmot.layers:
        if isinstance(layer, PruneLowMagnitude):
            for weight, mask, _ in layer.pruning_vars:
                mask.assign(keep_masks_from[layer.layer.name].astype("float32"))
                weight.assign(weight * mask)
    return {
        "unmasked": (plain, []),
        "lth-tf masked": (masked, []),
        "tfmot prune_low_magnitude": (with_tfmot, [sparsity.UpdatePruningStep()]),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps-per-execution", type=int, default=50)
    parser.add_argument("--no-jit", action="store_true")
    args = parser.parse_args()

    splits = data.load(DatasetHparams())
    keras.utils.set_random_seed(0)
    probe = masking.mask_model(models.build("lenet_300_100", splits.input_shape, splits.num_classes))
    weights = {k: v.numpy() for k, v in masking.prunable_weights(probe).items()}
    rates = {"fc1": 0.2, "fc2": 0.2, "output": 0.1}
    masks = pruning.prune_layerwise({k: np.abs(w) for k, w in weights.items()}, masking.get_masks(probe), rates, 7)
    print(f"mask: {pruning.remaining_fractions(masks)['total']:.1%} of weights remaining")

    hparams = TrainingHparams(jit_compile=not args.no_jit, steps_per_execution=args.steps_per_execution,
                              eval_interval=args.steps)
    contenders = build_all(splits, masks)
    batches = splits.train_batches(hparams.batch_size, seed=0)
    for model, callbacks in contenders.values():
        training.compile_model(model, hparams)
        model.fit(batches, steps_per_epoch=200, epochs=1, verbose=0, callbacks=callbacks)  # warm-up, compile
    rates_seen = {name: [] for name in contenders}
    for _ in range(args.repeats):
        for name, (model, callbacks) in contenders.items():
            start = time.perf_counter()
            model.fit(batches, steps_per_epoch=args.steps, epochs=1, verbose=0, callbacks=callbacks)
            rates_seen[name].append(args.steps / (time.perf_counter() - start))

    median = {name: statistics.median(r) for name, r in rates_seen.items()}
    print(f"jit_compile={hparams.jit_compile} steps_per_execution={hparams.steps_per_execution} "
          f"batch={hparams.batch_size} steps={args.steps} repeats={args.repeats}")
    for name, value in median.items():
        spread = f"{min(rates_seen[name]):.0f}-{max(rates_seen[name]):.0f}"
        print(f"  {name:28s} {value:7.0f} steps/s (median; range {spread})")
    print(f"masked / unmasked : {median['lth-tf masked'] / median['unmasked']:.2f}x  (target >= 0.90)")
    print(f"masked / tfmot    : {median['lth-tf masked'] / median['tfmot prune_low_magnitude']:.2f}x  (target > 1)")
    for key, mask in masks.items():
        assert np.count_nonzero(masking.prunable_weights(contenders['lth-tf masked'][0])[key].numpy()[~mask]) == 0


if __name__ == "__main__":
    main()
