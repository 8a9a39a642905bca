"""The run's last word: ticket against control, one line per level."""

from pipelines.runs.summary import RoundSummary, versus_controls


def row(kind, round_, accuracy, replicate=0, remaining=0.513):
    return RoundSummary(round_, kind, replicate, replicate, remaining, 500, 0.1, accuracy, accuracy, accuracy, 1.0)


def test_one_line_per_control_and_round_with_the_difference_of_replicate_means():
    rows = [row("ticket", 0, 0.95, remaining=1.0), row("ticket", 3, 0.95), row("reinit", 3, 0.93),
            row("ticket", 3, 0.97, replicate=1), row("reinit", 3, 0.93, replicate=1),
            row("ticket", 7, 0.94, remaining=0.211), row("reinit", 7, 0.95, remaining=0.211),
            row("random_prune", 7, 0.90, remaining=0.211)]
    assert versus_controls(rows) == [
        "round  3 ( 51.3% remaining): ticket 0.9600 vs reinit 0.9300: +3.00 points",
        "round  7 ( 21.1% remaining): ticket 0.9400 vs random_prune 0.9000: +4.00 points",
        "round  7 ( 21.1% remaining): ticket 0.9400 vs reinit 0.9500: -1.00 points",
    ]


def test_controls_beside_one_shot_tickets_compare_with_them_and_no_controls_say_nothing():
    assert versus_controls([row("one_shot", 3, 0.9), row("reinit", 3, 0.8)]) == [
        "round  3 ( 51.3% remaining): one_shot 0.9000 vs reinit 0.8000: +10.00 points"]
    assert versus_controls([row("ticket", 0, 0.9), row("ticket", 3, 0.9)]) == []
