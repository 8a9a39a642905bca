"""Screenshots of what lth-tf shows in the MLflow UI, taken in a real (headless) browser.

Proof that a newcomer sees the story at first sight, and the pictures in README and docs/. Not a
test: it needs Debian's `chromium` and `chromium-driver` and Selenium
(`apt-get install chromium chromium-driver`, `pip install 'lth-tf[screenshots]'`).

    python benchmarks/ui_screenshots.py                # runs the default experiment in a temp dir first
    python benchmarks/ui_screenshots.py --store DIR    # DIR holds ./mlruns of a finished `lth-tf run`

It starts `lth-tf ui` on that store, opens the address it prints (the experiment's shared
view "lth-tf: every network", chart mode) and writes into docs/ (or --out):
  ui-charts.png   the view's first section: accuracy and early-stop iteration against the
                  remaining fraction, every network a point coloured by kind
  ui-rounds.png   the view's per-round section: ticket and controls as series of one chart, and
                  ticket - control with its 95% interval
  ui-runs.png     the same view's runs table (grouped by kind, readable headers)
  ui-curves.png   one network's learning curves (step = iteration)
  ui-verdict.png  the report's paired-difference figure (the verdict), an artifact of the parent
  ui-report.png   the report's accuracy figure
It prints, per chart, its title and how many points it draws (`chart_points`).

MLflow 3.17 opens its assistant panel once per browser profile on localhost; the script
(and tests/integration/test_ui_browser.py) mark it as already opened first (`open_view`).
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars")
REPO = Path(__file__).resolve().parent.parent
MAX_BYTES = 300_000


def lth_tf(*args: str, cwd: Path, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lth_tf", *args], cwd=cwd, **kwargs)


def finished_runs(store: Path):
    """(experiment id, parent run, its children) of the newest finished lth-tf run in `store`/mlruns."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{store / 'mlruns' / 'mlflow.db'}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    parents = client.search_runs(experiments, "tags.kind = 'experiment' and attributes.status = 'FINISHED'",
                                 order_by=["attributes.start_time DESC"], max_results=1)
    if not parents:
        raise SystemExit(f"no finished lth-tf run in {store / 'mlruns'}")
    parent = parents[0]
    children = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
                                  max_results=1000)
    return parent.info.experiment_id, parent, children


def browser(width: int, height: int):
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}")
    options.add_argument(f"--window-size={width},{height}")
    service = webdriver.ChromeService(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(options=options, service=service)


def wait_for_text(driver, text: str, timeout: float = 60) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        expected_conditions.presence_of_element_located((By.XPATH, f"//*[contains(text(), '{text}')]")))


def save(driver, path: Path) -> None:
    """The viewport as a PNG, reduced to a palette so it stays small."""
    from PIL import Image

    image = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    for colours in (256, 128, 64):
        buffer = io.BytesIO()
        image.quantize(colours, dither=Image.Dither.NONE).save(buffer, "PNG", optimize=True)
        if buffer.tell() <= MAX_BYTES:
            break
    path.write_bytes(buffer.getvalue())
    print(f"{path}: {buffer.tell() / 1000:.0f} KB")


def click(driver, css: str, timeout: float = 30) -> bool:
    """Clicks the first element matching `css` once it is there; False if it never shows."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(driver, timeout).until(expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, css))).click()
        return True
    except TimeoutException:
        return False


ASSISTANT_SEEN = "mlflow.assistant.fab.autoOpenedOnFirstLoad_v1"
"""MLflow 3.17's localStorage key: once `true`, the assistant panel does not open by itself."""

CHART_POINTS = """
  return Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => {
    const card = p.closest('[data-testid="experiment-view-compare-runs-card"]');
    const data = p.data || [];
    const colours = new Set();
    data.forEach(t => [].concat((t.marker || {}).color || [], (t.line || {}).color || []).forEach(c => colours.add(c)));
    return {title: (card ? card.innerText : '').split('\\n')[0], traces: data.length,
            points: data.reduce((n, t) => n + ((t.x || []).filter(v => v !== null).length), 0),
            types: Array.from(new Set(data.map(t => t.type))).join(','), colours: Array.from(colours)};
  });"""


def chart_points(driver) -> list:
    """Per plotly chart on the page: its card's title, traces, points drawn, trace types and colours."""
    return driver.execute_script(CHART_POINTS)


def section_names(driver) -> list:
    """The chart view's section headers, top to bottom."""
    from selenium.webdriver.common.by import By

    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, "[data-testid='experiment-view-compare-runs-section-header'], h3")
            if e.text.strip()]


def open_view(driver, address: str) -> None:
    """Opens `address` with MLflow's assistant marked as seen on that origin (set on `/health`, a page
    that is not the app: the app's first render would win the race)."""
    driver.get(address.split("#")[0].rstrip("/") + "/health")
    driver.execute_script("window.localStorage.setItem(arguments[0], 'true')", ASSISTANT_SEEN)
    driver.get(address)


