"""SNIP, GraSP and SynFlow as controls beside the tickets (pipelines.controls.at_init), with their sanity
checks as kinds of their own: counts, starts, the model left untouched, the pipeline's runs, and bad input."""

import zlib
from pathlib import Path

import mlflow
import numpy as np
import pytest

from conftest import invoke, no_runs_recorded, small_model
from lth_tf import masking, naming
from lth_tf.pruning import at_init, counts
from lth_tf.reports import results
from lth_tf.data.splits import Splits
from lth_tf.settings import build_config
from lth_tf.tfkeras import keras
from lth_tf.tracking import artifacts
from lth_tf.training import weights
from pipelines import controls
from pipelines.experiments import lottery
from pipelines.reporting import report

METHODS = ("snip", "grasp", "synflow")


def context(tiny_splits, scope="global", **settings):
    keras.utils.set_random_seed(0)
    model = masking.mask_model(small_model())
    initial = weights.take(model)
    rng = np.random.default_rng(1)
    masks = {k: rng.random(m.shape) < f for (k, m), f in zip(masking.get_masks(model).items(), (0.1, 0.3, 0.6))}
    cfg = build_config({"controls": "snip", "at_init_scope": scope, **settings})
    trained = [w + 0.5 for w in initial]  # the model as the round left it: other weights, the ticket's mask
    weights.restore(model, trained)
    masking.set_masks(model, masks)
    return controls.RoundContext(model, 2, seed=3, masks=masks, initial=initial, pruned_from=trained,
                                 cfg=cfg, splits=tiny_splits), weights.take(model)


@pytest.mark.parametrize("method", METHODS)
def test_each_method_keeps_the_tickets_count_from_theta0_and_leaves_the_model_alone(method, tiny_splits):
    for scope in ("global", "layerwise"):
        ctx, trained = context(tiny_splits, scope, synflow_iterations=10)
        begin = controls.get(method)(ctx)
        assert begin.step == 0 and begin.weights is ctx.initial
        total = sum(int(m.sum()) for m in ctx.masks.values())
        assert sum(int(m.sum()) for m in begin.masks.values()) == total
        if scope == "layerwise":
            assert {k: int(m.sum()) for k, m in begin.masks.items()} == {k: int(m.sum()) for k, m in ctx.masks.items()}
        else:  # the method allocates the total itself
            assert {k: int(m.sum()) for k, m in begin.masks.items()} != {k: int(m.sum()) for k, m in ctx.masks.items()}
        for now, before in zip(weights.take(ctx.model), trained):
            np.testing.assert_array_equal(now, before)
        assert all(np.array_equal(m, ctx.masks[k]) for k, m in masking.get_masks(ctx.model).items())


