"""An experiment's identity: what it runs (command, data, a user's model, a transfer's source)
and the settings that differ from their defaults; pinned and legacy identities (runs that find them:
tests/integration/test_identity.py)."""

import dataclasses

import numpy as np
import pytest
from mlflow.data.digest_utils import compute_numpy_digest

from conftest import small_model
from lth_tf import masking
from lth_tf.tracking import fingerprints
from lth_tf.settings import Subject, build_config
from lth_tf.settings.groups import TrainingHparams, setting
from lth_tf.tfkeras import keras


DATA = {"train": "00112233445566aa", "validation": "00112233445566bb", "test": "00112233445566cc"}


@pytest.mark.parametrize("settings, subject, identity, family", [
    ({}, Subject("lottery", DATA), "0a0bf9cfb707", "0a0bf9cfb707"),
    ({"seed": 3, "fc_rate": 0.3, "controls": "reinit,random_prune", "jit_compile": True, "lr_drops": "100,200",
      "experiment_name": "bookkeeping", "steps_per_execution": 10},
     Subject("lottery", DATA), "369c89f188c7", "992eda9167f4"),
    ({"model": "conftest:small_model", "dataset": "npz:x.npz"}, Subject("lottery", DATA, "0123456789abcdef"),
     "769e1d029940", "769e1d029940"),
    ({"keep_fractions": "0.5"}, Subject("supermask", DATA), "50de549c2093", "50de549c2093"),
    ({"optimizer": "sgd", "learning_rate": 0.05}, Subject("transfer", DATA, source="f" * 32 + ":1,2"),
     "9f2fd6945cc3", "9f2fd6945cc3"),
])
def test_identities_are_pinned(settings, subject, identity, family):
    """These strings name experiments in users' stores: a change here means nothing resumes after an upgrade."""
    cfg = build_config(settings)
    assert (cfg.identity(subject), cfg.family(subject)) == (identity, family)


def test_a_new_setting_at_its_default_leaves_every_identity_alone():
    @dataclasses.dataclass
    class Later(TrainingHparams):  # a later version's training settings: one more, defaulting to the old behaviour
        label_smoothing: float = setting(0.0, "A setting added later.")

    now = build_config({"fc_rate": 0.3, "seed": 2})
    later = dataclasses.replace(now, training=Later(**dataclasses.asdict(now.training)))
    subject = Subject("lottery", DATA)
    assert (later.identity(subject), later.family(subject)) == (now.identity(subject), now.family(subject))
    assert later.legacy() == now.legacy()
    later.training.label_smoothing = 0.1
    assert later.identity(subject) != now.identity(subject)
    assert later.legacy() == (None, None)  # no run of the earlier scheme had it


def test_identity_covers_the_command_data_model_and_source_but_not_bookkeeping():
    cfg, subject = build_config({}), Subject("lottery", DATA)
    others = [Subject("supermask", DATA), Subject("lottery", {**DATA, "train": "ffffffffffffffff"}),
              Subject("lottery", DATA, "0123456789abcdef"), Subject("transfer", DATA, source="a" * 32 + ":1"),
              Subject("transfer", DATA, source="b" * 32 + ":1")]
    assert len({cfg.identity(s) for s in [subject, *others]}) == 6
    assert len({cfg.family(s) for s in [subject, *others]}) == 6
    quiet = build_config({"experiment_name": "x", "tracking_uri": "sqlite:///y.db", "workers": 2, "test_curve": False})
    assert quiet.identity(subject) == cfg.identity(subject)
    assert build_config({"seed": 1}).family(subject) == cfg.family(subject) != build_config({"seed": 1}).identity(subject)


@pytest.mark.parametrize("settings, identity, family", [
    ({}, "dd9bccab2a82", "c72503db2310"),
    ({"iterations": 40, "eval_interval": 10, "rounds": 2, "batch_size": 30, "steps_per_execution": 5,
      "log_models": "none"}, "afde43629a4f", "bbe6a4c7db6f"),
    ({"model": "conv2", "fc_rate": 0.3, "controls": "reinit,random_prune", "seed": 3, "jit_compile": True,
      "lr_drops": "100,200"}, "e988132e37c4", "7f8c9444afa6"),
])
def test_legacy_gives_the_earlier_schemes_identities(settings, identity, family):
    """The strings the earlier `ExperimentConfig.identity()` / `family()` gave (computed with that code)."""
    assert build_config(settings).legacy() == (identity, family)


def test_the_data_digest_covers_every_value_where_mlflows_stops_at_10000():
    x, y = np.zeros((200, 8, 8, 1), np.float32), np.arange(20000) % 10
    assert fingerprints.split_digest(x, y[:200]) == "de470ef33ba68256"
    relabelled = y.copy()
    relabelled[-1] = 0
    assert compute_numpy_digest(x, relabelled) == compute_numpy_digest(x, y)  # MLflow's misses it
    assert fingerprints.split_digest(x, relabelled) != fingerprints.split_digest(x, y)
    x2 = x.copy()
    x2[-1, 0, 0, 0] = 1.0
    assert fingerprints.split_digest(x2, y) != fingerprints.split_digest(x, y)


def test_architecture_follows_widths_wiring_and_weight_names_not_made_up_names():
    def unnamed(width=8):
        inputs = keras.Input((8, 8, 1))
        x = keras.layers.Dense(width, name="fc")(keras.layers.Flatten()(inputs))  # Flatten, Input: made-up names
        return keras.Model(inputs, keras.layers.Dense(4, name="output")(x))

    first = fingerprints.architecture(masking.mask_model(unnamed()))
    assert fingerprints.architecture(masking.mask_model(unnamed())) == first  # flatten_1, input_2: same model
    assert fingerprints.architecture(unnamed()) == first  # lth-tf's mask wrappers are not the user's architecture
    assert fingerprints.architecture(unnamed(16)) != first
    assert fingerprints.architecture(small_model()) == fingerprints.architecture(small_model(name="other"))
    relu = small_model()
    tanh = keras.models.clone_model(relu, clone_function=lambda layer: layer.__class__.from_config(
        {**layer.get_config(), **({"activation": "tanh"} if layer.name == "fc1" else {})}))
    assert fingerprints.architecture(tanh) != fingerprints.architecture(relu)
