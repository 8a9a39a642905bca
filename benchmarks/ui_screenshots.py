"""Screenshots of what lth-tf shows in the MLflow UI, taken in a real (headless) browser.

Proof that a newcomer sees the story at first sight, and the pictures in README. Not a
test: it needs Debian's `chromium` and `chromium-driver` and Selenium
(`apt-get install chromium chromium-driver`, `pip install 'lth-tf[screenshots]'`).

    python benchmarks/ui_screenshots.py                # runs the default experiment in a temp dir first
    python benchmarks/ui_screenshots.py --store DIR    # DIR holds ./mlruns of a finished `lth-tf run`

It starts `lth-tf ui` on that store and writes into docs/ (or --out):
  ui-runs.png     the runs table, the experiment's nested runs expanded
  ui-rounds.png   the parent run's charts: tickets and controls against the round
  ui-curves.png   one network's learning curves (step = iteration)
  ui-report.png   the report figure, as an artifact of the parent run
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

    port = mlflow_server.free_port()
    ui = lth_tf("ui", "--port", str(port), cwd=store, stdout=subprocess.PIPE, text=True, start_new_session=True)
    address = ui.stdout.readline().split()[2]
    print(f"lth-tf ui: {address}", flush=True)
    mlflow_server.wait_until_healthy(address.split("#")[0].rstrip("/"), ui, timeout=300)
    base = address.split("#")[0] + "#/experiments/" + experiment_id
    driver = browser(args.width, args.height)
    try:
        shoot(driver, address, parent.info.run_name, args.out / "ui-runs.png",
              before=lambda d: click(d, "[data-component-id$='runnamecellrenderer.tsx_46']"))
        view = "?workflowType=machine_learning"
        shoot(driver, f"{base}/runs/{parent.info.run_id}/model-metrics{view}", "rounds/ticket",
              args.out / "ui-rounds.png")
        shoot(driver, f"{base}/runs/{network.info.run_id}/model-metrics{view}", "summary", args.out / "ui-curves.png",
              before=lambda d: collapse_sections(d, "summary"))
        shoot(driver, f"{base}/runs/{parent.info.run_id}/artifacts/report/accuracy_vs_remaining.png{view}",
              "accuracy_vs_remaining.png", args.out / "ui-report.png", settle=8)
    finally:
        driver.quit()
        os.kill(ui.pid, signal.SIGTERM)
        ui.wait(timeout=60)


if __name__ == "__main__":
    main()
