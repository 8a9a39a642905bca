"""Settings: one definition, validated at the edge, YAML and flags agreeing."""

import pytest

from lth_tf import settings as config
from lth_tf.errors import UserError


def test_defaults_are_valid_and_flat_names_are_unique():
    cfg = config.ExperimentConfig().validate()
    flat = cfg.flat()
    assert len(flat) == len(config.settings())
    assert flat["fc_rate"] == 0.2 and cfg.output_rate == 0.1


def test_yaml_keys_accept_dashes_and_underscores(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("fc-rate: 0.3\nrounds: 4\nunpruned_layers: [output]\nmode: one_shot\n")
    cfg = config.build_config(config.read_yaml(str(path)))
    assert (cfg.pruning.fc_rate, cfg.pruning.rounds, cfg.model.unpruned_layers, cfg.pruning.mode) == (
        0.3, 4, ("output",), "one_shot")


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"rounds": 0}, "--rounds must be at least 1"),
        ({"fc_rate": 1.0}, "--fc-rate must be between 0 and 1"),
        ({"conv_rate": -0.1}, "--conv-rate must be between 0 and 1"),
        ({"output_rate": 1.5}, "--output-rate"),
        ({"iterations": 250, "eval_interval": 100}, "must divide --iterations"),
        ({"model": "resnet9000"}, "unknown model 'resnet9000'"),
        ({"dataset": "imagenet"}, "unknown dataset 'imagenet'"),
        ({"strategy": "sideways"}, "--strategy must be one of layerwise, global"),
        ({"learning_rate": 0}, "--learning-rate must be positive"),
        ({"colour": "red"}, "unknown setting 'colour'"),
        ({"rounds": "three"}, "'rounds' must be int"),
        ({"rounds": 2.5}, "'rounds' must be int"),
        ({"download": "yes please"}, "'download' must be bool"),
        ({"mode": "twice"}, "--mode must be one of iterative, one_shot, both"),
        ({"controls": "reinit,lucky"}, "unknown control 'lucky'"),
        ({"control_rounds": "1,x"}, "'control_rounds' must be list of integers"),
        ({"control_rounds": "0,3"}, "--control-rounds: 0 is not a pruned round"),
        ({"controls": "rewind", "rewind_to": 2000}, r"--rewind-to must be a multiple of --eval-interval \(100\) in 1..1999"),
        ({"controls": "rewind", "rewind_to": 150}, "--rewind-to must be a multiple of --eval-interval"),
        ({"reset_to": 2000}, "--reset-to must be a multiple"),
        ({"reset_to": 50}, "--reset-to must be a multiple"),
        ({"fine_tune_iterations": 150}, "--fine-tune-iterations must be a positive multiple"),
        ({"criterion": "local_change", "local_change_window": 0}, "--local-change-window must be in 1..2000"),
        ({"replicates": 0}, "--replicates must be at least 1"),
        ({"workers": 2, "gpu_share": 1.5}, r"--gpu-share must be in \(0, 1\], got 1.5"),
        ({"gpu_share": 0.5}, "--gpu-share needs --workers or --ray-address"),
        ({"criterion": "vibes"}, "unknown criterion 'vibes'"),
    ],
)
def test_bad_settings_give_one_line_errors(settings, message):
    with pytest.raises(UserError, match=message) as error:
        config.build_config(settings)
    assert "\n" not in str(error.value)


def test_malformed_yaml_and_non_mapping_are_rejected(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rounds: [1, 2\n")
    with pytest.raises(UserError, match="not valid YAML"):
        config.read_yaml(str(bad))
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(UserError, match="mapping"):
        config.read_yaml(str(listy))
    with pytest.raises(UserError, match="not found"):
        config.read_yaml(str(tmp_path / "missing.yaml"))


def test_identity_follows_results_not_bookkeeping():
    base, ran = config.build_config({}), config.Subject("lottery")
    assert base.identity(ran) == config.build_config({"experiment_name": "other", "steps_per_execution": 10}).identity(ran)
    assert base.identity(ran) != config.build_config({"fc_rate": 0.3}).identity(ran)
    assert base.identity(ran) != config.build_config({"seed": 1}).identity(ran)
