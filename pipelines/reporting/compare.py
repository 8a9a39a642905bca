"""Several experiments in one figure, e.g. two pruning criteria or two learning rates.

Each named experiment (or run) becomes one series of one kind of network and one
summary metric against percent remaining, with a combined CSV and Markdown table. A
series is labelled by its experiment name; when two share an experiment, by the
settings that tell them apart (`criterion=movement`), since that is what the reader is
comparing.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from mlflow.tracking import MlflowClient

from lth_tf.settings import NOT_FAMILY
from lth_tf.errors import UserError
from lth_tf.reports import aggregate, figures, results, tables

@dataclass
class Comparison:
    labels: List[str]
    files: List[Path]
    table: str


def compare(client: MlflowClient, targets: Sequence[str], out: Path, kind: str = "ticket",
            metric: str = "early_stop_test_accuracy", labels: Optional[Dict[str, str]] = None) -> Comparison:
    """Writes `out` (PNG) plus `out` as .csv and .md: one series per target, for one kind and metric."""
    unknown = set(labels or {}) - set(targets)
    if unknown:
        raise UserError(f"--label names {', '.join(sorted(unknown))}, which is not among the compared "
                        f"experiments ({', '.join(targets)})")
    resolved = [(target, results.resolve(client, target)) for target in targets]
    names = [(labels or {}).get(t) or default for (t, _), default in zip(resolved, default_labels(resolved))]
    series: List[Tuple[str, List[aggregate.Level]]] = []
    for (target, parents), name in zip(resolved, names):
        found = results.load(client, parents)
        rows = [r for r in found.rows if r.kind == kind]
        if not rows:
            kinds = sorted({r.kind for r in found.rows}, key=results.kind_sort_key)
            raise UserError(f"'{target}' has no finished runs of kind '{kind}'"
                            + (f" (it has: {', '.join(kinds)})" if kinds else ""))
        series.append((name, aggregate.levels(rows)))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    title = f"{figures.METRIC_LABELS.get(metric, metric)}, {figures.style(kind)[1]}: {_context(resolved)}"
    files = [figures.compare(series, metric, title, out)]
    table = tables.compare_markdown(series, metric)
    out.with_suffix(".csv").write_text(tables.compare_csv(series, metric))
    out.with_suffix(".md").write_text(table)
    return Comparison(names, [f for f in files if f] + [out.with_suffix(".csv"), out.with_suffix(".md")], table)


def default_out(targets: Sequence[str], kind: str, metric: str) -> Path:
    """./reports/compare/A-vs-B/KIND-METRIC.png: its own folder per set of targets, so no comparison
    overwrites another's; long or unusual names are shortened and made unique by a digest."""
    parts = [re.sub(r"[^\w.+=-]+", "_", t) for t in targets]
    name = "-vs-".join(parts)
    if len(name) > 80 or parts != list(targets):
        digest = hashlib.sha256("\0".join(targets).encode()).hexdigest()[:12]
        name = f"{'-vs-'.join(p[:8] for p in parts[:3])}{'-etc' if len(parts) > 3 else ''}-{digest}"
    return Path("reports", "compare", name, f"{kind}-{metric}.png")


def default_labels(resolved: Sequence[Tuple[str, List[results.ParentRun]]]) -> List[str]:
    """Experiment names; within a shared experiment, the params that differ (else the run name)."""
    firsts = [parents[0] for _, parents in resolved]
    shared = Counter(p.experiment_name for p in firsts)
    labels = []
    for parent in firsts:
        if shared[parent.experiment_name] == 1:
            labels.append(parent.experiment_name)
            continue
        peers = [p for p in firsts if p.experiment_name == parent.experiment_name]
        keys = sorted({k for p in peers for k in p.params} - NOT_FAMILY)
        differing = [k for k in keys if len({p.params.get(k) for p in peers}) > 1]
        labels.append(", ".join(f"{k}={parent.params.get(k)}" for k in differing) or parent.run_name)
    repeated = Counter(labels)
    return [f"{label} ({target[:8]})" if repeated[label] > 1 else label
            for label, (target, _) in zip(labels, resolved)]


def _context(resolved) -> str:
    """'lenet_300_100 on mnist-5k' when every series shares model and dataset, else ''."""
    pairs = {(p.params.get("model"), p.params.get("dataset")) for _, parents in resolved for p in parents}
    if len(pairs) == 1:
        model, dataset = pairs.pop()
        if model and dataset:
            return f"{model} on {dataset}"
    return "several models/datasets"
