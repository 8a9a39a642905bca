"""Paired (same seed) ticket - control differences and the winning-ticket verdict, against hand computations."""

import math

import pytest

from lth_tf.reports.verdict import paired_difference, t_quantile, verdict

TICKET = {0: 0.95, 1: 0.96, 2: 0.94}
REINIT = {0: 0.93, 1: 0.935, 2: 0.925}
DENSE = {0: 0.948, 1: 0.955, 2: 0.940}
RANDOM_PRUNE = {0: 0.90, 1: 0.91, 2: 0.905}


def test_three_seeds_give_the_hand_computed_t_interval():
    # d = (0.020, 0.025, 0.015): mean 0.020, s = 0.005, s/sqrt(3) = 0.0028868;
    # t(0.975, 2 df) = 4.3027 (t table: 4.303), half-width 0.0124206.
    difference = paired_difference(TICKET, REINIT)
    assert difference.n == 3
    assert difference.mean == pytest.approx(0.020)
    assert difference.low == pytest.approx(0.0075794, abs=1e-7)
    assert difference.high == pytest.approx(0.0324206, abs=1e-7)
    assert difference.ahead
    assert difference.describe() == "+2.00 points, 95% CI [+0.76, +3.24] (t-interval, 3 seeds)"


def test_t_quantiles_match_the_printed_table():
    assert t_quantile(0.95, 1) == pytest.approx(12.706, abs=1e-3)
    assert t_quantile(0.95, 2) == pytest.approx(4.303, abs=1e-3)
    assert t_quantile(0.95, 4) == pytest.approx(2.776, abs=1e-3)


def test_only_seeds_both_sides_have_are_paired():
    # seeds 1 and 2: d = (0.025, 0.015), mean 0.020, s = 0.0070711, s/sqrt(2) = 0.005, t(0.975, 1) = 12.7062.
    difference = paired_difference(TICKET, {1: 0.935, 2: 0.925, 3: 0.5})
    assert difference.n == 2
    assert difference.low == pytest.approx(0.020 - 12.7062 * 0.005, abs=1e-5)
    assert difference.high == pytest.approx(0.020 + 12.7062 * 0.005, abs=1e-5)
    assert not difference.ahead  # the interval reaches below zero


def test_one_replicate_has_a_difference_but_no_interval():
    difference = paired_difference({0: 0.95}, {0: 0.925})
    assert difference.n == 1 and difference.mean == pytest.approx(0.025)
    assert difference.low is None and not difference.ahead
    assert difference.describe() == "+2.50 points (1 replicate: no interval)"


def test_no_common_seed_is_an_error():
    with pytest.raises(ValueError, match="no seed"):
        paired_difference({0: 0.9}, {1: 0.9})
    with pytest.raises(ValueError, match="no seed"):
        paired_difference({0: 0.9}, {0: math.nan})


def test_a_ticket_matching_dense_and_ahead_of_every_control_is_winning():
    result = verdict(TICKET, DENSE, {"reinit": REINIT, "random_prune": RANDOM_PRUNE})
    assert result.winning and result.reasons == () and result.label == "winning ticket"
    assert result.versus_dense.mean == pytest.approx((0.002 + 0.005 + 0.0) / 3)


def test_a_control_inside_the_interval_makes_it_just_a_ticket():
    close = {0: 0.96, 1: 0.95, 2: 0.93}  # d = (-0.01, +0.01, +0.01): the interval straddles zero
    result = verdict(TICKET, DENSE, {"reinit": REINIT, "random_prune": close})
    assert not result.winning and result.label == "ticket"
    assert len(result.reasons) == 1 and result.reasons[0].startswith("vs random_prune: not ahead beyond the interval")


def test_below_the_dense_network_is_not_winning_unless_within_the_tolerance():
    better_dense = {0: 0.96, 1: 0.97, 2: 0.95}  # the ticket is 1.00 point below on every seed
    result = verdict(TICKET, better_dense, {"reinit": REINIT})
    assert not result.winning
    assert result.reasons == ("below the dense network by 1.00 points (tolerance 0.00)",)
    assert verdict(TICKET, better_dense, {"reinit": REINIT}, tolerance=0.015).winning


def test_one_seed_or_no_control_never_makes_a_winning_ticket():
    one_seed = verdict({0: 0.99}, {0: 0.95}, {"reinit": {0: 0.90}})
    assert not one_seed.winning and one_seed.reasons == ("vs reinit: 1 replicate: no interval",)
    assert verdict(TICKET, DENSE, {}).reasons == ("no control to compare with",)


def test_levels_pair_each_round_with_the_dense_network_of_the_same_seed():
    from lth_tf.reports.verdict import Network, level_verdicts, stopped_at_budget_end

    networks = [Network("ticket", 0, s, 1.0, DENSE[s]) for s in DENSE]
    networks += [Network("ticket", 3, s, 0.513, TICKET[s]) for s in TICKET]
    networks += [Network("reinit", 3, s, 0.513, REINIT[s]) for s in REINIT]
    networks += [Network("one_shot", 3, s, 0.513, 0.5) for s in TICKET]  # a ticket, never a control
    (level,) = level_verdicts(networks)
    assert (level.round, level.ticket_kind, set(level.verdict.versus_controls)) == (3, "ticket", {"reinit"})
    assert level.verdict.versus_controls["reinit"].low == pytest.approx(0.0075794, abs=1e-7)
    assert level.verdict.winning and level.line().startswith("round  3 ( 51.3% remaining): winning ticket: vs reinit")
    assert level_verdicts(networks[3:]) == []  # no dense network: nothing to judge against
    assert stopped_at_budget_end(2000, 2000) and not stopped_at_budget_end(1900, 2000)
