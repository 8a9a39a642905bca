"""`lth-tf --help`, every command's `--help` and bad input answer before TensorFlow or MLflow is imported.

What makes them answer in under a second (issue 23): the flags, their choices and every
check of a configuration are read from the settings and the plug-ins' declarations, which
import nothing heavy; TensorFlow, Keras, tfmot, TFDS and MLflow load only when work starts.
Measured by `benchmarks/startup.py`; this checks the behaviour, in a fresh interpreter (a
subprocess), since this test process has long imported them.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("tensorflow", "tf_keras", "tensorflow_model_optimization", "tensorflow_datasets", "mlflow", "keras", "ray")

PROBE = r"""
import io, json, sys, contextlib
from lth_tf.cli import cli, main
from lth_tf.settings import build_config

codes = {}
commands = [["--help"]] + [[name, "--help"] for name in sorted(cli.commands)] + [
    ["run", "--fc-rates", "2"], ["run", "--fc-rate", "2"], ["run", "--model", "nosuch"],
    ["run", "--dataset", "nosuch"], ["run", "--robustness", "x:1"], ["run", "--controls", "nosuch"],
    ["run", "--criterion", "local_change", "--local-change-window", "0"], ["run", "--rounds", "3", "--iterations", "300",
    "--eval-interval", "100", "--controls", "gradual", "--gradual-end", "900"],
    ["supermask", "--keep-fractions", "2"], ["run", "--initializer", "nosuch"]]
for argv in commands:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
            codes[" ".join(argv)] = (0, out.getvalue()[:60])
        except SystemExit as stop:
            codes[" ".join(argv)] = (stop.code, err.getvalue().strip())
# a whole valid configuration, every plug-in's settings and checks included
cfg = build_config({"controls": "reinit,random_prune,snip,grasp,synflow,gradual,fine_tune,noise,rewind",
                    "criterion": "local_change", "initializer": "signed_constant", "model": "conv2",
                    "dataset": "npz:x.npz", "robustness": "fgsm:0.1"})
print(json.dumps({"codes": codes, "loaded": sorted(m for m in sys.modules if "." not in m),
                  "controls": list(cfg.controls.controls)}))
"""


def test_help_and_bad_input_import_no_tensorflow_keras_tfmot_or_mlflow(tmp_path):
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    loaded = [name for name in HEAVY if name in result["loaded"]]
    assert loaded == [], f"imported before any work: {loaded}"
    codes = result["codes"]
    assert all(code == 0 for argv, (code, _) in codes.items() if argv.endswith("--help")), codes
    bad = {argv: answer for argv, answer in codes.items() if not argv.endswith("--help")}
    assert all(code == 2 and len(message.splitlines()) == 1 for code, message in bad.values()), bad
    assert "did you mean '--fc-rate'" in bad["run --fc-rates 2"][1]
    assert "unknown model 'nosuch'" in bad["run --model nosuch"][1]
    assert "unknown dataset 'nosuch'" in bad["run --dataset nosuch"][1]
    assert "--robustness" in bad["run --robustness x:1"][1]
    assert "unknown control 'nosuch'" in bad["run --controls nosuch"][1]
    assert "--local-change-window" in bad["run --criterion local_change --local-change-window 0"][1]
    assert "past the budget" in bad[next(a for a in bad if "--gradual-end" in a)][1]
    assert "--keep-fractions" in bad["supermask --keep-fractions 2"][1]
    assert "signed_constant" in bad["run --initializer nosuch"][1]  # the lazily loaded plug-in is still a choice
    assert result["controls"][0] == "reinit"


def test_work_imports_tensorflow_quietly_and_signed_constant_models_load_back(tmp_path):
    """When work starts, TensorFlow's first import goes through `lth_tf.tfkeras` (no C++ start-up notes on
    stderr, tfmot without Keras 3), and a model drawn with the lazily registered `signed_constant`
    initializer reads back from its JSON in a process that only imported the masks."""
    code = ("import sys\nfrom lth_tf import masking\n"
            "from lth_tf.tfkeras import keras\n"
            "model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name='fc')])\n"
            "from lth_tf.models import initializers\n"
            "initializers.apply(model, 'signed_constant')\n"
            "print(model.to_json())\n")
    made = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert made.returncode == 0, made.stderr
    assert "oneDNN" not in made.stderr and "cuda" not in made.stderr.lower(), made.stderr
    architecture = made.stdout.splitlines()[-1]
    assert "SignedConstant" in architecture
    read = ("import sys\nfrom lth_tf import masking\nfrom lth_tf.tfkeras import keras\n"
            f"model = keras.models.model_from_json({architecture!r})\n"
            "print(type(model.get_layer('fc').kernel_initializer).__name__, 'keras' in sys.modules)\n")
    back = subprocess.run([sys.executable, "-c", read], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert back.returncode == 0, back.stderr
    assert back.stdout.split() == ["SignedConstant", "False"]
