"""Pruning and artifact costs of one VGG-19 round (20M weights): before and after, one process.

Before: a stable full sort of every layer's scores (and of the pool, with the global
strategy), and `np.savez_compressed` of θ0 and of the mask. After: `pruning.keep_top`
(selection by `np.partition`) and `artifacts.npz_bytes` (masks at zlib level 1, weights
stored). Both sides run on the same arrays, interleaved, and must give identical masks.

    python benchmarks/pruning_speed.py [--model vgg19] [--repeats 3]
"""

import argparse
import io
import statistics
import time

import numpy as np

from lth_tf import masking, models
from lth_tf.tracking import artifacts
from lth_tf.pruning import counts as pruning


def sorted_keep_top(scores, mask, count):
    """The pre-selection implementation: a stable sort of all scores."""
    flat = np.where(mask.reshape(-1), scores.reshape(-1).astype(np.float64), -np.inf)
    kept = np.zeros(flat.shape, dtype=bool)
    kept[np.argsort(-flat, kind="stable")[:count]] = True
    return kept.reshape(mask.shape)


def compressed_npz(arrays):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg19")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    model = masking.mask_model(models.build(args.model, (32, 32, 3), 10))
    theta0 = {k: v.numpy() for k, v in masking.prunable_weights(model).items()}
    dense = {k: np.ones(w.shape, bool) for k, w in theta0.items()}
    scores = {k: np.abs(w + np.random.default_rng(0).normal(0, 0.01, w.shape).astype(w.dtype))
              for k, w in theta0.items()}
    total = sum(w.size for w in theta0.values())
    print(f"{args.model}: {total:,} prunable weights in {len(theta0)} layers")

    pool_scores = np.concatenate([s.reshape(-1) for s in scores.values()])
    pool_mask = np.ones(pool_scores.size, bool)
    count = pruning.surviving_count(total, 0.2, 1)
    mask_after_round = pruning.prune_layerwise(scores, dense, {k: 0.2 for k in dense}, 1)
    tasks = {
        "layerwise pruning": (
            lambda: {k: sorted_keep_top(scores[k], dense[k], int(0.9 * dense[k].size)) for k in dense},
            lambda: {k: pruning.keep_top(scores[k], dense[k], int(0.9 * dense[k].size)) for k in dense},
        ),
        "global pruning": (lambda: sorted_keep_top(pool_scores, pool_mask, count),
                           lambda: pruning.keep_top(pool_scores, pool_mask, count)),
        "θ0 artifact": (lambda: compressed_npz(theta0), lambda: artifacts.npz_bytes(theta0)),
        "mask artifact": (lambda: compressed_npz(mask_after_round), lambda: artifacts.npz_bytes(mask_after_round)),
    }
    for name in ("θ0 artifact", "mask artifact"):
        before, after = (len(make()) / 1e6 for make in tasks[name])
        print(f"  {name}: {before:.1f} MB before, {after:.1f} MB after")
    seconds = {name: ([], []) for name in tasks}
    for _ in range(args.repeats):
        for name, (before, after) in tasks.items():
            old_time, old = timed(before)
            new_time, new = timed(after)
            seconds[name][0].append(old_time)
            seconds[name][1].append(new_time)
            if name == "layerwise pruning":
                assert all(np.array_equal(old[k], new[k]) for k in old), "selection and sort disagree"
            elif name == "global pruning":
                assert np.array_equal(old, new), "selection and sort disagree"
    print(f"median of {args.repeats} repeats, before -> after (the machine may be shared; compare ratios):")
    for name, (old, new) in seconds.items():
        before, after = statistics.median(old), statistics.median(new)
        print(f"  {name:18s} {before:6.2f} s -> {after:6.2f} s  ({before / after:.1f}x faster)")


if __name__ == "__main__":
    main()
