"""GPUs shared between processes: TensorFlow's memory growth on every GPU, before TensorFlow first uses one.

By default TensorFlow maps nearly all of a GPU's memory into the first process that
touches it, so a second network on the same GPU (`--workers` with a fraction of a GPU
each, `--gpu-share`) fails to allocate. With memory growth TensorFlow allocates as the
process needs (TF's GPU guide, `tf.config.experimental.set_memory_growth`). It must be set
before the runtime initializes the GPUs, so `lth_tf.tfkeras`, where TensorFlow is
imported, calls `grow_memory` right after the import; a later call finds them initialized
and leaves them as they are. Not run on a GPU here (the project's machines have none).
"""

from __future__ import annotations

import tensorflow as tf


def grow_memory() -> int:
    """Turns on memory growth for every GPU TensorFlow sees; returns how many it set (0 on a CPU)."""
    done = 0
    for device in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(device, True)
        except RuntimeError:  # the runtime is initialized: too late, and its choice stands
            continue
        done += 1
    return done
