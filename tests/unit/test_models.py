"""The model zoo: the paper's weight counts, layer names presets rely on, options, and --model paths."""

import sys

import pytest

from lth_tf import masking, models
from lth_tf.settings import build_config
from lth_tf.settings.groups import ModelHparams
from lth_tf.errors import UserError
from lth_tf.tfkeras import keras

CIFAR, MNIST = (32, 32, 3), (28, 28, 1)

# (model, input, our count of conv + fc kernels, the paper's figure, its precision)
PAPER_TABLE = [
    ("lenet_300_100", MNIST, 266_200, 266e3, 1e3),
    ("conv2", CIFAR, 4_300_992, 4.3e6, 1e5),
    ("conv4", CIFAR, 2_425_024, 2.4e6, 1e5),
    ("conv6", CIFAR, 2_261_184, 2.26e6, 1e4),  # the paper says 1.7M; see models/conv.py and the README
    ("vgg19", CIFAR, 20_024_000, 20.0e6, 1e5),
    ("resnet20", CIFAR, 270_896, 271e3, 1e3),
]


@pytest.mark.parametrize("name, shape, count, paper, precision", PAPER_TABLE)
def test_weight_counts_match_the_papers_table(name, shape, count, paper, precision):
    model = models.build(name, shape, 10)
    assert models.weight_count(model) == count
    assert round(count / precision) * precision == pytest.approx(paper)
    if name.startswith("conv"):  # 3x3 'same' convolutions and FC 256, 256, 10
        convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
        assert {c.kernel_size for c in convs} == {(3, 3)} and {c.padding for c in convs} == {"same"}
        assert [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)] == [256, 256, 10]


def test_resnet18_is_resnet20_and_its_preset_pattern_leaves_shortcuts_and_output_dense():
    model = models.build("resnet18", CIFAR, 10)
    assert model.name == "resnet20" and len([layer for layer in model.layers if "conv" in layer.name]) == 19
    masked = masking.mask_model(model, ("*_shortcut", "output"))
    keys = set(masking.get_masks(masked))
    assert {"stage2_block1_shortcut", "stage3_block1_shortcut", "output"}.isdisjoint(keys)
    assert len(keys) == 19 and sum(m.size for m in masking.get_masks(masked).values()) == 270_896 - 2_560 - 640
    with pytest.raises(UserError, match="names no layer of the model: \\*_skip"):
        masking.mask_model(model, ("*_skip",))


def test_vgg19_has_batch_norm_and_a_global_pool_before_its_output():
    model = models.build("vgg19", CIFAR, 10)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Conv2D") == 16 and kinds.count("BatchNormalization") == 16
    assert kinds[-2:] == ["GlobalAveragePooling2D", "Dense"] and model.layers[-1].name == "output"


def test_dropout_follows_hidden_fc_layers_where_the_builder_takes_it():
    model = models.build("conv2", CIFAR, 10, ModelHparams(dropout=0.5))
    dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert [d.rate for d in dropouts] == [0.5, 0.5]
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in models.build("conv2", CIFAR, 10).layers)
    with pytest.raises(UserError, match="model 'vgg19' does not take --dropout"):
        build_config({"model": "vgg19", "dropout": 0.5})


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A user's package in the working directory, as `--model my_models:build` finds it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_models.py").write_text(
        "import tf_keras as keras\n"
        "def build(input_shape, num_classes):\n"
        "    inputs = keras.Input(input_shape)\n"
        "    x = keras.layers.Flatten()(inputs)\n"
        "    return keras.Model(inputs, keras.layers.Dense(num_classes, name='output')(x), name='mine')\n"
        "def fixed():\n"
        "    return build((8, 8, 1), 3)\n"
        "def not_a_model():\n"
        "    return 'a string'\n"
        "NOT_CALLABLE = 3\n"
    )
    (tmp_path / "broken_models.py").write_text("raise RuntimeError('boom')\n")
    yield
    for name in ("my_models", "broken_models"):
        sys.modules.pop(name, None)


def test_model_from_an_import_path(user_module):
    model = models.build("my_models:build", (8, 8, 1), 4)
    assert model.name == "mine" and model.output_shape == (None, 4)
    assert models.build("my_models:fixed", (28, 28, 1), 10).output_shape == (None, 3)  # takes no arguments
    assert build_config({"model": "my_models:build"}).model.model == "my_models:build"


@pytest.mark.parametrize("path, message", [
    ("no_such_module:build", "cannot import module 'no_such_module'"),
    ("broken_models:build", "cannot import module 'broken_models' \\(boom\\)"),
    ("my_models:nothing", "module 'my_models' has no attribute 'nothing'"),
    ("my_models:NOT_CALLABLE", "'NOT_CALLABLE' is a int, not a function"),
])
def test_bad_import_paths_are_one_line_errors_at_validation(user_module, path, message):
    with pytest.raises(UserError, match=message) as error:
        build_config({"model": path})
    assert "\n" not in str(error.value)


def test_import_path_returning_no_model_is_a_clear_error(user_module):
    with pytest.raises(UserError, match="returned builtins.str, not a Keras Model"):
        models.build("my_models:not_a_model", (8, 8, 1), 4)


@pytest.mark.parametrize("args, message", [
    (["--model", "my_models:nothing"], "Error: --model my_models:nothing: module 'my_models' has no attribute"),
    (["--model", "vgg19", "--dropout", "0.3"], "Error: model 'vgg19' does not take --dropout"),
    (["--lr-drops", "300,200"], "Error: --lr-drops must be increasing positive iterations, got 300,200"),
    (["--preset", "alexnet"], "Error: unknown preset 'alexnet'"),
])
def test_cli_rejects_bad_models_and_options_in_one_line(user_module, capsys, args, message):
    from lth_tf import cli

    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", *args])
    out, err = capsys.readouterr()
    assert exit_.value.code == 2 and out == ""
    assert err.startswith(message) and len(err.strip().splitlines()) == 1


def test_help_names_every_registered_model():
    from lth_tf.settings import settings

    help_text = settings()["model"].metadata["help"]
    assert all(name in help_text for name in models.REGISTRY)