def test_snip_control_is_the_library_mask_on_theta0_and_a_class_balanced_training_batch(tiny_splits):
    ctx, _ = context(tiny_splits, at_init_examples_per_class=5)
    begin = controls.get("snip")(ctx)
    x, y = ctx.splits.train
    rng = np.random.default_rng(np.random.SeedSequence([3, zlib.crc32(b"at_init_batch")]))
    bx, by = at_init.scoring_batch(x, y, 5, rng, 4)
    assert np.bincount(by).tolist() == [5, 5, 5, 5]
    fresh = masking.mask_model(small_model(name="copy"))
    weights.restore(fresh, ctx.initial)
    expected = at_init.snip(fresh, at_init.target_counts(ctx.masks, "global"), (bx, by),
                            keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert all(np.array_equal(begin.masks[k], expected[k]) for k in expected)


@pytest.mark.parametrize("method", METHODS)
def test_sanity_checks_change_one_thing_each(method, tiny_splits):
    ctx, _ = context(tiny_splits, synflow_iterations=10)
    plain = controls.get(method)(ctx).masks
    shuffled = controls.get(f"{method}_shuffle")(ctx)
    assert {k: int(m.sum()) for k, m in shuffled.masks.items()} == {k: int(m.sum()) for k, m in plain.items()}
    assert any(not np.array_equal(shuffled.masks[k], plain[k]) for k in plain)  # positions moved
    assert shuffled.weights is ctx.initial
    reinit = controls.get(f"{method}_reinit")(ctx)
    assert all(np.array_equal(reinit.masks[k], plain[k]) for k in plain)  # the same mask
    fresh = weights.fresh_initialization(ctx.model, ctx.derived_seed(f"{method}_reinit"))
    for mine, theirs, initial in zip(reinit.weights, fresh, ctx.initial):
        np.testing.assert_array_equal(mine, theirs)
    assert not np.allclose(weights.prunable_part(ctx.model, reinit.weights)["fc1"],
                           weights.prunable_part(ctx.model, ctx.initial)["fc1"])
    inverted = controls.get(f"{method}_invert")(ctx).masks
    assert sum(int(m.sum()) for m in inverted.values()) == sum(int(m.sum()) for m in plain.values())
    assert any(not np.array_equal(inverted[k], plain[k]) for k in plain)


def test_the_controls_train_in_the_pipeline_as_kinds_of_their_own(store, tiny_splits):
    cfg = build_config({"iterations": 20, "eval_interval": 10, "rounds": 1, "batch_size": 30,
                        "steps_per_execution": 5, "log_models": "none", "control_rounds": "1",
                        "controls": "snip,snip_invert,grasp_invert,synflow_shuffle", "synflow_iterations": 5,
                        "at_init_examples_per_class": 3})
    keras.utils.set_random_seed(0)
    result = lottery.run(cfg, splits=tiny_splits, model=masking.mask_model(small_model()), echo=lambda _: None)
    assert [(r.kind, r.round) for r in result.rounds] == [
        ("ticket", 0), ("ticket", 1), ("snip", 1), ("snip_invert", 1), ("grasp_invert", 1), ("synflow_shuffle", 1)]
    ticket = result.rounds[1].remaining_fraction
    assert all(r.remaining_fraction == pytest.approx(ticket) for r in result.rounds[2:])
    runs = mlflow.search_runs([result.experiment_id], "tags.kind = 'grasp_invert'", output_format="list")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert mlflow.get_run(result.run_id).data.params["at_init_scope"] == "global"  # its settings are the run's
    client = mlflow.tracking.MlflowClient()
    made = report.write_report(results.resolve(client, result.run_id), store / "report", client=client)
    table = (store / "report" / "sparse_baselines.md").read_text()
    assert (store / "report" / "sparse_baselines.md") in made.files
    assert all(f"| {kind} |" in table for kind in ("ticket", "snip", "grasp_invert", "synflow_shuffle"))
    figure = store / "report" / report.SPARSE_METHODS_FIGURE  # snip_invert is a check of snip: drawn without it
    assert figure in made.files and figure.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("args, message", [
    (["--controls", "snipp"], "unknown control 'snipp'"),
    (["--controls", "synflow", "--synflow-iterations", "0"], "--synflow-iterations must be at least 1"),
    (["--controls", "snip_reinit", "--at-init-examples-per-class", "0"], "--at-init-examples-per-class"),
    (["--controls", "grasp", "--grasp-temperature", "0"], "--grasp-temperature must be positive"),
    (["--controls", "snip", "--at-init-scope", "everywhere"], "'everywhere' is not one of 'global', 'layerwise'"),
])
def test_bad_input_is_one_line_exit_2_and_no_run(store, capsys, args, message):
    code, out, err = invoke(["run", *args], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert no_runs_recorded(store)


def test_snip_on_a_model_without_a_loss_is_one_line():
    model = masking.mask_model(small_model())
    x = np.zeros((4, 8, 8, 1), "float32")
    with pytest.raises(Exception) as error:
        at_init.snip(model, 10, (x, np.arange(4)), loss=None)
    assert type(error.value).__name__ == "UserError" and "has none" in str(error.value)


def test_gradual_reaches_each_tickets_layer_counts_in_the_same_budget_and_is_logged_like_one(store, tiny_splits):
    cfg = build_config({"iterations": 40, "eval_interval": 10, "rounds": 2, "batch_size": 30,
                        "steps_per_execution": 5, "log_models": "none", "control_rounds": "1,2",
                        "controls": "gradual", "gradual_frequency": 5})
    keras.utils.set_random_seed(0)
    result = lottery.run(cfg, splits=tiny_splits, model=masking.mask_model(small_model()), echo=lambda _: None)
    assert [(r.kind, r.round) for r in result.rounds] == [("ticket", 0), ("ticket", 1), ("gradual", 1),
                                                          ("ticket", 2), ("gradual", 2)]
    runs = {int(r.data.tags["round"]): r for r in mlflow.search_runs([result.experiment_id], "tags.kind = 'gradual'",
                                                                     output_format="list")}
    for round_ in (1, 2):
        ticket = result.trials[0][("ticket", round_)]
        mask = artifacts.load_arrays(runs[round_].info.run_id, naming.mask_artifact(round_))
        assert {k: int(m.sum()) for k, m in mask.items()} == {k: int(m.sum()) for k, m in ticket.items()}
        assert any(not np.array_equal(mask[k], ticket[k]) for k in ticket)  # its own mask, not the ticket's
        assert runs[round_].data.tags["gradual_schedule"] == "0-20/5"
        summary = [r for r in result.rounds if (r.kind, r.round) == ("gradual", round_)][0]
        assert summary.early_stop_iteration >= 20  # chosen where it is at its sparsity
        assert summary.remaining_fraction == pytest.approx(result.rounds[1 if round_ == 1 else 3].remaining_fraction)


def test_gradual_early_stop_is_chosen_only_where_the_network_has_its_sparsity(store):
    """Random labels: the validation loss is lowest early, while tfmot is still pruning. The early
    stop must come from the evaluations at or after the schedule's end (full sparsity), not there."""
    rng = np.random.default_rng(3)

    def noise(n):
        return rng.random((n, 8, 8, 1), dtype=np.float32), rng.integers(0, 4, n).astype("int64")

    splits = Splits("random-labels", noise(60), noise(60), noise(60), num_classes=4)
    cfg = build_config({"iterations": 80, "eval_interval": 10, "rounds": 1, "batch_size": 30,
                        "steps_per_execution": 5, "log_models": "none", "control_rounds": "1",
                        "controls": "gradual", "gradual_frequency": 5, "optimizer": "adam",
                        "learning_rate": 0.01})
    keras.utils.set_random_seed(0)
    result = lottery.run(cfg, splits=splits, model=masking.mask_model(small_model()), echo=lambda _: None)
    run = mlflow.search_runs([result.experiment_id], "tags.kind = 'gradual'", output_format="list")[0]
    end = int(run.data.tags["gradual_schedule"].split("-")[1].split("/")[0])
    losses = {m.step: m.value for m in mlflow.tracking.MlflowClient().get_metric_history(run.info.run_id, "val/loss")}
    assert min(losses, key=losses.get) < end  # memorizing noise: the window decides the outcome here
    summary = [r for r in result.rounds if r.kind == "gradual"][0]
    after = {step: loss for step, loss in losses.items() if step >= end}
    assert summary.early_stop_iteration == min(after, key=after.get)


@pytest.mark.parametrize("args, message", [
    (["--gradual-end", "60"], "past the budget of 40 iterations"),
    (["--gradual-begin", "20", "--gradual-end", "20"], "must begin before it ends"),
    (["--gradual-end", "25"], "never applies its final sparsity"),
    (["--gradual-power", "0"], "--gradual-power must be positive"),
])
def test_gradual_schedules_past_the_budget_are_one_line_exit_2_and_no_run(store, capsys, args, message):
    code, out, err = invoke(["run", "--controls", "gradual", "--iterations", "40", "--eval-interval", "10",
                             "--gradual-frequency", "10", *args], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert no_runs_recorded(store)


def test_ticket_invert_keeps_the_smallest_survivors_at_the_tickets_counts(tiny_splits):
    ctx, _ = context(tiny_splits)
    trained = weights.prunable_part(ctx.model, ctx.pruned_from)
    alive = {k: np.random.default_rng(2).random(w.shape) < 0.7 for k, w in trained.items()}  # before the step
    pruned_from = weights.with_prunable(ctx.model, ctx.pruned_from, {k: w * alive[k] for k, w in trained.items()})
    ctx.pruned_from = pruned_from
    ticket = {k: counts.keep_top(np.abs(trained[k]), alive[k], int(m.sum())) for k, m in ctx.masks.items()}
    ctx.masks = ticket
    begin = controls.get("ticket_invert")(ctx)
    assert begin.weights is ctx.start and begin.step == ctx.start_step
    for key, mask in begin.masks.items():
        assert int(mask.sum()) == int(ticket[key].sum()) and not (mask & ~alive[key]).any()
        survivors = np.abs(trained[key])[alive[key]]
        kept = np.abs(trained[key])[mask]
        assert kept.max() <= np.sort(survivors)[int(mask.sum()) - 1]  # the smallest survivors, none larger


def test_ticket_invert_needs_magnitude_pruning(store, capsys):
    code, _, err = invoke(["run", "--controls", "ticket_invert", "--criterion", "movement"], capsys)
    assert code == 2 and "inverts magnitude pruning" in err and len(err.strip().splitlines()) == 1
    assert no_runs_recorded(store)


def test_the_docs_example_draws_a_snip_mask_alone_and_model_fit_keeps_its_zeros():
    page = (Path(__file__).parents[2] / "docs" / "sparse-baselines.md").read_text()
    section = page[page.index("## A mask at initialization alone"):]
    code = section[section.index("```python\n") + len("```python\n"):section.index("```\n", 10)]
    assert "epochs=5)" in code
    scope = {}
    exec(compile(code.replace("epochs=5)", "epochs=1, verbose=0)"), "sparse-baselines.md", "exec"), scope)  # noqa: S102
    model, masks, total = scope["model"], scope["masks"], scope["total"]
    assert sum(int(m.sum()) for m in masks.values()) == int(0.2 * total)
    for key, weight in masking.prunable_weights(model).items():  # trained, and the pruned weights still zero
        assert not weight.numpy()[masks[key] == 0].any() and weight.numpy()[masks[key] == 1].any()
    assert scope["model"].history.history["accuracy"][-1] > 0.5
