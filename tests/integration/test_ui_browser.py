"""The shared view in a real browser: the address `lth-tf ui` prints draws the paper's figures with data.

Headless Debian `chromium` driven by `chromium-driver` through Selenium (`.ci/run` installs
them); skipped, saying why, only where they are absent. A real tiny experiment (2 seeds,
tickets and the reinit control) is tracked, `lth-tf ui` serves it, and the page must draw
the view's charts with one point per network, tickets and controls in their kinds' colours:
that the view's JSON was written is not enough (MLflow silently drops what it cannot apply).
"""

import os
import shutil
import signal
import sys
from pathlib import Path

import pytest

from conftest import small_model
from lth_tf import masking

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import ui_screenshots  # noqa: E402  (the screenshot script's browser helpers)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
missing = [name for name, path in (("chromium", CHROMIUM), ("chromium-driver", CHROMEDRIVER)) if not shutil.which(path)]
try:
    import selenium  # noqa: F401
except ImportError:
    missing.append("selenium (pip install 'lth-tf[test]')")

pytestmark = pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)} for a real-browser check")


def test_the_printed_address_draws_accuracy_against_remaining_with_tickets_and_controls(store, tiny_config,
                                                                                       tiny_splits):
    from lth_tf.settings import build_config
    from pipelines.experiments import lottery

    cfg = build_config({"iterations": 40, "eval_interval": 10, "rounds": 1, "batch_size": 30,
                        "steps_per_execution": 5, "log_models": "none", "replicates": 2,
                        "controls": "reinit", "control_rounds": "1"})
    result = lottery.run(cfg, splits=tiny_splits, model=lambda: masking.mask_model(small_model()),
                         echo=lambda _: None)
    networks = len(result.rounds)
    assert networks == 6  # 2 seeds x (dense, ticket, reinit)

    ui, address = ui_screenshots.start_ui(store)
    assert "compareRunsMode=CHART" in address and "viewStateShareKey=lth-tf" in address
    driver = ui_screenshots.browser(1500, 1400)
    try:
        ui_screenshots.open_view(driver, address)
        accuracy, iteration = ("summary/remaining_fraction vs. summary/early_stop_test_accuracy",
                               "summary/remaining_fraction vs. summary/early_stop_iteration")
        charts = ui_screenshots.wait_for_charts(driver, [accuracy, iteration, "rounds/ticket/early_stop_test"])
        drawn = {c["title"]: c for c in charts}
        assert accuracy in drawn, f"no accuracy chart among {[c['title'] for c in charts]}"
        # Every network is a point, coloured by its kind (ticket blue, reinit red): separate series.
        assert drawn[accuracy]["points"] == drawn[iteration]["points"] == networks
        assert {"#1f77b4", "#d62728"} <= {c.lower() for c in drawn[accuracy]["colours"]}
        # The parent's per-round chart: the ticket and the control as two series of one chart.
        rounds = next(c for t, c in drawn.items() if t.startswith("rounds/ticket/early_stop_test_accuracy"))
        assert "rounds/reinit/early_stop_test_accuracy" in rounds["title"] and rounds["points"] >= 3
        # The verdict's paired difference ticket - reinit, mean and 95% interval ends at round 1.
        difference = drawn["rounds/reinit/difference_mean vs rounds/reinit/difference_low vs "
                           "rounds/reinit/difference_high"]
        assert difference["points"] >= 3
        # The first section on the page is the paper's figure; MLflow's assistant did not open over it.
        page = driver.find_element("tag name", "body").text
        assert page.index("Every network: accuracy") < page.index("Per round")
        assert "viewStateShareKey" in driver.current_url  # the shared view was applied, not dropped
    finally:
        driver.quit()
        os.kill(ui.pid, signal.SIGTERM)
        ui.wait(timeout=60)
