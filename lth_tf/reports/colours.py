"""One colour per kind of network, the same in the report's PNGs and in MLflow's charts.

Matplotlib's default cycle `C0`..`C9` is the tab10 palette; the figures name colours by
cycle index (`lth_tf.reports.figures.KIND_STYLE`), MLflow needs hex: its runs table and
charts colour a run by its tag `mlflow.runColor`, so tagging each network with its kind's
colour colours every point and curve of the shared view by kind (ticket blue, reinit red).
"""

from __future__ import annotations

from lth_tf import naming

TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
         "#17becf")
"""Matplotlib's `C0`..`C9` (the tab10 palette)."""

RUN_COLOR_TAG = naming.RUN_COLOR_TAG


def hex_colour(cycle_colour: str) -> str:
    """`C3` -> `#d62728`; other colours pass through."""
    if cycle_colour.startswith("C") and cycle_colour[1:].isdigit():
        return TAB10[int(cycle_colour[1:]) % len(TAB10)]
    return cycle_colour
