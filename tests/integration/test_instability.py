"""Instability analysis (linear mode connectivity) of a finished lottery experiment, on tiny real runs."""

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from conftest import invoke
from lth_tf import masking, naming
from lth_tf.tracking import artifacts, store as tracking
from lth_tf.training import interpolation, weights
from lth_tf.training.callbacks import StartFrom
from lth_tf.training.loop import train_round
from lth_tf.settings import build_config
from lth_tf.tfkeras import keras
from pipelines.experiments import instability, lottery
from pipelines.runs import run_settings

POINTS = 5


@pytest.fixture(scope="module")
def source(tmp_path_factory, tiny_splits):
    """A finished iterative experiment of 2 rounds (40 iterations, evaluation every 10), deterministic,
    trained once for the module in its own store: every test reads it, none changes it (each
    analysis is a run of its own, told apart by its identity)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("instability"))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        settings = build_config({"iterations": 40, "eval_interval": 10, "rounds": 2, "batch_size": 30,
                                 "steps_per_execution": 5, "log_models": "none", "model": "conftest:small_model",
                                 "controls": [], "deterministic": True})
        keras.utils.set_random_seed(0)
        yield lottery.run(settings, splits=tiny_splits, echo=lambda _: None)
        while mlflow.active_run():
            mlflow.end_run()


def all_runs(experiment_id=None):
    return mlflow.search_runs(experiment_ids=[experiment_id] if experiment_id else None,
                              search_all_experiments=experiment_id is None, output_format="list")


def test_the_sweep_logs_each_pair_its_path_and_the_barrier_per_k(source, tiny_splits):
    request = instability.Request(source.run_id, rounds=(0, 2), ks=("0", "20"), pairs=2, points=POINTS)
    result = instability.run(request, echo=lambda _: None, splits=tiny_splits)

    client = MlflowClient()
    children = [r for r in all_runs(result.experiment_id) if r.data.tags.get("mlflow.parentRunId") == result.run_id]
    assert sorted((r.data.tags["round"], r.data.tags["k"], r.data.tags["pair"]) for r in children) == sorted(
        (str(r), str(k), str(p)) for r in (0, 2) for k in (0, 20) for p in (0, 1))
    for child in children:
        run_id, metrics = child.info.run_id, child.data.metrics
        for split in ("test", "train"):
            history = sorted(client.get_metric_history(run_id, f"path/{split}_error"), key=lambda m: m.step)
            assert [m.step for m in history] == list(range(POINTS))  # MLflow charts the path
            errors = np.array([m.value for m in history])
            assert metrics[f"barrier/{split}"] == pytest.approx(errors.max() - (errors[0] + errors[-1]) / 2, abs=1e-6)
            assert metrics[f"barrier/{split}"] >= 0
        # the path's endpoints are the two trained copies' own final evaluations
        test = sorted(client.get_metric_history(run_id, "path/test_error"), key=lambda m: m.step)
        assert test[0].value == pytest.approx(1 - metrics["copy1/final_test_accuracy"], abs=1e-6)
        assert test[-1].value == pytest.approx(1 - metrics["copy2/final_test_accuracy"], abs=1e-6)
        assert child.data.params["data_seed_1"] != child.data.params["data_seed_2"]
    # the same two data orders at every k and for every network
    seeds = {(r.data.tags["pair"], r.data.params["data_seed_1"], r.data.params["data_seed_2"]) for r in children}
    assert len(seeds) == 2 and ("0", "0", str(instability.data_seeds(0, 0)[1])) in seeds
    parent = client.get_run(result.run_id)
    assert parent.data.tags["kind"] == instability.KIND and parent.data.tags["source_run"] == source.run_id
    for round_ in (0, 2):
        steps = sorted(m.step for m in client.get_metric_history(result.run_id, f"barrier/test/round_{round_}"))
        assert steps == [0, 20]
        assert f"earliest_stable_k/round_{round_}" in parent.data.metrics
    assert sorted(result.figures) == sorted([instability.BARRIER_FIGURE, "instability/path_round_00.png",
                                             "instability/path_round_02.png"])
    listed = {a.path for a in client.list_artifacts(result.run_id, "instability")}
    assert set(result.figures) <= listed
    assert "round 2" in instability.table(result)


def test_same_data_order_gives_bitwise_equal_copies_and_barrier_zero_other_orders_differ(source, tiny_splits):
    """Two copies from one θk ⊙ mask: the data seed is their only difference (the paper's SGD noise)."""
    settings = run_settings.config(mlflow.get_run(source.run_id).data.params)
    model = lottery.build_masked_model(settings, tiny_splits, None, 0)
    masking.set_masks(model, source.trials[0][("ticket", 2)])
    theta_k = weights.take(model)

    def copy(data_seed):
        train_round(model, tiny_splits, settings.training, 0, [StartFrom(theta_k)], start_step=20, data_seed=data_seed)
        return weights.take(model)

    first, again, other = copy(11), copy(11), copy(12)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))
    path = interpolation.evaluate_path(model, first, again, {"test": tiny_splits.test}, POINTS)
    assert path.barrier("test") == 0
    masks = source.trials[0][("ticket", 2)]
    for alpha, snapshot in interpolation.points(first, other, POINTS):  # masked weights stay zero on the path
        for key, value in weights.prunable_part(model, snapshot).items():
            assert not value[masks[key] == 0].any()


