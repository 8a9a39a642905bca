"""An experiment's identity: what it runs (command, data, a user's model, a transfer's source)
and the settings that differ from their defaults; old identities keep being found."""

import dataclasses
import sys

import mlflow
import numpy as np
import pytest
from mlflow.data.digest_utils import compute_numpy_digest
from mlflow.tracking import MlflowClient

from conftest import invoke, small_model
from lth_tf import criteria, data, fingerprints, masking, tracking
from lth_tf.config import ExperimentConfig, Subject, build_config
from lth_tf.hparams import TrainingHparams, setting
from lth_tf.models import registry as models
from lth_tf.tfkeras import keras
from pipelines import lottery, resume, supermask, transfer

DATA = {"train": "00112233445566aa", "validation": "00112233445566bb", "test": "00112233445566cc"}
TINY = ["--iterations", "20", "--eval-interval", "10", "--rounds", "1", "--batch-size", "30", "--steps-per-execution",
        "5", "--log-models", "none", "--controls", "", "--validation-size", "100", "--dataset", "npz:tiny.npz"]
BUILDER = """from lth_tf.tfkeras import keras

def build(input_shape, num_classes):
    inputs = keras.Input(input_shape)
    x = keras.layers.Dense({width}, activation="relu", name="fc")(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, keras.layers.Dense(num_classes, name="output")(x))
"""


# ------------------------------------------------------------------------------ the hashes


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


# ------------------------------------------------------------------------------ real runs


def tiny_npz(path, relabel=False):
    """Learnable 8x8 images of 2 classes; `relabel` flips one training label."""
    rng = np.random.default_rng(0)
    x = rng.random((700, 8, 8), dtype=np.float32)
    y = (x.mean(axis=(1, 2)) > 0.5).astype("int64")
    if relabel:
        y[5] = 1 - y[5]
    np.savez(path, x_train=x[:600], y_train=y[:600], x_test=x[600:], y_test=y[600:])


def parents(experiment="identity"):
    client = MlflowClient(tracking.default_tracking_uri())
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    return [r for r in client.search_runs([experiment_id]) if r.data.tags.get("kind") == "experiment"]


def test_an_edited_model_builder_is_a_new_experiment(store, capsys):
    tiny_npz("tiny.npz")
    builder = store / "edited_builder.py"
    builder.write_text(BUILDER.format(width=32))
    args = ["run", *TINY, "--model", "edited_builder:build", "--experiment-name", "identity"]
    code, out, err = invoke(args, capsys)
    assert code == 0, err
    code, out, err = invoke(args, capsys)  # unchanged: reported
    assert code == 0 and "This experiment finished before" in out
    sys.modules.pop("edited_builder")  # as a new process would import it
    builder.write_text(BUILDER.format(width=128))
    code, out, err = invoke(args, capsys)
    assert code == 0, err
    assert "finished before" not in out and "seed 0 ticket round 1" in out
    runs = parents()
    assert len(runs) == 2 and runs[0].data.tags["identity"] != runs[1].data.tags["identity"]
    assert {r.data.params["prunable_weights"] for r in runs} == {str(64 * 32 + 32 * 2), str(64 * 128 + 128 * 2)}


def test_relabelled_data_is_a_new_experiment_and_its_digest_is_the_logged_one(store, capsys):
    tiny_npz("tiny.npz")
    args = ["run", *TINY, "--model", "conftest:small_model", "--experiment-name", "identity"]
    assert invoke(args, capsys)[0] == 0
    tiny_npz("tiny.npz", relabel=True)
    code, out, err = invoke(args, capsys)
    assert code == 0, err
    assert "finished before" not in out and "seed 0 ticket round 1" in out
    runs = parents()
    assert len({r.data.tags["identity"] for r in runs}) == 2
    splits = data.load(build_config({"dataset": "npz:tiny.npz", "validation_size": 100}).dataset)
    logged = {t.value: i.dataset.digest for i in runs[0].inputs.dataset_inputs for t in i.tags}
    assert logged == fingerprints.data(splits)  # the newest run: the relabelled data


