"""Trials and controls as Ray tasks: `--workers N` (a local Ray) or `--ray-address` (a cluster).

What fans out is what does not depend on anything else: each replicate's trial is one
task (its rounds stay sequential: round r prunes the ticket of round r-1), and within a
round each control is a task of its own, given only what it needs: the network's
architecture, the round's mask and its starting weights (θ0, θk, fresh or trained
weights), handed by the trial to the driver, never re-derived. The driver starts the
controls, so no task ever waits for another while it holds a GPU: on a GPU cluster every
network asks for one GPU, and a trial holding its GPU while waiting for controls that
each need one would wait forever once GPUs run short. The driver owns the parent run;
workers log each network as a nested run straight to the tracking store (SQLite on this
machine, `lth-tf server` for a cluster), with the driver's MLflow credentials.

Results are bitwise those of the sequential run: every network's training depends only
on its seed, mask and starting weights (`training.train_round` seeds the global
generators per network), θ0 travels with the trial, and the parent's means are taken in
replicate order however the trials finish (`network_run.ParentMetrics`). `RayExecutor` is this
backend behind the one executor interface (`pipelines.execution.base`).

A worker that dies is retried by Ray (`MAX_RETRIES`); the retried network replaces the
child run its dead attempt left. If retries run out, the other networks still finish,
the dead one's run ends FAILED, and so does the parent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from dataclasses import dataclass
from typing import Callable, ContextManager, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

import mlflow

from lth_tf.runtime import distribute
from lth_tf.training import weights
from lth_tf.training.callbacks import StartFrom
from lth_tf.settings import ExperimentConfig
from lth_tf.settings.groups import EngineHparams
from lth_tf.data import Splits
from lth_tf.errors import UserError
from lth_tf.masking import MaskedLayer, Masks
from lth_tf.tfkeras import keras
from pipelines.execution.base import Executor, RunOne, Trial
from pipelines.runs.network_run import ChildRuns, Echo, end_dangling
from pipelines.runs.run_index import NetworkKey
from lth_tf.reports.rows import NetworkSummary
from pipelines.experiments.trial import MasksByRound, run_trial

MAX_RETRIES = 3
"""Attempts after a worker dies (its process is killed, its machine lost). Errors are not retried: they would repeat."""


@dataclass
class Blueprint:
    """A network that another process can rebuild exactly: architecture (JSON) and weights."""

    architecture: str
    initial: weights.Snapshot

    @classmethod
    def of(cls, model: keras.Model) -> "Blueprint":
        return cls(model.to_json(), weights.take(model))

    def build(self, strategy: str = "none") -> keras.Model:
        return rebuild(self.architecture, strategy, self.initial)


def rebuild(architecture: str, strategy: str = "none", snapshot: weights.Snapshot = None) -> keras.Model:
    """The masked network from its JSON, under `--distribute`'s strategy; `snapshot` written into it, if given."""
    with distribute.scope(strategy):
        model = keras.models.model_from_json(architecture, custom_objects={"MaskedLayer": MaskedLayer})
    if snapshot is not None:
        weights.restore(model, snapshot)
    return model


@dataclass
class Store:
    """Where a worker logs: the tracking URI, the experiment and the parent run."""

    tracking_uri: str
    experiment_id: str
    parent_run_id: str

    def attach(self) -> None:
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_experiment(experiment_id=self.experiment_id)


@contextlib.contextmanager
def ray_session(engine: EngineHparams) -> Iterator[None]:
    """Starts a local Ray with `workers` CPUs, or joins `ray_address`; a running session is reused."""
    try:
        import ray
    except ImportError:
        raise UserError("--workers and --ray-address need Ray: pip install 'lth-tf[ray]'") from None

    if ray.is_initialized():
        _check_gpu_share(engine)
        yield
        return
    try:
        if engine.ray_address:
            ray.init(address=engine.ray_address, log_to_driver=True)
        else:
            ray.init(num_cpus=engine.workers, include_dashboard=False, log_to_driver=True)
    except (ConnectionError, ValueError, RuntimeError) as error:
        raise UserError(f"cannot start or join Ray ({engine.ray_address or 'local'}): "
                        f"{str(error).splitlines()[0]}") from None
    try:
        _check_gpu_share(engine)
        yield
    finally:
        ray.shutdown()