def test_an_interrupted_analysis_resumes_and_a_finished_one_is_returned(source, tiny_splits):
    request = instability.Request(source.run_id, rounds=(0,), ks=("0", "10"), points=3)
    first = instability.run(request, echo=lambda _: None, splits=tiny_splits)
    client = MlflowClient()
    killed = next(p for p in first.pairs if p.k == 10)
    client.set_terminated(killed.run_id, "KILLED")  # as a kill in the middle of that pair leaves it
    client.set_terminated(first.run_id, "KILLED")
    said = []
    resumed = instability.run(request, echo=said.append, splits=tiny_splits)
    assert resumed.run_id == first.run_id and any("1 pairs finished before" in line for line in said)
    live = [r for r in all_runs(first.experiment_id) if r.data.tags.get("mlflow.parentRunId") == first.run_id]
    assert sorted(r.data.tags["k"] for r in live) == ["0", "10"]  # the killed pair redone once, nothing doubled
    assert all(r.info.status == "FINISHED" for r in live)
    again = instability.run(request, echo=lambda _: None, splits=tiny_splits)
    assert again.finished_before and again.run_id == first.run_id
    assert [p.barriers for p in again.pairs] == [p.barriers for p in resumed.pairs]


@pytest.mark.parametrize("args, message", [
    (["--k", "40"], "--k 40: the rewinding point must be in 0..39"),
    (["--k", "15"], "must be a multiple of the source's --eval-interval 10"),
    (["--rounds", "0,5"], "--rounds: run "),
    (["--points", "1"], "--points must be at least 2"),
])
def test_bad_input_is_one_line_exit_2_and_no_run(source, capsys, args, message):
    before = len(all_runs())
    code, _, err = invoke(["instability", source.run_id, *args], capsys)
    errors = [line for line in err.splitlines() if not line.startswith("20")]  # MLflow's own INFO lines aside
    assert code == 2 and len(errors) == 1 and message in errors[0], err
    assert len(all_runs()) == before


def test_an_unknown_run_is_one_line_exit_2(store, capsys):
    tracking.open_experiment(None, "empty")
    code, _, err = invoke(["instability", "f" * 32], capsys)
    assert code == 2 and err.strip().splitlines()[-1].startswith(f"Error: no experiment or run '{'f' * 32}'")
    assert all_runs() == []


def test_data_seeds_are_fixed_by_seed_and_pair_and_differ_within_a_pair():
    assert instability.data_seeds(3, 0)[0] == 3
    assert instability.data_seeds(3, 1) == instability.data_seeds(3, 1)
    for pair in range(5):
        first, second = instability.data_seeds(3, pair)
        assert first != second


def test_theta_k_retrained_is_the_sources_own_theta_k_bitwise(store, tiny_config, tiny_splits):
    """θk comes from retraining the source's dense network from its θ0: the source's own trajectory.
    A source that rewound to k kept its θk: the analysis's θk must be that one, bit for bit."""
    tiny_config.model.model, tiny_config.controls.controls = "conftest:small_model", ()
    tiny_config.pruning.rounds, tiny_config.pruning.reset_to = 1, 20
    tiny_config.training.deterministic = True
    keras.utils.set_random_seed(0)
    rewound = lottery.run(tiny_config, splits=tiny_splits, echo=lambda _: None)
    result = instability.run(instability.Request(rewound.run_id, rounds=(0,), ks=("20",), points=2),
                             echo=lambda _: None, splits=tiny_splits)

    dense = [r for r in all_runs(rewound.experiment_id) if r.data.tags.get("mlflow.parentRunId") == rewound.run_id
             and r.data.tags["kind"] == "ticket" and r.data.tags["round"] == "0"]
    kept = weights.from_arrays(artifacts.load_arrays(dense[0].info.run_id, naming.state_artifact("theta_20")))
    retrained = artifacts.load_arrays(result.run_id, "instability/theta/seed_0/k_20.npz")
    assert len(kept) == len(retrained)
    for stored, again in zip(kept, retrained.values()):
        np.testing.assert_array_equal(stored, again)
