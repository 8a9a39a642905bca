"""What things are called in MLflow: metric keys, run names, params and artifact paths.

One place for every name a user sees in the MLflow UI, and that code reads back
(reports, resume, comparisons). MLflow's chart view groups a metric into the section
named by its key up to the last `/` and sorts sections alphabetically, so the names
are chosen for that order:

- `rounds/KIND/METRIC` on the parent run, step = round (the mean over replicates): the
  experiment's story, ticket against controls, sorted first;
- `summary/METRIC` (and `summary/remaining_fraction/LAYER`) on each network's run, logged
  once: one value per network, the runs table's columns;
- `train/…`, `val/…`, `test/…` on each network's run, step = iteration: learning curves.

Runs written before these names (`test_accuracy`, `early_stop_test_accuracy`,
`ticket.early_stop_test_accuracy`) are still read: `legacy_*` gives their keys.
"""

from __future__ import annotations

import math
import re
from typing import Dict, Optional

SPLITS = ("train", "val", "test")
"""The splits with learning curves, in the order they are told."""

ROUNDS = "rounds"
SUMMARY = "summary"
REMAINING = "remaining_fraction"


def curve(split: str, metric: str) -> str:
    """`val/loss`: a learning-curve metric, step = training iteration."""
    return f"{split}/{metric}"


def curve_from_record(key: str) -> str:
    """The tracked name of an evaluation record's key: `val_loss` -> `val/loss`."""
    split, _, metric = key.partition("_")
    return curve(split, metric) if split in SPLITS and metric else key


def summary(metric: str) -> str:
    """`summary/early_stop_test_accuracy`: one network's summary, logged once."""
    return f"{SUMMARY}/{metric}"


def layer_remaining(layer: str) -> str:
    """`summary/remaining_fraction/fc1`: the fraction of one layer's weights left."""
    return f"{SUMMARY}/{REMAINING}/{layer}"


def per_round(kind: str, metric: str) -> str:
    """`rounds/ticket/early_stop_test_accuracy`: a kind's mean summary on the parent, step = round."""
    return f"{ROUNDS}/{kind}/{metric}"


def legacy_curve(split: str, metric: str) -> str:
    """The key runs written before grouped names used: `test_accuracy`."""
    return f"{split}_{metric}"


def legacy_per_round(kind: str, metric: str) -> str:
    return f"{kind}.{metric}"


def read_summary(metrics: Dict[str, float], metric: str) -> Optional[float]:
    """A network's summary metric from its run's metrics, under today's name or the old bare one."""
    value = metrics.get(summary(metric))
    return metrics.get(metric) if value is None else value


ROBUSTNESS_SUMMARY = re.compile(r"^(fgsm|noise)_[0-9.e+-]+_test_accuracy$")
"""Summaries `--robustness` adds (`lth_tf.training.robustness.metric_name`), one per attack or noise strength."""


def read_robustness(metrics: Dict[str, float]) -> Dict[str, float]:
    """The `--robustness` summaries of a network's run, by bare name (`fgsm_0.1_test_accuracy`)."""
    prefix = summary("")
    return {k[len(prefix):]: v for k, v in metrics.items()
            if k.startswith(prefix) and ROBUSTNESS_SUMMARY.match(k[len(prefix):])}


def tracked_value(value: float) -> float:
    """`value` with 7 significant digits: float32 results lose their noise (0.9340000152587891 -> 0.934)."""
    value = float(value)
    return value if not math.isfinite(value) or value == 0 else float(f"{value:.7g}")


def network_run_name(kind: str, round_: int, seed: int, remaining: float) -> str:
    """`ticket 21.1% r07 s0`: what matters first, so a cut-off name still tells the network."""
    return f"{kind} {remaining:.1%} r{round_:02d} s{seed}"


def network_params(round_: int, replicate: int, seed: int, remaining: float) -> Dict[str, str]:
    """A network's identifiers as params, written so that sorting the text sorts the numbers."""
    return {"round": f"{round_:02d}", "replicate": f"{replicate:02d}", "seed": str(seed),
            REMAINING: f"{remaining:.4f}"}