def _check_gpu_share(engine: EngineHparams) -> None:
    """`--gpu-share` on a cluster without a GPU: one line, before any run exists (Ray would wait forever)."""
    import ray

    if engine.gpu_share is not None and not ray.cluster_resources().get("GPU", 0):
        raise UserError(f"--gpu-share {engine.gpu_share}: the Ray cluster has no GPU")


def network_resources(gpu_share: Optional[float] = None) -> Dict[str, float]:
    """What one network asks Ray for: `gpu_share` of a GPU (default 1) when the cluster has any, a CPU otherwise.

    A share below 1 puts several networks on one GPU at once (0.5: two); TensorFlow's memory
    growth (`lth_tf.runtime.gpu`) lets their processes share its memory.
    """
    import ray

    if ray.cluster_resources().get("GPU", 0):
        return {"num_gpus": 1 if gpu_share is None else gpu_share}
    return {"num_cpus": 1}


CREDENTIALS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN",
               "MLFLOW_TRACKING_INSECURE_TLS", "MLFLOW_TRACKING_SERVER_CERT_PATH", "MLFLOW_TRACKING_CLIENT_CERT_PATH")
"""MLflow's client settings for a server that asks who is logging (`lth-tf server` beyond localhost)."""


def task(function: Callable, resources: Dict[str, float]):
    """`function` as a Ray task of one network: retried if its worker dies, given the driver's MLflow credentials.

    Workers on other machines do not share the driver's environment, so the credentials
    travel in the task's runtime environment. A GPU task's worker exits after it (Ray's
    default for `num_gpus`): TensorFlow frees the GPU's memory only when its process ends.
    """
    import ray

    env = {name: os.environ[name] for name in CREDENTIALS if os.environ.get(name)}
    return ray.remote(max_retries=MAX_RETRIES, runtime_env={"env_vars": env} if env else None, **resources)(function)


@dataclass
class Control:
    """A control the trial asks the driver to train: which network, its mask and where it starts."""

    kind: str
    round: int
    replicate: int
    seed: int
    masks: Masks
    start: weights.Snapshot
    start_step: int

    @property
    def key(self) -> NetworkKey:
        return self.kind, self.round, self.replicate


def _train_trial(blueprint: Blueprint, shared, store: Store, replicate: int, seed: int,
                 requests) -> Tuple[List[Union[NetworkSummary, Control]], MasksByRound]:
    """A Ray task: one replicate's tickets in order. Its controls go to the driver.

    The driver trains them as tasks of its own, so this task never waits for another
    while it holds a GPU (on a cluster with fewer GPUs than waiting networks, that wait
    would never end). Each control is sent as soon as its round is pruned (`requests`,
    a queue the driver polls) and stands in its place among the returned summaries, so
    the driver still finds it if the queue's process died.
    """
    import ray

    cfg, splits = ray.get(shared[0])
    store.attach()
    model = blueprint.build(cfg.engine.distribute)

    def spawn(kind, round_, replicate_, seed_, masks, start, start_step) -> Callable[[], Control]:
        control = Control(kind, round_, replicate_, seed_, masks, start, start_step)
        with contextlib.suppress(ray.exceptions.RayError):
            requests.put(control)
        return lambda: control

    runs = ChildRuns(cfg, splits, store.parent_run_id, log_parent_means=False, spawn=spawn, on_worker=True)
    tickets = run_trial(model, cfg, runs, replicate, seed)
    return runs.summaries, tickets


def _train_control(architecture: str, shared, store: Store, control: Control) -> NetworkSummary:
    """A Ray task: one control network, from its mask, starting weights and starting iteration."""
    import ray

    cfg, splits = ray.get(shared[0])
    store.attach()
    runs = ChildRuns(cfg, splits, store.parent_run_id, log_parent_means=False, on_worker=True)
    summary, _ = runs.train(rebuild(architecture, cfg.engine.distribute), control.kind, control.round,
                            control.replicate, control.seed, control.masks, [StartFrom(control.start)],
                            start_step=control.start_step)
    return summary


