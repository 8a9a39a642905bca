"""Reports: tables equal to the runs' metrics, valid figures, `lth-tf report` / `compare`.

The tests write synthetic experiments straight into a SQLite MLflow store with
MlflowClient (no training): parents tagged `kind=experiment` with nested children of
several kinds, replicates, and unfinished children that must be left out. A real tiny
experiment that logs its report to the parent run: tests/integration/test_report.py.
"""

import csv
import io
import math
import statistics

import mlflow
import numpy as np
import pytest
from matplotlib.figure import Figure
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient
from PIL import Image

from conftest import invoke
from lth_tf import naming
from lth_tf.reports import aggregate, figures, results
from lth_tf.errors import UserError
from pipelines.reporting import compare, report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ROUNDS = range(4)
PENALTY = {"ticket": 0.0, "one_shot": 0.005, "reinit": 0.03, "random_prune": 0.04}


def accuracy(kind, round_, seed):
    return 0.90 + 0.01 * round_ + 0.02 * seed - PENALTY[kind] * round_


def early_stop(kind, round_, seed):
    return 500 - 100 * round_ + 100 * seed + (150 * round_ if kind == "reinit" else 0)


def child_metrics(kind, round_, seed, legacy_names=False):
    """A network's summary metrics, under today's names or (`legacy_names`) those runs had before."""
    acc = accuracy(kind, round_, seed)
    values = {"remaining_fraction": 0.8 ** round_, "early_stop_iteration": early_stop(kind, round_, seed),
              "early_stop_val_loss": 0.3 - acc / 10, "early_stop_val_accuracy": acc + 0.001,
              "early_stop_test_accuracy": acc, "final_test_accuracy": acc - 0.002,
              "final_train_accuracy": 1.0 - 0.01 * round_, "nonzero_weights": round(266_200 * 0.8 ** round_),
              "flops": 2 * round(266_200 * 0.8 ** round_), "dense_flops": 532_400}
    if legacy_names:
        return {**values, "remaining_fraction.fc1": 0.8 ** round_}
    return {**{naming.summary(k): v for k, v in values.items()}, naming.layer_remaining("fc1"): 0.8 ** round_}


def add_run(client, experiment_id, name, tags, metrics=None, params=None, status="FINISHED", step=0, series=None):
    run_id = client.create_run(experiment_id, run_name=name, tags=tags).info.run_id
    logged = [Metric(k, float(v), 0, step) for k, v in (metrics or {}).items()]
    for key, points in (series or {}).items():
        logged += [Metric(key, float(v), 0, s) for s, v in points.items()]
    client.log_batch(run_id, metrics=logged, params=[Param(k, str(v)) for k, v in (params or {}).items()])
    client.set_terminated(run_id, status)
    return run_id


