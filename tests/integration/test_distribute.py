"""`--distribute mirrored` on two logical CPU devices, which behave like two GPUs.

Logical devices must be configured before TensorFlow initializes, so the experiment runs
in a fresh subprocess and reports back as JSON.
"""

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from lth_tf import masking
    from lth_tf.runtime import distribute
    from lth_tf.training import weights
    from lth_tf.training.callbacks import ResetToInitialWeights
    from lth_tf.settings import build_config
    from lth_tf.training.loop import train_round
    from lth_tf.data.splits import Splits
    from pipelines.experiments import lottery

    rng = np.random.default_rng(0)
    def make(n):
        x = rng.random((n, 8, 8, 1), dtype=np.float32)
        return x, (x[:, :4].mean(axis=(1, 2, 3)) > x[:, 4:].mean(axis=(1, 2, 3))).astype("int64")
    splits = Splits("tiny", make(600), make(120), make(120), num_classes=2)
    settings = {"iterations": 40, "eval_interval": 10, "rounds": 1, "batch_size": 30, "steps_per_execution": 5,
                "model": "lenet_300_100"}
    masks, pruned = {}, []
    for name in ("none", "mirrored"):
        cfg = build_config({**settings, "distribute": name, "experiment_name": name})
        result = lottery.run(cfg, splits, echo=lambda line: None)
        masks[name] = result.masks[1]
    # The ticket of round 1 retrained under the strategy: every replica's copy of a pruned weight.
    model = lottery.build_masked_model(cfg, splits)
    masking.set_masks(model, masks["mirrored"])
    train_round(model, splits, cfg.training, 0, [ResetToInitialWeights()])
    for key, weight in masking.prunable_weights(model).items():
        pruned += [float(np.abs(copy.numpy()[~masks["mirrored"][key]]).max()) for copy in weight.values]
    agree = [float(np.mean(masks["none"][k] == masks["mirrored"][k])) for k in masks["none"]]
    print(json.dumps({"replicas": distribute.replicas("mirrored"), "copies": len(pruned), "pruned_max": max(pruned),
                      "agreement": min(agree), "kept": [int(m.sum()) for m in masks["mirrored"].values()],
                      "kept_single": [int(m.sum()) for m in masks["none"].values()]}))
""")


def test_mirrored_on_two_devices_keeps_pruned_weights_zero_and_finds_the_same_masks(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}  # the default store in tmp_path
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert report["copies"] == 2 * 3  # two copies of each of the three pruned kernels
    assert report["pruned_max"] == 0.0  # exactly zero on every replica
    assert report["kept"] == report["kept_single"]  # the same counts per layer
    assert report["agreement"] >= 0.99  # the same weights survive, up to float ties in summation order