def test_transfers_from_two_sources_are_two_families(store, tiny_config, tiny_splits, capsys):
    tiny_config.pruning.rounds, tiny_config.model.model, tiny_config.controls.controls = 1, "conftest:small_model", ()
    tiny_config.training.iterations = 20
    sources = []
    for seed in (0, 1):
        tiny_config.seed = seed
        sources.append(lottery.run(tiny_config, splits=tiny_splits, echo=lambda _: None).run_id)
    tiny_config.seed, tiny_config.experiment_name = 0, "transfers"
    runs = [transfer.run(tiny_config, f"{source}:1", echo=lambda _: None, splits=tiny_splits).run_id
            for source in sources]
    tags = [mlflow.get_run(run_id).data.tags for run_id in runs]
    assert tags[0]["family"] != tags[1]["family"] and tags[0]["identity"] != tags[1]["identity"]
    code, _, err = invoke(["report", "transfers"], capsys)  # not pooled as replicates of one experiment
    assert code == 2 and "holds runs of different settings" in err


def test_a_supermask_run_is_not_a_lottery_run_of_the_same_name(store, tiny_config, tiny_splits):
    tiny_config.model.model, tiny_config.experiment_name, tiny_config.pruning.rounds = "conftest:small_model", "shared", 1
    tiny_config.training.iterations, tiny_config.supermask.keep_fractions = 20, (0.5,)  # the same settings for both
    supermask.run(tiny_config, splits=tiny_splits, echo=lambda _: None)
    result = lottery.run(tiny_config, splits=tiny_splits, echo=lambda _: None)
    assert not result.finished_before
    assert [(r.kind, r.round) for r in result.rounds] == [("ticket", 0), ("ticket", 1)]


# ------------------------------------------------------------------------------ resuming


def interrupted_at(prefix):
    def status(line):
        if line.startswith(prefix):
            raise KeyboardInterrupt
    return status


def as_earlier_lth_tf_tagged(run_id, cfg, splits):
    """Tags and inputs as lth-tf wrote them before `Subject`: the legacy hashes, MLflow's own digests of the data
    (a run made here also has this version's digests among its inputs)."""
    identity, family = cfg.legacy()
    MlflowClient().set_tag(run_id, "identity", identity)
    MlflowClient().set_tag(run_id, "family", family)
    arrays = {"train": splits.train, "validation": splits.validation, "test": splits.test}
    tracking.log_inputs(run_id, tracking.dataset_inputs("tiny", arrays,
                                                        {k: compute_numpy_digest(*v) for k, v in arrays.items()}))
    return identity, family


def test_a_run_of_the_earlier_scheme_resumes_and_is_retagged_once(store, tiny_config, tiny_splits):
    tiny_config.pruning.rounds, tiny_config.training.jit_compile, tiny_config.controls.controls = 1, False, ()
    model = lambda: masking.mask_model(small_model())  # noqa: E731
    with pytest.raises(KeyboardInterrupt):
        lottery.run(tiny_config, splits=tiny_splits, model=model, echo=lambda _: None,
                    status=interrupted_at("seed 0 ticket round 1"))
    [old] = parents("lenet_300_100-mnist-5k")
    identity, family = as_earlier_lth_tf_tagged(old.info.run_id, tiny_config, tiny_splits)
    client = MlflowClient()

    lines = []
    result = lottery.run(tiny_config, splits=tiny_splits, model=model, echo=lines.append)
    assert result.run_id == old.info.run_id and not result.finished_before
    said = [line for line in lines if "tagged by an earlier lth-tf" in line]
    assert len(said) == 1 and said[0].startswith(f"run {old.info.run_id} was tagged by an earlier lth-tf")
    assert "seed 0 ticket round 0 (100.0% remaining): finished before" in "\n".join(lines)
    tags = client.get_run(old.info.run_id).data.tags
    assert tags[resume.LEGACY_TAG] == identity and tags["identity"] != identity and tags["family"] != family

    lines = []
    again = lottery.run(tiny_config, splits=tiny_splits, model=model, echo=lines.append)
    assert again.finished_before and again.run_id == old.info.run_id
    assert not [line for line in lines if "earlier lth-tf" in line]  # said once