def wait_for_charts(driver, wanted, timeout: float = 120) -> list:
    """Polls until every chart title containing a string of `wanted` draws points; returns `chart_points`."""
    deadline = time.monotonic() + timeout
    charts = []
    while time.monotonic() < deadline:
        charts = chart_points(driver)
        if all(any(w in c["title"] and c["points"] for c in charts) for w in wanted):
            return charts
        time.sleep(2)
    return charts


def close_assistant(driver) -> None:
    """MLflow 3.17 opens its chat assistant beside every page on first load; it hides the runs."""
    click(driver, "[data-component-id='mlflow.assistant.chat_panel.close']", timeout=5)


def shoot(driver, address: str, wait_text: str, path: Path, settle: float = 6, before=None) -> None:
    driver.get(address)
    wait_for_text(driver, wait_text, timeout=180)
    close_assistant(driver)
    if before:
        before(driver)
    time.sleep(settle)
    save(driver, path)


def collapse_sections(driver, prefix: str) -> None:
    """Folds the chart sections whose name starts with `prefix` (a run's one-value summaries),
    so the learning curves below them come into view."""
    from selenium.webdriver.common.by import By

    headers = driver.find_elements(By.XPATH, f"//*[starts-with(normalize-space(text()), '{prefix}')]")
    for header in reversed(headers):  # bottom first, so folding one does not move the next
        if header.tag_name != "input":
            driver.execute_script("arguments[0].click()", header)
            time.sleep(0.5)


def run_default_experiment(where: Path, args) -> None:
    print(f"running `lth-tf run {' '.join(args)}` in {where} ...", flush=True)
    done = lth_tf("run", *args, cwd=where).wait()
    if done != 0:
        raise SystemExit(f"lth-tf run failed ({done})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, help="folder holding ./mlruns of a finished run (default: run one)")
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="where the PNGs go (default: docs/)")
    parser.add_argument("--width", type=int, default=1500)
    parser.add_argument("--height", type=int, default=950)
    parser.add_argument("run_args", nargs="*", help="arguments for `lth-tf run` when no --store is given")
    args = parser.parse_args()
    store = args.store or Path(tempfile.mkdtemp(prefix="lth-tf-ui-"))
    if args.store is None:
        run_default_experiment(store, args.run_args)
    experiment_id, parent, children = finished_runs(store)
    network = min(children, key=lambda r: (r.data.tags.get("kind") != "ticket",
                                           abs(float(r.data.tags.get("remaining_fraction", 1)) - 0.211)))
    args.out.mkdir(parents=True, exist_ok=True)
    from lth_tf.tracking import server as mlflow_server

    ui, address = start_ui(store)
    driver = browser(args.width, args.height)
    try:
        open_view(driver, address)
        for chart in wait_for_charts(driver, ["remaining_fraction vs. summary/early_stop_test_accuracy"]):
            print(chart)
        time.sleep(4)
        save(driver, args.out / "ui-charts.png")
        from selenium.webdriver.common.by import By

        rounds = driver.find_elements(By.XPATH, "//*[starts-with(normalize-space(text()), 'Per round')]")
        if rounds:
            driver.execute_script("arguments[0].scrollIntoView()", rounds[0])
            time.sleep(4)
        save(driver, args.out / "ui-rounds.png")
        shoot(driver, address.replace("compareRunsMode=CHART", "compareRunsMode=TABLE"), parent.info.run_name,
              args.out / "ui-runs.png")
        view = "?workflowType=machine_learning"
        base = address.split("#")[0] + "#/experiments/" + experiment_id
        shoot(driver, f"{base}/runs/{network.info.run_id}/model-metrics{view}", "summary", args.out / "ui-curves.png",
              before=lambda d: collapse_sections(d, "summary"))
        for figure, name in (("paired_difference.png", "ui-verdict.png"), ("accuracy_vs_remaining.png", "ui-report.png")):
            driver.get("about:blank")  # the app keeps the artifact it showed when only the address's hash changes
            shoot(driver, f"{base}/runs/{parent.info.run_id}/artifacts/report/{figure}{view}", figure,
                  args.out / name, settle=8)
    finally:
        driver.quit()
        os.kill(ui.pid, signal.SIGTERM)
        ui.wait(timeout=60)


def start_ui(store: Path, backend_store_uri: Optional[str] = None):
    """`lth-tf ui` on `store` (its ./mlruns, or `backend_store_uri`): (process, the address it printed)."""
    from lth_tf.tracking import server as mlflow_server

    port = mlflow_server.free_port()
    extra = ["--backend-store-uri", backend_store_uri] if backend_store_uri else []
    ui = lth_tf("ui", "--port", str(port), *extra, cwd=store, stdout=subprocess.PIPE, text=True,
                start_new_session=True)
    address = ui.stdout.readline().split()[2]
    print(f"lth-tf ui: {address}", flush=True)
    mlflow_server.wait_until_healthy(address.split("#")[0].rstrip("/"), ui, timeout=300)
    return ui, address


if __name__ == "__main__":
    main()
