"""The MLflow tracking server as a child process: its command, its URL, and a clean stop.

`mlflow server` is a launcher that starts uvicorn and its workers (and job runners) as
further processes. Killing only the launcher, which is what `subprocess.call` does on
Ctrl-C, leaves those answering on the port. So the server runs in a process group of
its own, and Ctrl-C or SIGTERM is passed to the whole group, which is then waited for
(and killed if it does not stop in time). `lth-tf ui` uses this; so can any command
that serves a store.

`serve` replaces the calling process (which holds TensorFlow, ~800 MB) by this file run
as a plain script, which needs only the standard library: the supervisor that stays
behind while the server runs costs a few MB.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import webbrowser
from typing import Callable, List, Optional, Sequence

RUNS_VIEW = "workflowType=machine_learning"
"""MLflow 3 opens an experiment in its GenAI view; this query lands on the runs table."""


def command(store_uri: str, host: str, port: int, workers: int = 1, artifact_root: Optional[str] = None,
            extra: Sequence[str] = ()) -> List[str]:
    """`mlflow server` on `store_uri`; one worker unless asked (each costs ~250 MB and seconds to start)."""
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store_uri, "--host", host,
           "--port", str(port), "--workers", str(workers)]
    if artifact_root:
        cmd += ["--default-artifact-root", artifact_root]
    return cmd + list(extra)


def url(host: str, port: int, experiment_id: Optional[str] = None, view: Optional[str] = None) -> str:
    """The address that opens on the runs table: of one experiment (in its shared `view`), or the list."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    page = f"experiments/{experiment_id}/runs" if experiment_id else "experiments"
    shared = f"&viewStateShareKey={view}" if experiment_id and view else ""
    return f"http://{shown}:{port}/#/{page}?{RUNS_VIEW}{shared}"


def wait_until_up(base_url: str, timeout: float = 120.0, alive: Callable[[], bool] = lambda: True) -> bool:
    """Polls `base_url` until it answers HTTP 200 (True), `timeout` passes or `alive()` turns False."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            with urllib.request.urlopen(base_url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


class ServerProcess:
    """A server command in its own process group, stopped as a whole.

    Use as a context manager, or `run_until_stopped()` to serve in the foreground until
    Ctrl-C or SIGTERM.
    """

    def __init__(self, cmd: Sequence[str], grace: float = 15.0, **popen_kwargs):
        self.cmd, self.grace, self.popen_kwargs = list(cmd), grace, popen_kwargs
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> "ServerProcess":
        self.process = subprocess.Popen(self.cmd, start_new_session=True, **self.popen_kwargs)
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def group_alive(self) -> bool:
        """Whether any process of the server's group is still there (the launcher or a worker)."""
        if self.process is None:
            return False
        self.process.poll()  # reaps the launcher if it has exited
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Sends `sig` to the whole group, waits up to `grace` s, then SIGKILLs what is left."""
        if self.process is None:
            return 0
        for current in (sig, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, current)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + self.grace
            while self.group_alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            if not self.group_alive():
                break
        return self.process.wait()

    def run_until_stopped(self) -> int:
        """Serves until the server exits, or until SIGINT/SIGTERM, which stop the whole group.

        Returns 0 after a requested stop, else the server's own exit status.
        """
        stop_requested = threading.Event()

        def request_stop(signum, frame):
            stop_requested.set()

        previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            if self.process is None:
                self.start()
            while not stop_requested.is_set() and self.running:
                stop_requested.wait(0.2)
            if stop_requested.is_set():
                self.stop(signal.SIGTERM)
                return 0
            return self.process.wait()
        finally:
            if self.group_alive():
                self.stop(signal.SIGTERM)
            for s, handler in previous.items():
                signal.signal(s, handler)

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(cmd: Sequence[str], open_url: Optional[str] = None) -> None:
    """Becomes the supervisor of `cmd` (exec: same pid, no TensorFlow); never returns.

    With `open_url`, opens it in a web browser once the server answers.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    # -I: isolated, so this folder's modules never shadow the standard library's.
    args = [sys.executable, "-I", os.path.abspath(__file__)] + (["--open", open_url] if open_url else [])
    os.execv(sys.executable, args + ["--", *cmd])


def _main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description="Run a server command until Ctrl-C/SIGTERM, then stop all of it.")
    parser.add_argument("--open", metavar="URL", help="open URL in a web browser once the server answers")
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    server = ServerProcess(cmd)
    if args.open:
        def open_when_up():
            if wait_until_up(args.open.split("#")[0], alive=lambda: server.running):
                webbrowser.open(args.open)

        server.start()
        threading.Thread(target=open_when_up, daemon=True).start()
    return server.run_until_stopped()


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
