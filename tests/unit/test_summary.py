"""The run's last word: each level's verdict with the ticket's paired differences and their intervals."""

import pytest

from lth_tf.reports.rows import NetworkSummary
from pipelines.runs.summary import COLUMNS, budget_warnings, to_text, versus_controls


def row(kind, round_, accuracy, replicate=0, remaining=0.513, early_stop=500):
    return NetworkSummary(round_, kind, replicate, replicate, remaining, early_stop, 0.1, accuracy, accuracy, accuracy,
                        1.0)


def test_three_replicates_give_each_level_a_hand_computed_interval():
    # ticket - reinit per seed: 0.020, 0.025, 0.015 -> mean 0.020, s = 0.005, t(0.975, 2) = 4.3027,
    # half-width 4.3027 * 0.005 / sqrt(3) = 0.012421 -> [+0.76, +3.24] points.
    # ticket - dense per seed: 0.002, 0.005, 0.000 -> mean +0.0023 (not below dense).
    dense, ticket, reinit = (0.948, 0.955, 0.940), (0.95, 0.96, 0.94), (0.93, 0.935, 0.925)
    rows = [row("ticket", 0, a, seed, remaining=1.0) for seed, a in enumerate(dense)]
    rows += [row("ticket", 3, a, seed) for seed, a in enumerate(ticket)]
    rows += [row("reinit", 3, a, seed) for seed, a in enumerate(reinit)]
    # s of (0.002, 0.005, 0.000) = 0.0025166, half-width 4.3027 * 0.0025166 / sqrt(3) = 0.0062515
    assert versus_controls(rows) == [
        "round  3 ( 51.3% remaining): winning ticket: vs reinit +2.00 points, 95% CI [+0.76, +3.24] "
        "(t-interval, 3 seeds); vs dense +0.23 points, 95% CI [-0.39, +0.86] (t-interval, 3 seeds)"]


def test_one_seed_is_a_ticket_with_no_interval_and_controls_are_paired_by_seed():
    rows = [row("ticket", 0, 0.95, remaining=1.0), row("ticket", 7, 0.94, remaining=0.211),
            row("reinit", 7, 0.95, remaining=0.211), row("random_prune", 7, 0.90, remaining=0.211)]
    assert versus_controls(rows) == [
        "round  7 ( 21.1% remaining): ticket: vs random_prune +4.00 points (1 replicate: no interval); "
        "vs reinit -1.00 points (1 replicate: no interval); vs dense -1.00 points (1 replicate: no interval)"]


def test_one_shot_tickets_are_judged_and_no_controls_is_never_winning():
    rows = [row("ticket", 0, 0.9, s, remaining=1.0) for s in range(2)] + [row("one_shot", 3, 0.9, s) for s in range(2)]
    assert versus_controls(rows + [row("reinit", 3, 0.8, s) for s in range(2)])[0].startswith(
        "round  3 ( 51.3% remaining): winning ticket: vs reinit +10.00 points, 95% CI [+10.00, +10.00]")  # no spread
    assert versus_controls(rows) == []  # without controls: only the report's verdict table judges the level


def test_early_stop_on_the_last_evaluation_is_warned_about():
    rows = [row("ticket", 0, 0.9, remaining=1.0, early_stop=2000), row("ticket", 1, 0.9, early_stop=1500)]
    assert budget_warnings(rows, 1500) != [] and budget_warnings(rows, 2100) == []
    assert "1 of 2 networks (ticket r00 s0)" in budget_warnings(rows, 2000)[0]


def test_the_table_shows_what_a_ticket_saves():
    summary = row("ticket", 1, 0.9)
    summary.nonzero_weights, summary.flops = 53_240.0, 106_480.0
    text = to_text([summary])
    assert "nonzero weights" in text and "53,240" in text and "1.06e+05" in text
    assert [key for key, _, _ in COLUMNS][-2:] == ["nonzero_weights", "flops"]


def test_costs_unknown_before_they_were_logged_are_left_out_of_the_metrics():
    summary = row("ticket", 1, 0.9)
    assert "flops" not in summary.metrics()
    back = NetworkSummary.from_run({"round": "1", "kind": "ticket", "replicate": "0", "seed": "0"},
                                 {f"summary/{k}": float(v) for k, v in summary.metrics().items()})
    assert back.flops != back.flops  # NaN: not logged
    summary.flops = 10.0
    assert summary.metrics()["flops"] == pytest.approx(10.0)
