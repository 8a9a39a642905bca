"""Latency of an authenticated request to `lth-tf server`: MLflow's password cache off vs on, interleaved.

    python benchmarks/server_auth_cache.py [--requests 20]

Two basic-auth servers on 127.0.0.1, configured as `lth-tf server` configures one
(`lth_tf.tracking.server_auth`), one with `auth_cache_ttl_seconds = 0` (MLflow's default: the
password is hashed with scrypt on every request), one with lth-tf's 60 s. The requests
alternate between them, so a busy machine slows both alike; prints the medians and
their ratio.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lth_tf.tracking import server as mlflow_server, server_auth  # noqa: E402

PASSWORD = "benchmark-admin-password"


def start(folder: Path, cache_seconds: int):
    server_auth.AUTH_CACHE_SECONDS = cache_seconds
    config = server_auth.write_config(folder, f"sqlite:///{folder / 'users.db'}", "admin")
    port = mlflow_server.free_port()
    command = mlflow_server.tracking_server_command(f"sqlite:///{folder / 'mlflow.db'}", str(folder / "artifacts"),
                                                    "127.0.0.1", port)
    command.args += ["--app-name", "basic-auth"]
    command.env.update(server_auth.environment(config, "admin", PASSWORD))
    return mlflow_server.start(command, open(folder / "server.log", "wb")), f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="auth-cache-"))
    servers = {}
    for seconds in (0, server_auth.AUTH_CACHE_SECONDS):
        (root / str(seconds)).mkdir()
        servers[seconds] = start(root / str(seconds), seconds)
    try:
        for process, url in servers.values():
            mlflow_server.wait_until_healthy(url, process, timeout=300)
        header = {"Authorization": "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()}
        times = {seconds: [] for seconds in servers}
        for _ in range(args.requests):
            for seconds, (_, url) in servers.items():
                request = urllib.request.Request(f"{url}/api/2.0/mlflow/experiments/search?max_results=1",
                                                 headers=header)
                began = time.perf_counter()
                with urllib.request.urlopen(request, timeout=120) as response:
                    response.read()
                times[seconds].append(time.perf_counter() - began)
        medians = {seconds: statistics.median(values) for seconds, values in times.items()}
        for seconds, median in medians.items():
            print(f"auth_cache_ttl_seconds={seconds:>2}: median {median * 1000:.0f} ms per authenticated request "
                  f"({args.requests} requests)")
        off, on = medians[0], medians[max(medians)]
        print(f"no cache / cache: {off / on:.1f}x")
    finally:
        for process, _ in servers.values():
            mlflow_server.stop(process)


if __name__ == "__main__":
    main()
