"""An MLflow server process (`mlflow server` or `mlflow ui`): started lean, stopped with its children.

`mlflow server` is a launcher: it spawns uvicorn (the HTTP workers) and, by default, a job
runner for MLflow's GenAI jobs, which lth-tf never uses. Started here, it runs in a
session (process group) of its own with the job runner off, and stopping it signals the
whole group: Ctrl-C or SIGTERM leaves no orphaned uvicorn or job-runner process behind,
and a server that ignores SIGTERM is killed after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Iterator, List, Optional

LEAN_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
"""No GenAI job runner: one process fewer, and nothing lth-tf needs."""


def command(subcommand: str, backend_store_uri: str, host: str, port: int, *extra: str) -> List[str]:
    """`python -m mlflow SUBCOMMAND` on a store, with one HTTP worker unless `extra` says otherwise."""
    workers = [] if "--workers" in extra else ["--workers", "1"]
    return [sys.executable, "-m", "mlflow", subcommand, "--backend-store-uri", backend_store_uri,
            "--host", host, "--port", str(port), *workers, *extra]


def start(args: List[str], log=None) -> subprocess.Popen:
    """Starts `args` in a new session (its own process group), lean."""
    return subprocess.Popen(args, env={**os.environ, **LEAN_ENV}, start_new_session=True,
                            stdout=log, stderr=subprocess.STDOUT if log is not None else None)


def stop(process: subprocess.Popen, grace: float = 15.0) -> int:
    """SIGTERM to the process group, then SIGKILL after `grace` seconds; returns the exit status."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):  # children that outlived their parent
        os.killpg(process.pid, signal.SIGKILL)
    return process.returncode if process.returncode is not None else -signal.SIGKILL


def serve(args: List[str], grace: float = 15.0) -> int:
    """Runs the server in the foreground until it exits, Ctrl-C or SIGTERM; stops its children too.

    The signal handler only passes SIGTERM on to the group (waiting inside a handler can
    deadlock with the interrupted wait); the loop below escalates to SIGKILL after `grace`.
    """
    process = start(args)
    asked: List[float] = []

    def pass_on(signum, _frame):
        asked.append(time.monotonic())
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, pass_on) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while process.poll() is None:
            if asked and time.monotonic() - asked[0] > grace:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            time.sleep(0.2)
    finally:
        stop(process)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    status = process.returncode
    return 0 if asked or status == 0 else status


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = 120.0) -> None:
    """Polls `URL/health` until the server answers; raises if it exits or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the MLflow server exited with status {process.returncode} before answering")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        time.sleep(0.5)
    raise RuntimeError(f"the MLflow server at {url} did not answer within {timeout:.0f} s")


@contextlib.contextmanager
def running(args: List[str], url: str, log=None, timeout: float = 120.0) -> Iterator[str]:
    """A server for the duration of a `with` block (tests, benchmarks); yields its URL."""
    process = start(args, log)
    try:
        wait_until_healthy(url, process, timeout)
        yield url
    finally:
        stop(process)


def tracking_server_command(backend_store_uri: str, artifacts_destination: str, host: str, port: int,
                            workers: Optional[int] = None) -> List[str]:
    """`mlflow server` with artifact proxying: clients upload masks and θ0 through it."""
    extra = ["--serve-artifacts", "--artifacts-destination", artifacts_destination]
    if workers:
        extra += ["--workers", str(workers)]
    return command("server", backend_store_uri, host, port, *extra)
