"""SIGKILL a real `lth-tf run` at random moments, resume it each time, compare with an uninterrupted run.

    python benchmarks/kill_resume.py [--kills 10] [--seed 0] [--workdir DIR] [-- LTH-TF RUN ARGS]

With no run arguments it is the default experiment (`lth-tf run`: LeNet-300-100 on
mnist-5k, 16 networks of 2,000 iterations). Three experiments, each in its own store
under WORKDIR (default: a temporary directory):

  reference/       uninterrupted, checkpoints at every evaluation (the default); timed
  no-checkpoints/  uninterrupted, `--checkpoint-interval 0`; timed: the checkpoint overhead
                   is the ratio of the two wall times (run at the same time, side by side,
                   so both see the same load on a shared machine)
  killed/          started, SIGKILLed a random delay (uniform in [1 s, 2T/kills], T the
                   reference's wall time) after it took its parent run (its `lth_tf.pid`
                   tag: startup, which takes minutes on a loaded machine, is not what is
                   tested), restarted with the same command, and so on, until `--kills`
                   kills were made; then run to the end

After every resumed process (killed again or finished), every network the killed store
holds as FINISHED must equal the reference's (its mask, and every metric at every step,
bitwise), no network may have two child runs, no parent metric two values at a step and
no FINISHED run a `checkpoint/` artifact; the last one must hold the whole experiment,
equal to the reference. Prints
"N/N resumed runs equal the uninterrupted one" and the overhead.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from mlflow.tracking import MlflowClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.runs import run_index  # noqa: E402


os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"  # one bar per downloaded mask otherwise


def start(directory: Path, args) -> subprocess.Popen:
    directory.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    log = open(directory / "output.txt", "a")
    return subprocess.Popen([sys.executable, "-m", "lth_tf", "run", *args], cwd=directory, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def owns_a_run(directory: Path, pid: int) -> bool:
    """Whether the process `pid` took its parent run (read-only SQL: MLflow would create a missing store)."""
    database = directory / "mlruns" / "mlflow.db"
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as connection:
            return connection.execute("SELECT 1 FROM tags WHERE key = 'lth_tf.pid' AND value = ?",
                                      (str(pid),)).fetchone() is not None
    except sqlite3.OperationalError:  # not created yet
        return False


def timed_runs(runs) -> list:
    """Wall times of `lth-tf run`s started together, one per (directory, args)."""
    began = time.perf_counter()
    processes = [(directory, start(directory, args)) for directory, args in runs]
    times = [None] * len(processes)
    while None in times:
        time.sleep(0.2)
        for i, (directory, process) in enumerate(processes):
            if times[i] is None and process.poll() is not None:
                if process.returncode != 0:
                    sys.exit(f"{directory.name}: lth-tf run exited {process.returncode}; see {directory / 'output.txt'}")
                times[i] = time.perf_counter() - began
    return times


def contents(directory: Path):
    """(parent, network records, parent metric histories) of the store's one experiment; None before it exists."""
    client = MlflowClient(f"sqlite:///{directory / 'mlruns' / 'mlflow.db'}")
    import mlflow

    mlflow.set_tracking_uri(client.tracking_uri)  # artifact downloads go to the same store
    parents = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])
               if r.data.tags.get("kind") == "experiment"]
    if not parents:
        return None
    if len(parents) != 1:
        raise AssertionError(f"{len(parents)} parent runs in {directory}")
    holding = [r for r in client.search_runs([parents[0].info.experiment_id], max_results=1000)
               if r.info.status == "FINISHED" and client.list_artifacts(r.info.run_id, "checkpoint")]
    return (parents[0], run_index.network_records(parents[0], client), run_index.metric_histories(parents[0], client),
            len(holding))


def differences(killed, reference, complete: bool):
    """What in the killed store differs from the reference (empty: equal so far)."""
    if killed is None:
        return ["no parent run"] if complete else []
    parent, networks, parent_metrics, holding = killed
    _, ref_networks, ref_metrics, _ = reference
    found = [f"{holding} FINISHED runs hold checkpoint/ artifacts"] if holding else []
    for key, network in networks.items():
        if network["status"] != "FINISHED":
            if complete:
                found.append(f"{key} is {network['status']}")
            continue
        ref = ref_networks[key]
        if network["metrics"] != ref["metrics"]:
            found.append(f"{key}: metrics differ")
        if network["masks"].keys() != ref["masks"].keys() or any(
                not np.array_equal(network["masks"][k], ref["masks"][k]) for k in network["masks"]):
            found.append(f"{key}: masks differ")
    for name, history in parent_metrics.items():
        steps = [step for step, _ in history]
        if len(steps) != len(set(steps)):
            found.append(f"parent metric {name} logged twice at a step")
        if not set(history) <= set(ref_metrics.get(name, [])):
            found.append(f"parent metric {name} differs")
    if complete:
        if networks.keys() != ref_networks.keys():
            found.append(f"networks {sorted(set(ref_networks) ^ set(networks))} missing or extra")
        if parent_metrics != ref_metrics:
            found.append("parent metrics differ")
        if parent.info.status != "FINISHED":
            found.append(f"parent is {parent.info.status}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("run_args", nargs="*", help="arguments of `lth-tf run` (after --)")
    options = parser.parse_args()
    work = options.workdir or Path(tempfile.mkdtemp(prefix="kill_resume-"))
    args, moments = options.run_args, random.Random(options.seed)
    print(f"lth-tf run {' '.join(args)}; stores under {work}", flush=True)

    with_checkpoints, without = timed_runs([(work / "reference", args),
                                            (work / "no-checkpoints", [*args, "--checkpoint-interval", "0"])])
    print(f"uninterrupted, checkpoints every evaluation: {with_checkpoints:.1f} s", flush=True)
    print(f"uninterrupted, no checkpoints:               {without:.1f} s", flush=True)
    reference = contents(work / "reference")
    unchecked = differences(contents(work / "no-checkpoints"), reference, complete=True)
    print(f"the run without checkpoints equals the reference: {'yes' if not unchecked else unchecked}")

    killed, kills, resumed, equal = work / "killed", 0, 0, 0
    while True:
        process = start(killed, args)
        delay = moments.uniform(1.0, 2 * with_checkpoints / options.kills) if kills < options.kills else None
        while delay is not None and process.poll() is None and not owns_a_run(killed, process.pid):
            time.sleep(0.2)
        try:
            code = process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            code = None
        if kills:  # this process resumed a killed one
            resumed += 1
            found = differences(contents(killed), reference, complete=code == 0)
            equal += not found
            print(f"resume {resumed}: {'finished' if code == 0 else f'killed {delay:.1f} s after taking its run'}; "
                  f"{'equal to the uninterrupted run so far' if not found else found}", flush=True)
        if code == 0:
            break
        if code is not None:
            sys.exit(f"lth-tf run exited {code}; see {killed / 'output.txt'}")
        kills += 1
        print(f"kill {kills}, {delay:.1f} s after taking its run", flush=True)
    print(f"\n{equal}/{resumed} resumed runs equal the uninterrupted one ({kills} SIGKILLs, "
          f"parent run resumed {contents(killed)[0].data.tags.get('lth_tf.resumes')} times)")
    print(f"checkpoint overhead: {with_checkpoints:.1f} s with / {without:.1f} s without = "
          f"{with_checkpoints / without:.3f}")


if __name__ == "__main__":
    main()
