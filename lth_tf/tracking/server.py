"""An MLflow server process (`mlflow server` or `mlflow ui`): started lean, stopped with its children.

`mlflow server` is a launcher: it spawns uvicorn (the HTTP workers) and, by default, a job
runner for MLflow's GenAI jobs, which lth-tf never uses. Started here, it runs in a
session (process group) of its own with the job runner off, and stopping it signals the
whole group: Ctrl-C or SIGTERM leaves no orphaned uvicorn or job-runner process behind,
and a server that ignores SIGTERM is killed after a grace period.

Nothing secret goes on a command line, which every user of the machine can read (`ps`):
the store's URI (it may hold a database password) and the auth app's settings reach the
server in its environment (`Command.env`), and `masked` hides passwords in what is printed.

`supervise` (what `lth-tf ui` does) replaces the calling process, which holds TensorFlow
(~800 MB), by this file run as a plain script: `serve` then runs in a supervisor that
needs only the standard library and costs about 20 MB while the server runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import threading
import urllib.parse
import urllib.request
import webbrowser
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence

RUNS_VIEW = "workflowType=machine_learning"
"""MLflow 3 opens an experiment in its GenAI view; this query lands on the runs table."""

LEAN_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
"""No GenAI job runner: one process fewer, and nothing lth-tf needs."""


STORE_ENV = "MLFLOW_BACKEND_STORE_URI"
"""`mlflow server --backend-store-uri`, read from the environment."""


@dataclass
class Command:
    """A server's command line, and what its environment needs beside ours (never on the command line)."""

    args: List[str]
    env: Dict[str, str] = field(default_factory=dict)


def command(subcommand: str, backend_store_uri: str, host: str, port: int, *extra: str) -> Command:
    """`python -m mlflow SUBCOMMAND` on a store, with one HTTP worker unless `extra` says otherwise."""
    workers = [] if "--workers" in extra else ["--workers", "1"]
    return Command([sys.executable, "-m", "mlflow", subcommand, "--host", host, "--port", str(port), *workers, *extra],
                   {STORE_ENV: backend_store_uri})


def masked(uri: str) -> str:
    """`uri` with its password (postgresql://USER:PASS@HOST/DB) replaced by ***, for printing."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = f"{parts.username or ''}:***@{parts.netloc.rsplit('@', 1)[1]}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def start(server: Command, log=None) -> subprocess.Popen:
    """Starts the server in a new session (its own process group), lean."""
    return subprocess.Popen(server.args, env={**os.environ, **LEAN_ENV, **server.env}, start_new_session=True,
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


def serve(server: Command, grace: float = 15.0) -> int:
    """Runs the server in the foreground until it exits, Ctrl-C or SIGTERM; stops its children too.

    The signal handler only passes SIGTERM on to the group (waiting inside a handler can
    deadlock with the interrupted wait); the loop below escalates to SIGKILL after `grace`.
    """
    process = start(server)
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
def running(server: Command, url: str, log=None, timeout: float = 120.0) -> Iterator[str]:
    """A server for the duration of a `with` block (tests, benchmarks); yields its URL."""
    process = start(server, log)
    try:
        wait_until_healthy(url, process, timeout)
        yield url
    finally:
        stop(process)


def tracking_server_command(backend_store_uri: str, artifacts_destination: str, host: str, port: int,
                            workers: Optional[int] = None) -> Command:
    """`mlflow server` with artifact proxying: clients upload masks and θ0 through it."""
    extra = ["--serve-artifacts", "--artifacts-destination", artifacts_destination]
    if workers:
        extra += ["--workers", str(workers)]
    return command("server", backend_store_uri, host, port, *extra)


def url(host: str, port: int, experiment_id: Optional[str] = None, view: Optional[str] = None) -> str:
    """The address that opens on the runs table: of one experiment (in its shared `view`, chart mode: the
    paper's figures first), or the list."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    page = f"experiments/{experiment_id}/runs" if experiment_id else "experiments"
    shared = f"&compareRunsMode=CHART&viewStateShareKey={view}" if experiment_id and view else ""
    return f"http://{shown}:{port}/#/{page}?{RUNS_VIEW}{shared}"


def supervise(server: Command, open_url: Optional[str] = None) -> None:
    """Becomes the lean supervisor of `server` (exec: same pid, no TensorFlow); never returns.

    With `open_url`, opens it in a web browser once the server answers. `server.env`
    passes through this process's environment, which the supervisor inherits.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os.environ.update(server.env)
    # -I: isolated, so the modules beside this file never shadow the standard library's.
    script = [sys.executable, "-I", os.path.abspath(__file__)] + (["--open", open_url] if open_url else [])
    os.execv(sys.executable, script + ["--", *server.args])


def _open_when_up(address: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(address.split("#")[0].rstrip("/") + "/health", timeout=2) as response:
                if response.status == 200:
                    webbrowser.open(address)
                    return
        time.sleep(0.5)


def _main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description="Serve until Ctrl-C/SIGTERM, then stop the whole process group.")
    parser.add_argument("--open", metavar="URL", help="open URL in a web browser once the server answers")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    parsed = parser.parse_args(argv)
    if parsed.open:
        threading.Thread(target=_open_when_up, args=(parsed.open,), daemon=True).start()
    return serve(Command(parsed.args[1:] if parsed.args[:1] == ["--"] else parsed.args))


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
