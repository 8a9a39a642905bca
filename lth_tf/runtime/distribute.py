"""One network on several devices: `--distribute mirrored|multi_worker` (tf.distribute).

A network is trained under a strategy by creating its variables in the strategy's scope:
Keras then compiles, fits and evaluates it on every replica (each sees a slice of the
batch; gradients are summed across replicas). Nothing of the lottery-ticket machinery
needs to know: masks are mirrored variables written from outside any replica (every copy
at once), the wrapper masks each replica's gradient, so the summed gradient of a pruned
weight is zero and the weight stays exactly zero on every replica; snapshots read and
restore mirrored variables like plain ones.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Optional

import tensorflow as tf

STRATEGIES = {
    "mirrored": lambda: tf.distribute.MirroredStrategy(),
    "multi_worker": lambda: tf.distribute.MultiWorkerMirroredStrategy(),
}
"""`--distribute` choices beside 'none'. MultiWorkerMirroredStrategy reads the cluster from $TF_CONFIG."""


@functools.lru_cache(maxsize=None)
def strategy(name: str) -> Optional[tf.distribute.Strategy]:
    """The process's strategy for `name` (one per process: collectives are set up once), or None."""
    return STRATEGIES[name]() if name in STRATEGIES else None


def scope(name: str):
    """Where to build a network so that it trains under `name`'s strategy (a no-op for 'none')."""
    chosen = strategy(name)
    return chosen.scope() if chosen is not None else contextlib.nullcontext()


def replicas(name: str) -> int:
    chosen = strategy(name)
    return chosen.num_replicas_in_sync if chosen is not None else 1
