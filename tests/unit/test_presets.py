"""Presets: the paper's table by name, overridable (each one trained: tests/integration/test_presets.py)."""

from pathlib import Path

import pytest

from conftest import invoke
from lth_tf import settings as config
from lth_tf.errors import UserError
from lth_tf.settings.presets import PRESETS, markdown_table, supermask_table


def test_presets_set_the_papers_table():
    lenet, conv6, resnet, vgg = (config.build_config({"preset": p}) for p in ("lenet", "conv6", "resnet18", "vgg19"))
    assert (lenet.model.model, lenet.dataset.dataset, lenet.training.iterations, lenet.training.batch_size,
            lenet.training.optimizer, lenet.training.learning_rate, lenet.pruning.fc_rate, lenet.output_rate) == (
        "lenet_300_100", "tfds:mnist", 50_000, 60, "adam", 1.2e-3, 0.2, 0.1)
    assert (conv6.model.model, conv6.dataset.dataset, conv6.training.iterations, conv6.training.learning_rate,
            conv6.pruning.conv_rate, conv6.pruning.fc_rate, conv6.pruning.strategy) == (
        "conv6", "tfds:cifar10", 30_000, 3e-4, 0.15, 0.2, "layerwise")
    t = resnet.training
    assert (resnet.model.model, t.iterations, t.batch_size, t.optimizer, t.momentum, t.learning_rate,
            t.warmup_iterations, t.lr_drops, t.weight_decay) == (
        "resnet20", 30_000, 128, "sgd", 0.9, 0.03, 20_000, (20_000, 25_000), 1e-4)
    assert (resnet.pruning.strategy, resnet.pruning.global_rate, resnet.model.unpruned_layers,
            resnet.dataset.augment) == ("global", 0.2, ("*_shortcut", "output"), True)
    assert (vgg.training.iterations, vgg.training.batch_size, vgg.training.learning_rate, vgg.training.lr_drops,
            vgg.training.warmup_iterations, vgg.model.unpruned_layers) == (
        112_000, 64, 0.1, (56_000, 84_000), 10_000, ("output",))


def test_precedence_is_defaults_then_preset_then_yaml_then_flags(tmp_path):
    (tmp_path / "exp.yaml").write_text("preset: conv4\nlearning_rate: 0.001\niterations: 1000\n")
    yaml_settings = config.read_yaml(str(tmp_path / "exp.yaml"))
    cfg = config.build_config({**yaml_settings, "iterations": 500})  # how `lth-tf run` merges flags over YAML
    assert cfg.preset == "conv4" and cfg.model.model == "conv4"  # from the preset
    assert cfg.training.learning_rate == 0.001 and cfg.training.iterations == 500  # YAML, then the flag
    assert cfg.pruning.rounds == 15  # untouched by all: the default
    assert config.build_config({"preset": "conv4", "conv_rate": 0.3}).pruning.conv_rate == 0.3
    assert cfg.flat()["preset"] == "conv4"
    ran = config.Subject("lottery")
    assert config.build_config({"preset": "conv2"}).identity(ran) == config.build_config(
        {k: v for k, v in PRESETS["conv2"].items()}).identity(ran)  # the identity follows the settings
    with pytest.raises(UserError, match="unknown preset 'conv9'; choose from lenet, conv2"):
        config.build_config({"preset": "conv9"})


def test_readme_shows_the_preset_table():
    """The docs' guides (moved there from README) show the tables `lth-tf presets` prints."""
    guides = next(p for p in Path(__file__).resolve().parents if (p / "setup.cfg").exists()) / "docs" / "guides"
    assert markdown_table() in (guides / "run.md").read_text()
    assert supermask_table() in (guides / "supermask.md").read_text()


def test_presets_command_lists_the_table(capsys):
    code, out, _ = invoke(["presets"], capsys)
    assert code == 0 and out.startswith(markdown_table()) and out.strip().endswith(supermask_table())
