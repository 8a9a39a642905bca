"""The example control written as one file plus one registry line: reinitialization keeping θ0's signs
(Zhou et al. 2019). It must differ from the ticket in exactly one thing: the masked weights' magnitudes."""

import mlflow
import numpy as np

from conftest import small_model
from lth_tf import masking
from lth_tf.settings import build_config
from lth_tf.tfkeras import keras
from lth_tf.training import weights
from pipelines import controls
from pipelines.experiments import lottery


def ticket_context(reset_to_theta_k=False):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((64,))
    x = keras.layers.Dense(256, activation="relu", name="fc1", bias_initializer="random_normal")(inputs)
    model = masking.mask_model(keras.Model(inputs, keras.layers.Dense(10, name="output")(x)))
    initial = weights.take(model)
    rng = np.random.default_rng(1)
    masks = {k: rng.random(m.shape) < 0.3 for k, m in masking.get_masks(model).items()}
    start = [w + 0.01 for w in initial] if reset_to_theta_k else None  # θk: any other start
    return controls.RoundContext(model, 1, seed=0, masks=masks, initial=initial, pruned_from=initial,
                                 start=start, start_step=20 if reset_to_theta_k else 0)


def test_it_differs_from_the_ticket_only_in_the_masked_weights_magnitudes():
    for theta_k in (False, True):
        ctx = ticket_context(theta_k)
        begin = controls.get("signed_reinit")(ctx)
        assert begin.step == ctx.start_step  # the ticket's starting iteration
        assert all(np.array_equal(begin.masks[k], ctx.masks[k]) for k in ctx.masks)  # the ticket's mask
        ticket = weights.prunable_part(ctx.model, ctx.start)
        ours = weights.prunable_part(ctx.model, begin.weights)
        fresh = weights.prunable_part(ctx.model, weights.fresh_initialization(ctx.model,
                                                                              ctx.derived_seed("signed_reinit")))
        for key in ticket:
            np.testing.assert_array_equal(np.sign(ours[key]), np.sign(ticket[key]))  # the ticket's signs
            np.testing.assert_array_equal(np.abs(ours[key]), np.abs(fresh[key]))  # magnitudes drawn afresh
            assert not np.allclose(np.abs(ours[key]), np.abs(ticket[key]))
        masked = {v.ref() for v in masking.prunable_weights(ctx.model).values()}
        for variable, mine, theirs in zip(weights.network_variables(ctx.model), begin.weights, ctx.start):
            if variable.ref() not in masked:  # biases: the ticket's own start
                np.testing.assert_array_equal(mine, theirs)


def test_unlike_reinit_it_keeps_the_signs():
    ctx = ticket_context()
    ticket = weights.prunable_part(ctx.model, ctx.initial)
    reinit = weights.prunable_part(ctx.model, controls.get("reinit")(ctx).weights)
    ours = weights.prunable_part(ctx.model, controls.get("signed_reinit")(ctx).weights)
    agree = lambda w: np.mean(np.sign(w["fc1"]) == np.sign(ticket["fc1"]))  # noqa: E731
    assert agree(ours) == 1.0 and 0.4 < agree(reinit) < 0.6


def test_it_is_a_flag_value_and_trains_in_the_pipeline(store, tiny_splits):
    cfg = build_config({"iterations": 20, "eval_interval": 10, "rounds": 1, "batch_size": 30,
                        "steps_per_execution": 5, "log_models": "none", "controls": "signed_reinit",
                        "control_rounds": "1"})
    keras.utils.set_random_seed(0)
    result = lottery.run(cfg, splits=tiny_splits, model=masking.mask_model(small_model()), echo=lambda _: None)
    assert [(r.kind, r.round) for r in result.rounds] == [("ticket", 0), ("ticket", 1), ("signed_reinit", 1)]
    [run] = mlflow.search_runs(experiment_ids=[mlflow.get_run(result.run_id).info.experiment_id],
                               filter_string="tags.kind = 'signed_reinit'", output_format="list")
    assert run.info.status == "FINISHED" and run.data.tags["round"] == "1"
    assert "sign kept" in run.data.tags["mlflow.note.content"]  # its description is its own docstring's