def add_experiment(client, experiment_id, seed=0, replicates=1, kinds=("ticket",), criterion="magnitude",
                   family=None, contract_tags=True, status="FINISHED", legacy_names=False):
    """A parent run plus one FINISHED child per kind, round and replicate (seed = seed + replicate)."""
    params = {"model": "lenet_300_100", "dataset": "mnist-5k", "seed": seed, "replicates": replicates,
              "criterion": criterion, "fc_rate": 0.2, "experiment_name": "x", "train_size": 3500}
    tags = {"kind": "experiment", "mode": "iterative", "identity": f"{criterion}-{seed}"}
    if contract_tags:
        tags["family"] = family or f"fam-{criterion}"
    parent = add_run(client, experiment_id, f"lottery-iterative-seed{seed}", params=params, status=status, tags=tags)
    for replicate in range(replicates):
        for kind in kinds:
            for round_ in ROUNDS:
                if kind == "one_shot" and round_ == 0:
                    continue
                tags = {"mlflow.parentRunId": parent, "kind": kind, "round": str(round_),
                        "remaining_fraction": f"{0.8 ** round_:.6f}"}
                if contract_tags:
                    tags.update(replicate=str(replicate), seed=str(seed + replicate))
                acc = accuracy(kind, round_, seed + replicate)
                curve = naming.legacy_curve("test", "accuracy") if legacy_names else naming.curve("test", "accuracy")
                add_run(client, experiment_id, f"{kind} {round_}", tags,
                        child_metrics(kind, round_, seed + replicate, legacy_names),
                        step=round_, series={curve: {s: acc * s / 40 for s in (10, 20, 30, 40)}})
    return parent


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """One store with every shape of experiment the report must handle."""
    root = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri()
    client = MlflowClient(uri)
    ids = {name: client.create_experiment(name, artifact_location=(root / "artifacts" / name).as_uri())
           for name in ("reps", "seeds", "mixed", "other", "empty", "crashed")}
    runs = {}
    # One parent holding two replicates of four kinds, plus children that did not finish.
    runs["reps"] = add_experiment(client, ids["reps"], replicates=2,
                                  kinds=("ticket", "one_shot", "reinit", "random_prune"))
    for status in ("FAILED", "KILLED"):
        add_run(client, ids["reps"], "crashed round", {"mlflow.parentRunId": runs["reps"], "kind": "ticket",
                                                       "round": "2", "replicate": "1", "seed": "1"},
                {naming.summary("early_stop_test_accuracy"): 0.0, naming.summary("early_stop_iteration"): 99999},
                status=status, step=2)
    # Two parents (seeds 3 and 4) as older lth-tf wrote them: no family/replicate/seed tags, ungrouped names.
    runs["seeds"] = [add_experiment(client, ids["seeds"], seed=s, contract_tags=False, legacy_names=True)
                     for s in (3, 4)]
    runs["mixed"] = [add_experiment(client, ids["mixed"], criterion=c, seed=s, kinds=("ticket", "reinit"))
                     for c, s in (("magnitude", 0), ("movement", 1))]
    runs["other"] = add_experiment(client, ids["other"], seed=1)
    add_experiment(client, ids["crashed"], status="FAILED")
    yield {"uri": uri, "client": client, "ids": ids, "runs": runs}
    mlflow.set_tracking_uri(previous)


def read_csv(path):
    return list(csv.DictReader(io.StringIO(path.read_text())))


def is_png(path):
    data = path.read_bytes()
    with Image.open(path) as image:
        width, height = image.size
    return data[:8] == PNG_MAGIC and width > 0 and height > 0


# --------------------------------------------------------------------- tables and numbers
def test_table_numbers_equal_the_runs_metrics(synthetic, tmp_path):
    client = synthetic["client"]
    parents = results.resolve(client, "reps")
    made = report.write_report(parents, tmp_path, client=client)
    rows = {(r["kind"], int(r["round"])): r for r in read_csv(tmp_path / "mean_std.csv")}
    assert set(rows) == {(k, r) for k in ("ticket", "reinit", "random_prune") for r in ROUNDS} | {
        ("one_shot", r) for r in (1, 2, 3)}
    # Computed by hand: ticket round 2 over seeds 0 and 1 is 0.92 and 0.94, stopping at 300 and 400;
    # the FAILED and KILLED copies of that round (accuracy 0) are left out.
    cell = rows[("ticket", 2)]
    assert int(cell["n"]) == 2
    assert float(cell["early_stop_test_accuracy_mean"]) == pytest.approx(0.93)
    assert float(cell["early_stop_test_accuracy_std"]) == pytest.approx(0.01 * math.sqrt(2))
    assert float(cell["early_stop_iteration_mean"]) == pytest.approx(350)
    assert float(cell["early_stop_iteration_std"]) == pytest.approx(50 * math.sqrt(2))
    assert float(cell["remaining_percent"]) == pytest.approx(64.0)
    for (kind, round_), row in rows.items():
        for name in results.SUMMARY_METRICS:
            values = [child_metrics(kind, round_, seed, legacy_names=True)[name] for seed in (0, 1)]
            assert float(row[f"{name}_mean"]) == pytest.approx(statistics.mean(values)), (kind, round_, name)
            assert float(row[f"{name}_std"]) == pytest.approx(statistics.stdev(values)), (kind, round_, name)
    assert made.results.skipped == 2 and made.results.trials == 2
    markdown = (tmp_path / "mean_std.md").read_text()
    assert "2 child run(s) skipped (not FINISHED)" in markdown
    assert "| ticket | 2 | 64.0 | 2 | 0.9300 ± 0.0141 | 350 ± 71 |" in markdown