KIND_TAG = "kind"
"""What a run is: `experiment` (a parent), `sweep`, or a network's kind (`ticket`, `one_shot`, a control's name)."""
EXPERIMENT_KIND = "experiment"
SWEEP_KIND = "sweep"
ROUND_TAG = "round"
REPLICATE_TAG = "replicate"
SEED_TAG = "seed"
"""A network run's identifiers (`NETWORK_TAGS`, with its kind): its `NetworkKey` and the trial's seed."""
NETWORK_TAGS = (KIND_TAG, ROUND_TAG, REPLICATE_TAG)
IDENTITY_TAG = "identity"
"""An experiment run's identity (`ExperimentConfig.identity`): equal identities are one experiment (resume)."""
FAMILY_TAG = "family"
"""An experiment run's family (`ExperimentConfig.family`): equal families are replicates (reports pool them)."""
PARENT_TAG = "mlflow.parentRunId"
"""MLflow's tag of a nested run: its parent's run id."""
NOTE_TAG = "mlflow.note.content"
"""MLflow's description of a run or experiment (`pipelines.runs.descriptions`)."""
RUN_COLOR_TAG = "mlflow.runColor"
"""MLflow's colour of a run in charts (`lth_tf.reports.colours`)."""
MODE_TAG = "mode"
"""A lottery experiment's pruning mode (`iterative`, `one_shot`); runs of the earlier identity scheme have it."""
METHOD_TAG = "method"
"""A supermask experiment's method (`edge_popup`)."""
TRANSFER_TAG = "transfer"
"""`true` on a transfer experiment's run."""
SOURCE_RUN_TAG = "source_run"
SOURCE_ROUND_TAG = "source_round"
"""Where a transferred ticket (or an instability analysis) comes from: a run id, a round."""
KEEP_FRACTION_TAG = "keep_fraction"
"""A supermask's fraction of weights kept, on its network's run."""
NETWORK_ROLE_TAG = "network"
"""`dense` on a supermask experiment's dense network."""
K_TAG = "k"
PAIR_TAG = "pair"
"""An instability pair's rewind iteration k and its index (`pipelines.experiments.instability`)."""
STOPPED_BY_TAG = "stopped_by"
"""What stopped a run's pruning early (`early_bird`)."""
HOST_TAG = "lth_tf.host"
PID_TAG = "lth_tf.pid"
"""The host and process that own a RUNNING experiment run (`pipelines.runs.resume`)."""
RESUMES_TAG = "lth_tf.resumes"
"""How often an experiment run was resumed."""
LEGACY_IDENTITY_TAG = "lth_tf.legacy_identity"
"""The identity an earlier lth-tf tagged a run with, kept when a resume retags it."""


def tag_filter(tag: str, value) -> str:
    """`tags.`kind` = 'experiment'`: a clause of an MLflow run search on a tag."""
    return f"tags.`{tag}` = '{value}'"


def mask_artifact(round_: int) -> str:
    """A network's mask, `{layer: bool array}`, on its run."""
    return f"masks/round_{round_:02d}.npz"


CHECKPOINT_ARTIFACTS = "checkpoint"
"""Where a network's run holds its last checkpoint while it trains (`lth_tf.tracking.hook`)."""
CHECKPOINT_TAG = "lth_tf.checkpoint"
"""The iteration of the last complete copy in the run's `checkpoint/` artifacts (written after its files)."""


def initial_weights_artifact(seed: int) -> str:
    """θ0 of a seed, `{variable: array}`, on the experiment's run."""
    return f"initial_weights/seed_{seed}.npz"


NETWORK_TABLE = "summary/networks"
"""The parent's one-row-per-network table, as `.csv` and `.md` artifacts."""
MEAN_STD_TABLE = "mean_std"
"""The report's mean ± std table per kind and round (`report/mean_std.csv`, `.md`)."""
REPORT = "report"
"""Artifact folder of the parent's report: figures and the mean ± std table."""

RUNS_VIEW_KEY = "lth-tf"
"""The shared view of the runs table each experiment carries (`mlflow.sharedViewState.lth-tf`)."""
SHARED_VIEW_TAG = "mlflow.sharedViewState."


# --- Network runs' other tags (kind, round, replicate and seed are above) ---

WORKER_TAG = "worker"
"""`host:pid` of the Ray worker that trained a network (`--workers`, `--ray-address`)."""
DIVERGED_TAG = "diverged_at"
"""The iteration from which a network's loss was not finite; absent if it never diverged."""
MASK_SHA256_TAG = "mask_sha256"
"""A logged MLflow Model's mask, by the hash of its artifact."""
EXPERIMENT_RUN_TAG = "experiment_run"
"""A logged MLflow Model's experiment (parent) run."""
STATE_ARTIFACTS = "state"
"""Where a network's run keeps the snapshots later rounds need (θk, its trained weights) as `.npz`."""


def state_artifact(name: str) -> str:
    """`state/trained.npz`: a network's kept snapshot `name` on its run."""
    return f"{STATE_ARTIFACTS}/{name}.npz"
