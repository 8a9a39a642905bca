"""The one interface of where networks train: `Executor`.

An experiment asks the executor its settings choose (`pipelines.execution.for_settings`)
to run what does not depend on anything else, and gathers the results in a fixed order:

- `run_trials`: every replicate's trial (its rounds stay in order: round r prunes the
  ticket of round r-1). The networks a trial hands over while it goes on (its controls,
  `ChildRuns.train_from`) are the executor's to place: trained in place by the local
  executor, submitted as tasks of their own by Ray's. Each network's summary ends in
  `runs.summaries`, with the parent's means recorded.
- `run_experiments`: whole experiments (a sweep's points), each nested under a parent run.

`session` is what must run around all of it (a Ray session; nothing in process).
Implementations: `local.LocalExecutor` (one after another, in this process) and
`ray.RayExecutor` (`--workers`, `--ray-address`).
"""

from __future__ import annotations

import abc
from typing import Callable, ContextManager, Iterable, List, Sequence, Tuple

from lth_tf.settings import ExperimentConfig
from lth_tf.tfkeras import keras
from pipelines.experiments.trial import MasksByRound
from pipelines.runs.network_run import ChildRuns, Echo

Trial = Tuple[int, int, keras.Model]
"""(replicate, seed, the network initialized for that seed)."""
RunOne = Callable[..., str]
"""`run_one(cfg, parent_run_id, echo=print) -> run id`: one whole experiment (a module-level function,
so that another process can run it)."""


class Executor(abc.ABC):
    resumes: bool = True
    """Whether it can continue an unfinished experiment's run."""

    @abc.abstractmethod
    def session(self) -> ContextManager[None]:
        """What must be running while networks train, entered once around an experiment or a sweep."""

    @abc.abstractmethod
    def run_trials(self, runs: ChildRuns, trials: Iterable[Trial], experiment_id: str) -> List[MasksByRound]:
        """Trains every trial, its networks tracked under `runs.parent_run_id` (in `experiment_id`);
        their summaries land in `runs.summaries`; returns each trial's tickets, in replicate order."""

    @abc.abstractmethod
    def run_experiments(self, run_one: RunOne, configs: Sequence[ExperimentConfig], labels: Sequence[str],
                        parent_run_id: str, echo: Echo) -> List[str]:
        """Runs `run_one` on every config (a sweep's points, described by `labels`); their run ids, in order."""
