"""Networks train one after another in this process: what runs without `--workers` or `--ray-address`."""

from __future__ import annotations

import contextlib
from typing import ContextManager, Iterable, List, Sequence

from lth_tf.settings import ExperimentConfig
from pipelines.execution.base import Executor, RunOne, Trial
from pipelines.experiments.trial import MasksByRound, run_trial
from pipelines.runs.network_run import ChildRuns, Echo


class LocalExecutor(Executor):
    def session(self) -> ContextManager[None]:
        return contextlib.nullcontext()

    def run_trials(self, runs: ChildRuns, trials: Iterable[Trial], experiment_id: str) -> List[MasksByRound]:
        """Each trial in turn; `runs` trains its networks here, adding each summary as it finishes."""
        return [run_trial(network, runs.cfg, runs, replicate, seed) for replicate, seed, network in trials]

    def run_experiments(self, run_one: RunOne, configs: Sequence[ExperimentConfig], labels: Sequence[str],
                        parent_run_id: str, echo: Echo) -> List[str]:
        run_ids = []
        for number, (cfg, label) in enumerate(zip(configs, labels), 1):
            echo(f"point {number}/{len(configs)}: {label}")
            run_ids.append(run_one(cfg, parent_run_id, echo=echo))
        return run_ids