def test_parents_without_contract_tags_pool_by_experiment_with_seeds_from_params(synthetic, tmp_path):
    client = synthetic["client"]
    parents = results.resolve(client, "seeds")  # no family tag: their params differ only in the seed
    assert [p.seed for p in parents] == [3, 4]
    legacy = [results.ParentRun(str(i), "1", "e", "r", "FINISHED", {"seed": str(i), "criterion": c, "steps_per_execution": j}, {})
              for i, c, j in ((0, "magnitude", "50"), (1, "magnitude", "10"), (2, "movement", "50"))]
    assert legacy[0].family == legacy[1].family != legacy[2].family
    found = results.load(client, parents)
    assert {(r.replicate, r.seed) for r in found.rows} == {(0, 3), (0, 4)}
    assert found.trials == 2 and found.notes() == []
    dense = next(lv for lv in aggregate.levels(found.rows) if lv.round == 0)
    assert dense.n == 2 and dense.mean["early_stop_test_accuracy"] == pytest.approx((0.96 + 0.98) / 2)
    assert dense.std["early_stop_test_accuracy"] == pytest.approx(0.02 / math.sqrt(2))
    # Ungrouped metric names (early_stop_test_accuracy, test_accuracy) still read, curves too.
    assert [r.remaining_fraction for r in found.rows if r.seed == 3] == pytest.approx([0.8 ** r for r in ROUNDS])
    curves = results.histories(client, found.rows, "test", "accuracy")
    assert all(sorted(points) == [10, 20, 30, 40] for points in curves.values())


def test_same_seed_twice_is_kept_and_noted(synthetic):
    client = synthetic["client"]
    reps, other = (results.resolve(client, name)[0] for name in ("reps", "other"))
    found = results.load(client, [reps, other])  # reps' replicate 1 and other's only trial both use seed 1
    assert found.trials == 3 and sum(r.round == 0 and r.kind == "ticket" for r in found.rows) == 3
    assert any("seed(s) 1 appear in more than one pooled trial" in n for n in found.notes())


def test_single_trial_has_zero_std_and_no_plus_minus():
    assert aggregate.mean_std([0.5]) == (0.5, 0.0)
    assert aggregate.mean_std([1.0, 2.0, 6.0]) == pytest.approx((3.0, math.sqrt(7)))
    assert math.isnan(aggregate.mean_std([])[0])


def test_default_rounds_are_dense_plus_the_papers_levels():
    levels = [aggregate.Level("ticket", r, 0.8 ** r, 1, {}, {}) for r in range(16)]
    assert aggregate.default_rounds(levels) == [0, 3, 7, 12]  # 51.2%, 21.0%, 6.9% remaining
    assert aggregate.default_rounds(levels[:3]) == [0, 2]


# --------------------------------------------------------------------- resolving names
def test_a_rounds_run_id_resolves_to_its_parent(synthetic):
    client = synthetic["client"]
    parent = synthetic["runs"]["other"]
    child = results.load(client, results.resolve(client, parent)).rows[0].run_id
    assert [p.run_id for p in results.resolve(client, child)] == [parent]
    assert [p.run_id for p in results.resolve(client, synthetic["ids"]["other"])] == [parent]  # experiment id


@pytest.mark.parametrize("target, message", [
    ("mixed", "holds runs of different settings (family fam-magnitude: "),
    ("no-such-experiment", "no experiment or run 'no-such-experiment'"),
    ("0123456789abcdef0123456789abcdef", "no experiment or run '0123456789abcdef0123456789abcdef'"),
    ("empty", "experiment 'empty' has no finished lth-tf runs"),
    ("crashed", "experiment 'crashed' has no finished lth-tf runs (1 unfinished; pass a run id"),
])
def test_unresolvable_names_are_one_line_errors(synthetic, target, message):
    with pytest.raises(UserError) as error:
        results.resolve(synthetic["client"], target)
    assert message in str(error.value) and "\n" not in str(error.value)
    if target == "mixed":
        assert all(run in str(error.value) for run in synthetic["runs"]["mixed"])


