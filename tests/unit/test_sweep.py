"""`lth-tf sweep`: bad sweep files fail in one line with exit 2, before any run (running one: test_fanout.py)."""

import pytest

from conftest import invoke
from pipelines.experiments import sweep as sweeping


@pytest.mark.parametrize("text, message", [
    ("grid: {fc_rate: [0.2, 0.3]}\nsettings: {}\n", "unknown section(s) settings"),
    ("grid: {fc_rate: []}\n", "every grid setting needs a non-empty list of values"),
    ("base: {iterations: 20}\n", "no points; give a grid or a list of points"),
    ("grid: {fc_rate: [0.2, 1.5]}\n", "--fc-rate must be between 0 and 1 (exclusive), got 1.5"),
    ("points: [{fc_rat: 0.2}]\n", "unknown setting 'fc_rat'"),
])
def test_a_bad_sweep_file_is_refused_in_one_line(store, capsys, text, message):
    (store / "sweep.yaml").write_text(text)
    code, _, err = invoke(["sweep", "sweep.yaml"], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (store / "mlruns").exists()  # nothing was tracked


def test_a_grid_and_listed_points_make_every_combination_then_the_list(store):
    (store / "sweep.yaml").write_text("base: {rounds: 2}\ngrid: {fc_rate: [0.2, 0.3], criterion: [magnitude, movement]}\n"
                                      "points: [{learning_rate: 0.01}]\nname: mine\n")
    spec = sweeping.read("sweep.yaml")
    assert spec.name == "mine" and len(spec.points) == 5
    configs = spec.configs()
    assert [(c.pruning.fc_rate, c.pruning.criterion) for c in configs[:4]] == [
        (0.2, "magnitude"), (0.2, "movement"), (0.3, "magnitude"), (0.3, "movement")]
    assert configs[4].training.learning_rate == 0.01 and all(c.pruning.rounds == 2 for c in configs)
    assert all(c.experiment_name == "mine" for c in configs)
