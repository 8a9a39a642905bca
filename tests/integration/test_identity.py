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
from lth_tf import data, masking
from lth_tf.pruning import criteria
from lth_tf.tracking import fingerprints, store as tracking
from lth_tf.settings import build_config
from lth_tf.models import registry as models
from lth_tf.tfkeras import keras
from pipelines.experiments import lottery, supermask, transfer
from pipelines.runs import resume

TINY = ["--iterations", "20", "--eval-interval", "10", "--rounds", "1", "--batch-size", "30", "--steps-per-execution",
        "5", "--log-models", "none", "--controls", "", "--validation-size", "100", "--dataset", "npz:tiny.npz"]
BUILDER = """from lth_tf.tfkeras import keras

def build(input_shape, num_classes):
    inputs = keras.Input(input_shape)
    x = keras.layers.Dense({width}, activation="relu", name="fc")(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, keras.layers.Dense(num_classes, name="output")(x))
"""


# ------------------------------------------------------------------------------ the hashes


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
    for name in ("source-a", "source-b"):  # the same network (a transfer keeps its source's seed), two runs
        tiny_config.experiment_name = name
        sources.append(lottery.run(tiny_config, splits=tiny_splits, echo=lambda _: None).run_id)
    tiny_config.experiment_name = "transfers"
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
