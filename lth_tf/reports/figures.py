"""The paper's figures, drawn with matplotlib into PNG files.

Every figure plots against the percent of weights remaining the way Frankle & Carbin do:
log x axis, 100% on the left, sparser to the right, ticks at the levels actually run.
Points are means over trials; error bars (std) appear once there are replicates. Each
kind of network keeps one colour in every figure, so a ticket is always blue and random
re-initialization always red.

Figures are built on `matplotlib.figure.Figure` without pyplot: no global backend is
switched (safe inside a notebook or a training process), nothing needs a display, and
no figure outlives its function. Each function returns the written path, or None when
it has nothing to draw, so a report skips an empty figure instead of failing.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import List, Mapping, Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedFormatter, FixedLocator, MaxNLocator, NullFormatter

from lth_tf.reports.aggregate import Level, by_kind
from lth_tf.reports.tables import percent
from lth_tf.reports.verdict import LevelVerdict

KIND_STYLE = {
    "ticket": ("C0", "ticket"),
    "one_shot": ("C1", "one-shot ticket"),
    "reinit": ("C3", "random reinit"),
    "random_prune": ("C2", "random pruning"),
    "fine_tune": ("C4", "prune + fine-tune chain"),
    "noise": ("C5", "θ0 + Gaussian noise"),
    "rewind": ("C6", "rewound to θk"),
    "prune_at_init": ("C7", "pruned at init (|θ0|)"),
    "transfer": ("C8", "transferred ticket"),
    "target_ticket": ("C9", "target's own ticket"),
    "supermask": ("C8", "supermask (weights untrained)"),
    "snip": ("navy", "SNIP at init"),
    "grasp": ("darkorange", "GraSP at init"),
    "synflow": ("teal", "SynFlow at init"),
    "gradual": ("black", "tfmot gradual pruning"),
    "ticket_invert": ("magenta", "ticket, smallest survivors kept"),
}
METRIC_LABELS = {
    "early_stop_test_accuracy": "Test accuracy at early stop",
    "early_stop_iteration": "Early-stop iteration",
    "early_stop_val_accuracy": "Validation accuracy at early stop",
    "early_stop_val_loss": "Validation loss at early stop",
    "final_test_accuracy": "Test accuracy at the end of training",
    "final_train_accuracy": "Train accuracy at the end of training",
    "flops": "FLOPs of one forward pass (with the mask)",
    "nonzero_weights": "Nonzero weights",
}
MAX_TICK_LABELS = 10
Curve = Tuple[np.ndarray, np.ndarray, np.ndarray]


def style(kind: str) -> Tuple[str, str]:
    """(colour, legend label) of a kind; unknown kinds get the spare colours."""
    if kind in KIND_STYLE:
        return KIND_STYLE[kind]
    return f"C{7 + sum(map(ord, kind)) % 3}", kind


def metric_vs_remaining(points: Sequence[Level], metric: str, title: str, path: Path,
                        kinds: Optional[Sequence[str]] = None, winning: Sequence[Level] = (),
                        budget_end: Optional[int] = None) -> Optional[Path]:
    """One series per kind (mean ± std) against percent remaining, with the dense net as a line and band.

    Every ticket is called "ticket"; the levels in `winning` (the verdict's, `lth_tf.reports.verdict`)
    get a star labelled "winning ticket". `budget_end`: the last evaluated iteration; an
    early-stop figure draws it, and any figure warns when a level's early stop lies on it.
    """
    series = {k: v for k, v in by_kind(points).items() if (kinds is None or k in kinds) and _has(v, metric)}
    if not series:
        return None
    late = budget_end is not None and any(lv.mean.get("early_stop_iteration", 0) >= budget_end
                                          for levels in series.values() for lv in levels)
    fig, ax = _figure(title + ("\nwarning: early stop at the end of the budget (validation loss still falling)"
                               if late else ""))
    for kind, levels in series.items():
        colour, label = style(kind)
        _errorbar(ax, levels, metric, colour, label)
    _dense_line(ax, points, metric)
    if winning and _has(winning, metric):
        ax.plot([100 * lv.remaining_fraction for lv in winning], [lv.mean[metric] for lv in winning], linestyle="none",
                marker="*", markersize=13, color="gold", markeredgecolor="black", label="winning ticket (verdict)")
    if metric == "early_stop_iteration":
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        if budget_end is not None:
            ax.axhline(budget_end, color="black", linestyle="--", linewidth=1, label="end of the budget")
    _remaining_axis(ax, [lv.remaining_fraction for levels in series.values() for lv in levels])
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.legend(fontsize="small")
    return _save(fig, path)


def paired_differences(levels: Sequence[LevelVerdict], title: str, path: Path) -> Optional[Path]:
    """Ticket - control (and - dense) paired by seed against percent remaining: the mean with its 95%
    t-interval as error bars, one series per control; winning levels starred. The question a
    reviewer asks: is the ticket's lead larger than the noise?"""
    if not levels:
        return None
    fig, ax = _figure(title)
    against = sorted({k for lv in levels for k in lv.verdict.versus_controls}, key=lambda k: style(k)[1]) + ["dense"]
    for kind in against:
        found = [(lv, lv.verdict.versus_dense if kind == "dense" else lv.verdict.versus_controls.get(kind))
                 for lv in levels]
        found = [(lv, d) for lv, d in found if d is not None]
        if not found:
            continue
        x = [100 * lv.remaining_fraction for lv, _ in found]
        y = [100 * d.mean for _, d in found]
        err = np.array([[100 * (d.mean - d.low), 100 * (d.high - d.mean)] if d.has_interval else [0.0, 0.0]
                        for _, d in found]).T
        colour, label = ("grey", "dense network") if kind == "dense" else style(kind)
        ax.errorbar(x, y, yerr=err if err.any() else None, color=colour, marker="o", markersize=4, capsize=3,
                    linewidth=1.5, linestyle=":" if kind == "dense" else "-", label=f"ticket - {label}")
    won = [lv for lv in levels if lv.verdict.winning]
    if won:
        ax.plot([100 * lv.remaining_fraction for lv in won], [0.0] * len(won), linestyle="none", marker="*",
                markersize=13, color="gold", markeredgecolor="black", label="winning ticket (verdict)")
    ax.axhline(0, color="black", linewidth=0.8)
    _remaining_axis(ax, [lv.remaining_fraction for lv in levels])
    n = max(d.n for lv in levels for d in (lv.verdict.versus_dense, *lv.verdict.versus_controls.values()))
    ax.set_ylabel("Test accuracy difference at early stop (points)")
    ax.legend(fontsize="small", title="95% t-interval" if n > 1 else "1 replicate: no interval")
    return _save(fig, path)


def accuracy_vs_flops(points: Sequence[Level], title: str, path: Path,
                      metric: str = "early_stop_test_accuracy") -> Optional[Path]:
    """What a ticket costs against what it scores: accuracy against FLOPs of one forward pass with the
    mask (`lth_tf.reports.flops`), log x axis, one series per kind, the dense network's FLOPs marked."""
    series = {k: [lv for lv in v if lv.mean.get("flops", math.nan) > 0 and not math.isnan(lv.mean[metric])]
              for k, v in by_kind(points).items()}
    series = {k: v for k, v in series.items() if v}
    if not series:
        return None
    fig, ax = _figure(title)
    for kind, levels in series.items():
        colour, label = style(kind)
        ax.errorbar([lv.mean["flops"] for lv in levels], [lv.mean[metric] for lv in levels],
                    yerr=[lv.std[metric] for lv in levels] if any(lv.n > 1 for lv in levels) else None,
                    color=colour, label=label, marker="o", markersize=4, capsize=3, linewidth=1.5)
    _dense_line(ax, points, metric)
    ax.set_xscale("log")
    ax.invert_xaxis()  # dense (most FLOPs) on the left, as the remaining-fraction figures
    ax.set_xlabel("FLOPs of one forward pass with the mask (2 x surviving multiply-adds, log scale)")
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.legend(fontsize="small")
    return _save(fig, path)


def train_vs_test(points: Sequence[Level], title: str, path: Path) -> Optional[Path]:
    """Final train (dashed) and test (solid) accuracy: the generalization gap, tickets vs reinit."""
    series = {k: v for k, v in by_kind(points).items()
              if k in ("ticket", "reinit") and _has(v, "final_train_accuracy") and _has(v, "final_test_accuracy")}
    if "ticket" not in series:
        return None
    fig, ax = _figure(title)
    for kind, levels in series.items():
        colour, label = style(kind)
        _errorbar(ax, levels, "final_train_accuracy", colour, f"{label}: train", linestyle="--", marker="^")
        _errorbar(ax, levels, "final_test_accuracy", colour, f"{label}: test")
    _remaining_axis(ax, [lv.remaining_fraction for levels in series.values() for lv in levels])
    ax.set_ylabel("Accuracy at the end of training")
    ax.legend(fontsize="small")
    return _save(fig, path)


def one_shot_vs_iterative(points: Sequence[Level], title: str, path: Path) -> Optional[Path]:
    """Accuracy at early stop and early-stop iteration, iterative tickets next to one-shot ones."""
    series = {k: v for k, v in by_kind(points).items() if k in ("ticket", "one_shot")}
    if "one_shot" not in series:
        return None
    fig = Figure(figsize=(11, 4.5), dpi=110, layout="constrained")
    fig.suptitle(title)
    axes = fig.subplots(1, 2)
    for ax, metric in zip(axes, ("early_stop_test_accuracy", "early_stop_iteration")):
        for kind, levels in series.items():
            colour, label = style(kind)
            _errorbar(ax, levels, metric, colour, "iterative ticket" if kind == "ticket" else label)
        _dense_line(ax, points, metric)
        _remaining_axis(ax, [lv.remaining_fraction for levels in series.values() for lv in levels])
        ax.set_ylabel(METRIC_LABELS[metric])
        ax.legend(fontsize="small")
    return _save(fig, path)


def accuracy_over_iterations(curves: Mapping[Tuple[str, int], Curve], remaining: Mapping[int, float],
                             title: str, path: Path, metric: str = "test_accuracy") -> Optional[Path]:
    """Learning curves of chosen rounds: tickets solid, random reinit dashed in the same colour."""
    rounds = sorted({r for (kind, r), c in curves.items() if kind in ("ticket", "reinit") and len(c[0])})
    if not rounds:
        return None
    fig, ax = _figure(title)
    dashed = False
    for index, round_ in enumerate(rounds):
        colour = f"C{index % 10}"
        for kind, linestyle in (("ticket", "-"), ("reinit", "--")):
            steps, mean, std = curves.get((kind, round_), (np.array([]),) * 3)
            if not len(steps):
                continue
            dashed |= kind == "reinit"
            label = f"{percent(remaining.get(round_, float('nan')))}% (round {round_})" if kind == "ticket" else None
            ax.plot(steps, mean, linestyle=linestyle, color=colour, label=label)
            if np.any(std > 0):
                ax.fill_between(steps, mean - std, mean + std, color=colour, alpha=0.15, linewidth=0)
    handles, labels = ax.get_legend_handles_labels()
    if dashed:
        handles.append(Line2D([], [], color="grey", linestyle="--"))
        labels.append("random reinit (dashed)")
    ax.legend(handles, labels, fontsize="small", title="weights remaining")
    ax.set_xlabel("Training iteration")
    ax.set_ylabel(metric.replace("_", " ").capitalize())
    return _save(fig, path)


def compare(series: Sequence[Tuple[str, List[Level]]], metric: str, title: str, path: Path) -> Optional[Path]:
    """Several experiments in one figure: one series each, same kind and metric."""
    series = [(label, sorted(levels, key=lambda lv: -lv.remaining_fraction))
              for label, levels in series if _has(levels, metric)]
    if not series:
        return None
    fig, ax = _figure(title)
    for index, (label, levels) in enumerate(series):
        _errorbar(ax, levels, metric, f"C{index % 10}", label)
    _remaining_axis(ax, [lv.remaining_fraction for _, levels in series for lv in levels])
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.legend(fontsize="small")
    return _save(fig, path)


def _figure(title: str):
    fig = Figure(figsize=(7.5, 4.8), dpi=110, layout="constrained")
    ax = fig.subplots()
    ax.set_title(title, fontsize="medium")
    ax.grid(True, alpha=0.3)
    return fig, ax


def _has(levels: Sequence[Level], metric: str) -> bool:
    return any(not math.isnan(lv.mean.get(metric, float("nan"))) for lv in levels)


def _errorbar(ax, levels: Sequence[Level], metric: str, colour: str, label: str,
              linestyle: str = "-", marker: str = "o") -> None:
    levels = [lv for lv in levels if not math.isnan(lv.mean.get(metric, float("nan")))]
    x = [100 * lv.remaining_fraction for lv in levels]
    y = [lv.mean[metric] for lv in levels]
    yerr = [lv.std[metric] for lv in levels] if any(lv.n > 1 for lv in levels) else None
    ax.errorbar(x, y, yerr=yerr, color=colour, label=label, linestyle=linestyle, marker=marker,
                markersize=4, capsize=3, linewidth=1.5)


def _dense_line(ax, points: Sequence[Level], metric: str) -> None:
    """The dense network's mean as a line and, with replicates, its mean ± std as a band: the scale
    against which a difference between kinds is read (seeds' dense networks differ too)."""
    dense = [lv for lv in points if lv.kind == "ticket" and lv.round == 0]
    if dense and not math.isnan(dense[0].mean.get(metric, float("nan"))):
        mean, std = dense[0].mean[metric], dense[0].std.get(metric, 0.0)
        ax.axhline(mean, color="grey", linestyle=":", linewidth=1, label="dense network")
        if dense[0].n > 1 and std > 0:
            ax.axhspan(mean - std, mean + std, color="grey", alpha=0.15, linewidth=0, label="dense ± std")


def _remaining_axis(ax, fractions: Sequence[float]) -> None:
    """Log x axis from 100% (left) to the sparsest level, ticked at the levels themselves."""
    values = sorted({round(100 * f, 4) for f in fractions if f > 0 and not math.isnan(f)}, reverse=True)
    if not values:
        return
    ax.set_xscale("log")
    ax.set_xlim(values[0] * 1.15, values[-1] / 1.15)  # reversed limits: sparser to the right
    labelled = _spread(values)
    ax.xaxis.set_major_locator(FixedLocator(labelled))
    ax.xaxis.set_major_formatter(FixedFormatter([percent(v / 100) for v in labelled]))
    ax.xaxis.set_minor_locator(FixedLocator(values))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("Percent of weights remaining")


def _spread(values: Sequence[float]) -> List[float]:
    """At most MAX_TICK_LABELS levels (descending) at least 1/(MAX-1) of the log span apart, so
    labels never collide (two experiments' levels may interleave); the sparsest is always one."""
    gap = (math.log10(values[0]) - math.log10(values[-1])) / (MAX_TICK_LABELS - 1) * 0.999
    labelled = [values[0]]
    for value in values[1:]:
        if math.log10(labelled[-1]) - math.log10(value) >= gap:
            labelled.append(value)
    if labelled[-1] != values[-1]:
        if len(labelled) > 1 and math.log10(labelled[-1]) - math.log10(values[-1]) < gap:
            labelled.pop()
        labelled.append(values[-1])
    return labelled


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