def run_trials(cfg: ExperimentConfig, splits: Splits, trials: Iterable[Tuple[int, int, keras.Model]],
               store: Store, record: Callable[[NetworkSummary], None]) -> List[Tuple[List[NetworkSummary], MasksByRound]]:
    """Every replicate's trial as a Ray task, and the controls they ask for as tasks of their own;
    `record`s a trial's summaries once it and its controls finish; results in replicate order.

    A network that fails for good does not stop the others: they finish (their networks
    stay in the store), then the first failure is raised.
    """
    import ray
    from ray.util.queue import Queue

    resources = network_resources(cfg.engine.gpu_share)
    shared = [ray.put((cfg, splits))]  # in a list, so tasks receive the reference and pass it on
    requests = Queue(actor_options={"num_cpus": 0})
    trial, control = task(_train_trial, resources), task(_train_control, resources)
    architectures, waiting = {}, {}
    for replicate, seed, model in trials:
        blueprint = Blueprint.of(model)
        architectures[replicate] = ray.put(blueprint.architecture)
        waiting[trial.remote(blueprint, shared, store, replicate, seed, requests)] = replicate
    controls: Dict[NetworkKey, NetworkSummary] = {}
    started: Set[NetworkKey] = set()
    trialled: Dict[int, Tuple[list, MasksByRound]] = {}
    results, failures = {}, []

    def start(asked: Control) -> None:
        if asked.key not in started:  # a retried trial asks again for the controls it had asked for
            started.add(asked.key)
            waiting[control.remote(architectures[asked.replicate], shared, store, asked)] = asked.key

    def start_requested() -> None:
        nonlocal requests
        if requests is None:
            return
        try:
            for asked in requests.get_nowait_batch(requests.size()):
                start(asked)
        except ray.exceptions.RayError:  # the queue's process died: controls start when their trial returns
            requests = None

    try:
        while waiting:
            start_requested()
            done, _ = ray.wait(list(waiting), num_returns=1, timeout=0.2)
            if not done:
                continue
            what = waiting.pop(done[0])
            try:
                value = ray.get(done[0])
            except ray.exceptions.RayError as error:
                failures.append(error)
                continue
            if isinstance(what, tuple):
                controls[what] = value
            else:
                trialled[what] = value
                for asked in value[0]:
                    if isinstance(asked, Control):
                        start(asked)
            for replicate, (summaries, tickets) in list(trialled.items()):
                if all(not isinstance(s, Control) or s.key in controls for s in summaries):
                    del trialled[replicate]
                    summaries = [controls[s.key] if isinstance(s, Control) else s for s in summaries]
                    for summary in summaries:
                        record(summary)
                    results[replicate] = (summaries, tickets)
    except BaseException as error:
        for ref in waiting:
            ray.cancel(ref, force=True, recursive=True)
        end_dangling(store.parent_run_id, "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")
        raise
    finally:
        if requests is not None:
            requests.shutdown(force=True)
    if failures:
        end_dangling(store.parent_run_id, "FAILED")
        raise RuntimeError(f"{len(failures)} network task(s) failed after {MAX_RETRIES} retries: "
                           f"{_first_line(failures[0])}")
    return [results[replicate] for replicate in sorted(results)]


class RayExecutor(Executor):
    """Trials, their controls and a sweep's points as Ray tasks, on the Ray `engine` names."""

    resumes = False  # continuing an unfinished run on Ray is not supported yet

    def __init__(self, engine: EngineHparams):
        self.engine = engine

    def session(self) -> ContextManager[None]:
        return ray_session(self.engine)

    def run_trials(self, runs: ChildRuns, trials: Iterable[Trial], experiment_id: str) -> List[MasksByRound]:
        """`run_trials` below; once every trial is in, their summaries join `runs.summaries` in replicate order."""
        store = Store(mlflow.get_tracking_uri(), experiment_id, runs.parent_run_id)
        tickets = []
        for summaries, masks in run_trials(runs.cfg, runs.splits, trials, store, runs.parent_metrics.record):
            runs.summaries.extend(summaries)
            tickets.append(masks)
        return tickets

    def run_experiments(self, run_one: RunOne, configs: Sequence[ExperimentConfig], labels: Sequence[str],
                        parent_run_id: str, echo: Echo) -> List[str]:
        """Every config's experiment as one task; its networks train one after another inside its worker."""
        import ray

        remote = task(run_one, network_resources(self.engine.gpu_share))
        tracking_uri = mlflow.get_tracking_uri()  # resolved here: a worker's working directory may differ
        refs = [remote.remote(dataclasses.replace(cfg, tracking_uri=tracking_uri), parent_run_id) for cfg in configs]
        for number, label in enumerate(labels, 1):
            echo(f"point {number}/{len(configs)} submitted: {label}")
        return ray.get(refs)


def _first_line(error: BaseException) -> str:
    cause = getattr(error, "cause", None) or error
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[-1] if text else ''}"
