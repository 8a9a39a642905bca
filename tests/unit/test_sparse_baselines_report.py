"""The report's tables of tickets against the other sparse networks: Δ vs dense per kind and round (✓ within
0.5 points), and each sanity check's Δ vs its method, paired by replicate."""

from lth_tf.reports import baselines
from lth_tf.reports.rows import NetworkSummary

NAN = float("nan")


def row(kind, round_, replicate, accuracy, remaining=1.0):
    return NetworkSummary(round_, kind, replicate, replicate, remaining, 0, NAN, NAN, accuracy, NAN, NAN)


ROWS = [
    row("ticket", 0, 0, 0.900), row("ticket", 0, 1, 0.910),
    row("ticket", 3, 0, 0.898, 0.5), row("ticket", 3, 1, 0.912, 0.5),
    row("snip", 3, 0, 0.880, 0.5), row("snip", 3, 1, 0.890, 0.5),
    row("snip_shuffle", 3, 0, 0.885, 0.5), row("snip_shuffle", 3, 1, 0.891, 0.5),
    row("random_prune", 3, 0, 0.850, 0.5), row("random_prune", 3, 1, 0.860, 0.5),
    row("gradual", 3, 0, 0.896), row("gradual", 3, 1, 0.904),
]


def test_within_dense_pairs_each_network_with_its_replicates_dense_one():
    table = baselines.within_dense_markdown(ROWS)
    lines = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    assert "round 3 (50.0%)" in lines["kind"]
    assert "+0.00 ± 0.28 ✓" in lines["ticket"]  # (-0.2, +0.2): mean 0, paired by replicate
    assert "-2.00 ± 0.00" in lines["snip"] and "✓" not in lines["snip"]
    assert "-0.50 ± 0.14 ✓" in lines["gradual"]  # exactly 0.5 below still counts
    assert "snip_shuffle" not in lines  # a sanity check, in the other table
    assert "random_prune" in lines  # a control of its own too


def test_sanity_checks_are_measured_against_their_own_method():
    table = baselines.sanity_markdown(ROWS)
    lines = [line for line in table.splitlines() if line.startswith("| ") and "check" not in line]
    assert any("| snip | shuffle |" in line and "+0.30 ± 0.28" in line for line in lines)
    assert any("| ticket | shuffle (random_prune) |" in line and "-5.00 ± 0.28" in line for line in lines)
    assert baselines.markdown(ROWS).count("\n|---") == 2  # both tables


def test_the_methods_figure_leaves_out_sanity_checks_and_is_drawn_only_when_a_method_has_one():
    kinds = {"ticket", "reinit", "random_prune", "snip", "snip_invert", "synflow_shuffle", "gradual", "fine_tune"}
    # snip_invert checks snip (present); synflow_shuffle without synflow is a method of its own
    assert sorted(baselines.method_kinds(kinds)) == sorted(
        ["ticket", "reinit", "random_prune", "snip", "synflow_shuffle", "gradual", "fine_tune"])
    assert baselines.has_method_checks(kinds)
    assert not baselines.has_method_checks({"ticket", "reinit", "random_prune", "snip", "synflow_shuffle"})
