"""Wall time of one controls-and-replicates experiment: sequential vs Ray workers, one run.

    python benchmarks/ray_speed.py [--iterations 500] [--replicates 2] [--workers 2]

Three runs of the same experiment (LeNet-300-100 on mnist-5k, dense round + 2 pruning
rounds, reinit and random_prune at round 2, so 5 networks per replicate), side by side:

1. sequential, in this process, into a local SQLite store (the default path);
2. `--workers 1` through an `lth-tf server` on 127.0.0.1: one network at a time, so its
   time over run 1's is what Ray and the server add per network (task dispatch, the
   worker's own TensorFlow import and graph compilation, HTTP logging, artifact upload);
3. `--workers N` through the same server: the speedup.

Ray's start-up (once per `lth-tf run`) is timed on its own and left out of runs 2 and 3.
Run 3 checks that the summaries equal run 1's bitwise. On a machine with few cores the
speedup is bounded by them: each network's TensorFlow already uses every core.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lth_tf import data  # noqa: E402
from lth_tf.tracking import server as mlflow_server
from lth_tf.settings import build_config  # noqa: E402
from pipelines.experiments import lottery, trial  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--replicates", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    settings = {"dataset": "mnist-5k", "iterations": args.iterations, "rounds": 2, "replicates": args.replicates,
                "controls": "reinit,random_prune", "control_rounds": "2"}
    cfg = build_config(settings)
    splits = data.load(cfg.dataset)
    networks = trial.networks_per_trial(cfg) * cfg.replicates
    quiet = lambda line: None  # noqa: E731
    os.chdir(tempfile.mkdtemp(prefix="ray_speed-"))
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    print(f"{networks} networks of {args.iterations} iterations ({cfg.replicates} replicates x "
          f"{trial.networks_per_trial(cfg)}), {os.cpu_count()} cores; working in {os.getcwd()}")

    started = time.perf_counter()
    sequential = lottery.run(build_config({**settings, "experiment_name": "sequential"}), splits, echo=quiet)
    seq_time = time.perf_counter() - started
    print(f"sequential, local SQLite:           {seq_time:7.1f} s  ({seq_time / networks:5.2f} s per network)")

    import ray

    port = mlflow_server.free_port()
    server = mlflow_server.tracking_server_command(f"sqlite:///{Path('server.db').resolve()}",
                                                   str(Path("server-artifacts").resolve()), "127.0.0.1", port)
    with open("server.log", "wb") as log, mlflow_server.running(server, f"http://127.0.0.1:{port}", log) as url:
        times = {}
        for workers in (1, args.workers):
            started = time.perf_counter()
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            ray_start = time.perf_counter() - started
            started = time.perf_counter()
            fanned = lottery.run(build_config({**settings, "workers": workers, "tracking_uri": url,
                                               "experiment_name": f"workers{workers}"}), splits, echo=quiet)
            times[workers] = time.perf_counter() - started
            ray.shutdown()
            same = "bitwise equal" if fanned.rounds == sequential.rounds else "DIFFERENT"
            print(f"--workers {workers}, lth-tf server:      {times[workers]:7.1f} s  "
                  f"({times[workers] / networks:5.2f} s per network; Ray start-up {ray_start:.1f} s more); "
                  f"summaries {same} to sequential")
    print(f"overhead per network of Ray + server (--workers 1 / sequential): {times[1] / seq_time:.2f}x")
    print(f"speedup of --workers {args.workers} over sequential: {seq_time / times[args.workers]:.2f}x "
          f"(over --workers 1: {times[1] / times[args.workers]:.2f}x)")


if __name__ == "__main__":
    main()