def test_an_old_run_of_other_data_is_not_taken_for_this_experiment(store, tiny_config, tiny_splits):
    tiny_config.pruning.rounds, tiny_config.training.jit_compile, tiny_config.controls.controls = 1, False, ()
    model = lambda: masking.mask_model(small_model())  # noqa: E731
    old = lottery.run(tiny_config, splits=tiny_splits, model=model, echo=lambda _: None)
    as_earlier_lth_tf_tagged(old.run_id, tiny_config, tiny_splits)
    relabelled = dataclasses.replace(tiny_splits, train=(tiny_splits.train[0], (tiny_splits.train[1] + 1) % 4))
    result = lottery.run(tiny_config, splits=relabelled, model=model, echo=lambda _: None)
    assert result.run_id != old.run_id and not result.finished_before


def test_a_model_changed_under_the_same_identity_is_one_line_and_leaves_the_run_as_it_was(
        store, tiny_config, tiny_splits, capsys, monkeypatch):
    width = {"fc": 32}

    def net(input_shape, num_classes):  # a registry model, as some lth-tf version builds it
        from lth_tf.tfkeras import keras
        inputs = keras.Input(input_shape)
        x = keras.layers.Dense(width["fc"], activation="relu", name="fc")(keras.layers.Flatten()(inputs))
        return keras.Model(inputs, keras.layers.Dense(num_classes, name="output")(x))

    monkeypatch.setitem(models.REGISTRY, "identity_net", net)
    tiny_npz("tiny.npz")
    flags = dict(zip([a.lstrip("-").replace("-", "_") for a in TINY[::2]], TINY[1::2]))
    cfg = build_config({**flags, "model": "identity_net", "experiment_name": "identity"})
    with pytest.raises(KeyboardInterrupt):
        lottery.run(cfg, echo=lambda _: None, status=interrupted_at("seed 0 ticket round 1"))
    [before] = parents()
    width["fc"] = 64  # the next version's identity_net is wider
    code, out, err = invoke(["run", *TINY, "--model", "identity_net", "--experiment-name", "identity"], capsys)
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == (f"Error: run {before.info.run_id} was made with another model: its weights 'fc' had "
                           "shape (64, 32), the model now gives (64, 64); pass --restart for a fresh run")
    [after] = parents()
    assert after.info.status == before.info.status == "KILLED" and after.data.tags == before.data.tags


def test_a_mask_pruned_otherwise_on_resume_is_one_line_and_leaves_the_run_as_it_was(
        store, tiny_config, tiny_splits, monkeypatch):
    tiny_config.pruning.rounds, tiny_config.controls.controls = 2, ()
    model = lambda: masking.mask_model(small_model())  # noqa: E731
    with pytest.raises(KeyboardInterrupt):
        lottery.run(tiny_config, splits=tiny_splits, model=model, echo=lambda _: None,
                    status=interrupted_at("seed 0 ticket round 2"))
    [before] = parents("lenet_300_100-mnist-5k")
    # A later version whose magnitude criterion ranks otherwise: round 1's mask comes out different.
    monkeypatch.setitem(criteria.CRITERIA, "magnitude", lambda final, *_: -np.abs(final))
    with pytest.raises(resume.Changed, match=r"the mask of run \w+ differs from the one these settings give now"):
        lottery.run(tiny_config, splits=tiny_splits, model=model, echo=lambda _: None)
    [after] = parents("lenet_300_100-mnist-5k")
    assert after.info.status == before.info.status == "KILLED"
    assert resume.RESUMES_TAG not in after.data.tags