# --------------------------------------------------------------------- figures
def test_report_draws_every_figure_as_a_valid_png(synthetic, tmp_path):
    client = synthetic["client"]
    made = report.write_report(results.resolve(client, "reps"), tmp_path, client=client)
    names = sorted(p.name for p in made.files)
    assert names == sorted([*report.FIGURES, "mean_std.csv", "mean_std.md", "verdict.csv", "verdict.md",
                            "sparse_baselines.md"])  # it has controls
    assert all(is_png(p) for p in made.files if p.suffix == ".png")
    assert made.rounds == [0, 3]  # 0.8^3 = 51.2% is nearest to every highlighted level


def test_verdict_table_pairs_each_level_with_its_controls_and_dense_by_seed(synthetic, tmp_path):
    client = synthetic["client"]
    made = report.write_report(results.resolve(client, "reps"), tmp_path, client=client)
    rows = {(int(r["round"]), r["versus"]): r for r in read_csv(tmp_path / "verdict.csv")}
    # Per seed, ticket - reinit = 0.03 x round and ticket - dense = 0.01 x round exactly: s = 0, a point interval.
    for round_ in (1, 2, 3):
        for versus, expected in (("reinit", 0.03 * round_), ("random_prune", 0.04 * round_), ("dense", 0.01 * round_)):
            row = rows[(round_, versus)]
            assert row["n"] == "2" and row["winning"] == "1"
            assert float(row["difference_mean"]) == pytest.approx(expected)
            assert float(row["difference_low"]) == pytest.approx(expected)
    assert ("1", "one_shot") not in {(k[0], k[1]) for k in rows}  # a ticket, never a control
    assert "| 3 | 51.2 | winning ticket | +12.00 points, 95% CI [+12.00, +12.00] (t-interval, 2 seeds)" in (
        tmp_path / "verdict.md").read_text()
    assert "Verdict per level" in made.table


