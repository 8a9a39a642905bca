"""One trained network's summary: the one row type of runs (the network table, resumes) and reports.

A network (a ticket or a control, of one round and replicate of a trial) is summarized once
when it has trained (`pipelines.runs.summary.summarize`), logged on its run as `summary/…`
metrics with its identifiers as tags, and read back from there (`NetworkSummary.from_run`) by
a resumed experiment and by every report. Rows read from MLflow also say where they live
(`run_id`, `parent_run_id`, `experiment`); a network just trained leaves them empty.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Dict, Optional

from lth_tf import naming


@dataclass
class NetworkSummary:
    """One trained network (a ticket or a control) of one trial."""

    round: int
    kind: str
    replicate: int
    seed: int
    """None for a network read from a run that recorded no seed."""
    remaining_fraction: float
    early_stop_iteration: int
    early_stop_val_loss: float
    early_stop_val_accuracy: float
    early_stop_test_accuracy: float
    final_test_accuracy: float
    final_train_accuracy: float
    robustness: Dict[str, float] = field(default_factory=dict)
    """Test accuracy under attack or noise at the end of training (`--robustness`), by metric name."""
    nonzero_weights: float = math.nan
    """What the ticket saves (`lth_tf.reports.flops`): weights the mask keeps, multiply-adds x 2 of one
    forward pass with the mask and dense. NaN for runs written before they were logged."""
    flops: float = math.nan
    dense_flops: float = math.nan
    run_id: str = ""
    """Where a row read from MLflow lives: the network's run, its experiment's run and the experiment's name."""
    parent_run_id: str = ""
    experiment: str = ""

    def metrics(self) -> Dict[str, float]:
        """The summary as metrics (numbers only); `naming` gives their MLflow names. Unknown costs are left out."""
        plain = {k: float(v) for k, v in asdict(self).items() if k not in NOT_METRICS
                 and not (k in COST and math.isnan(v))}
        return {**plain, **self.robustness}

    def as_tracked(self) -> "NetworkSummary":
        """The summary with the values MLflow keeps (`naming.tracked_value`)."""
        tracked = {k: naming.tracked_value(v) for k, v in self.metrics().items()}
        plain = {f.name: tracked[f.name] for f in fields(self)
                 if f.name in tracked and f.name != "early_stop_iteration"}
        return replace(self, **plain, robustness={k: tracked[k] for k in self.robustness})

    @classmethod
    def from_run(cls, tags: Dict[str, str], metrics: Dict[str, float], **location) -> "NetworkSummary":
        """The summary a finished network's run holds (its tags and metrics): the one place that reads
        summaries back from MLflow, the inverse of `metrics` and of the network run's tags. Runs written
        before a value was logged read NaN for it (and kind `ticket`, round and replicate 0, seed None
        when their tags are missing); `location` sets `run_id`, `parent_run_id`, `experiment`."""
        values = {f.name: naming.read_summary(metrics, f.name) for f in fields(cls) if f.name in SUMMARY_FIELDS}
        if values[naming.REMAINING] is None:
            values[naming.REMAINING] = as_float(tags.get(naming.REMAINING))
        values = {k: math.nan if v is None else v for k, v in values.items()}
        stop = values["early_stop_iteration"]
        values["early_stop_iteration"] = stop if math.isnan(stop) else int(stop)
        return cls(round=as_int(tags.get(naming.ROUND_TAG)) or 0, kind=tags.get(naming.KIND_TAG, "ticket"),
                   replicate=as_int(tags.get(naming.REPLICATE_TAG)) or 0, seed=as_int(tags.get(naming.SEED_TAG)),
                   robustness=naming.read_robustness(metrics), **values, **location)


IDENTIFIERS = ("round", "kind", "replicate", "seed")
"""Fields that say which network a summary is about: the network run's tags, not metrics."""
LOCATION = ("run_id", "parent_run_id", "experiment")
"""Fields that say where a row read from MLflow lives: neither metrics nor the network table's columns."""
COST = ("nonzero_weights", "flops", "dense_flops")
NOT_METRICS = (*IDENTIFIERS, *LOCATION, "robustness")
SUMMARY_FIELDS = tuple(f.name for f in fields(NetworkSummary) if f.name not in NOT_METRICS)
"""The fields a network's run logs as `summary/NAME` metrics."""


def as_int(value) -> Optional[int]:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def as_float(value) -> Optional[float]:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