def test_figures_without_data_are_skipped(synthetic, tmp_path):
    client = synthetic["client"]
    made = report.write_report(results.resolve(client, "other"), tmp_path, rounds=[0, 1], client=client)
    names = {p.name for p in made.files}
    assert "one_shot_vs_iterative.png" not in names  # no one-shot runs
    assert {"accuracy_vs_remaining.png", "train_vs_test.png", "accuracy_over_iterations.png"} <= names
    assert made.rounds == [0, 1]
    assert figures.compare([], "early_stop_iteration", "nothing", tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_remaining_axis_is_log_from_100_percent_on_the_left_ticked_at_the_levels():
    ax = Figure().subplots()
    figures._remaining_axis(ax, [1.0, 0.513, 0.211, 0.07, 0.036])
    left, right = ax.get_xlim()
    assert ax.get_xscale() == "log" and left > 100 > 3.6 > right
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["100", "51.3", "21.1", "7.0", "3.6"]
    ax = Figure().subplots()
    figures._remaining_axis(ax, [0.8 ** r for r in range(31)])
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert len(labels) <= figures.MAX_TICK_LABELS and labels[0] == "100" and labels[-1] == "0.12"
    ax = Figure().subplots()  # two experiments' levels interleave (fc 20% and 40% per round)
    figures._remaining_axis(ax, [0.8 ** r for r in range(5)] + [0.6 ** r for r in range(5)])
    ticks = np.log10(ax.get_xticks())
    assert min(-np.diff(ticks)) >= (ticks[0] - ticks[-1]) / (figures.MAX_TICK_LABELS - 1) * 0.99
    assert [t.get_text() for t in ax.get_xticklabels()][::len(ticks) - 1] == ["100", "13.0"]


def test_learning_curve_is_the_mean_over_replicates_at_common_steps():
    steps, mean, std = aggregate.curve([{10: 0.5, 20: 0.7, 30: 0.8}, {10: 0.7, 20: 0.9}])
    np.testing.assert_array_equal(steps, [10, 20])
    np.testing.assert_allclose(mean, [0.6, 0.8])
    np.testing.assert_allclose(std, [math.sqrt(0.02)] * 2)


# --------------------------------------------------------------------- the commands
def test_report_command_writes_files_and_prints_the_table(synthetic, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke(["report", "reps", "--tracking-uri", synthetic["uri"], "--rounds", "0,2"], capsys)
    assert code == 0, err
    folder = tmp_path / "reports" / "reps"
    assert "| kind | round | remaining % | n |" in out and "| reinit | 3 | 51.2 | 2 |" in out
    assert "Note: 2 child run(s) skipped (not FINISHED)." in out
    for name in [*report.FIGURES, "mean_std.csv", "mean_std.md"]:
        assert (folder / name).is_file() and f"reports/reps/{name}" in out


def test_report_of_a_run_id_goes_to_its_own_folder_and_can_be_logged(synthetic, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", synthetic["uri"])
    run_id = synthetic["runs"]["mixed"][1]
    code, out, err = invoke(["report", run_id, "--log"], capsys)
    assert code == 0, err
    assert (tmp_path / "reports" / "mixed" / f"lottery-iterative-seed1-{run_id}" / "mean_std.csv").is_file()
    logged = {a.path for a in synthetic["client"].list_artifacts(run_id, "report")}
    assert {"report/mean_std.csv", "report/mean_std.md", "report/accuracy_vs_remaining.png"} <= logged
    code, out, err = invoke(["report", "seeds", "--log"], capsys)  # pooled: beside, not over, each run's own
    assert code == 0, err
    for parent in synthetic["runs"]["seeds"]:
        pooled = {a.path for a in synthetic["client"].list_artifacts(parent, "report/pooled")}
        assert "report/pooled/mean_std.md" in pooled


@pytest.mark.parametrize("args, message", [
    (["report", "nope"], "no experiment or run 'nope'"),
    (["report", "mixed"], "pass one run id"),
    (["report", "reps", "--rounds", "9"], "--rounds 9: no such finished round (rounds: 0,1,2,3)"),
    (["report", "reps", "--rounds", "a,b"], "expected round numbers like 0,3,7"),
    (["compare", "reps"], "compare needs at least two"),
    (["compare", "reps", "other", "--kind", "reinit"], "'other' has no finished runs of kind 'reinit' (it has: ticket)"),
    (["compare", "reps", "other", "--label", "elsewhere=x"], "--label names elsewhere"),
    (["compare", "reps", "other", "--metric", "loss"], "Invalid value for '--metric'"),
])
def test_bad_names_are_one_line_exit_2(synthetic, tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke([*args, "--tracking-uri", synthetic["uri"]], capsys)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "reports").exists()


def test_report_without_a_store_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    code, _, err = invoke(["report", "anything"], capsys)
    assert code == 2 and "no runs yet in ./mlruns" in err
    assert not (tmp_path / "mlruns").exists()


def test_compare_puts_two_experiments_in_one_figure_and_table(synthetic, tmp_path, capsys):
    out = tmp_path / "cmp.png"
    code, stdout, err = invoke(["compare", "reps", "other", "--metric", "early_stop_iteration", "--out", str(out),
                                "--label", "other=one seed", "--tracking-uri", synthetic["uri"]], capsys)
    assert code == 0, err
    assert is_png(out)
    rows = read_csv(tmp_path / "cmp.csv")
    assert {r["experiment"] for r in rows} == {"reps", "one seed"}
    reps_round_1 = next(r for r in rows if r["experiment"] == "reps" and r["round"] == "1")
    assert float(reps_round_1["early_stop_iteration_mean"]) == pytest.approx((400 + 500) / 2)
    assert reps_round_1["n"] == "2"
    assert "| one seed | ticket | 3 | 51.2 | 1 | 300 |" in stdout
    assert (tmp_path / "cmp.md").read_text() in stdout


def test_compare_labels_runs_of_one_experiment_by_their_differing_settings(synthetic, tmp_path):
    client = synthetic["client"]
    magnitude, movement = synthetic["runs"]["mixed"]
    made = compare.compare(client, [magnitude, movement], tmp_path / "c.png", kind="reinit")
    assert made.labels == ["criterion=magnitude", "criterion=movement"]
    assert is_png(tmp_path / "c.png")
    assert {r["experiment"] for r in read_csv(tmp_path / "c.csv")} == set(made.labels)


def test_log_report_of_a_run_without_finished_rounds_logs_nothing(synthetic):
    client = synthetic["client"]
    parent = add_run(client, synthetic["ids"]["empty"], "lottery-iterative-seed9", {"kind": "experiment"},
                     status="RUNNING")
    assert report.log_report(parent, tracking_uri=synthetic["uri"]) == []
    assert client.list_artifacts(parent) == []
