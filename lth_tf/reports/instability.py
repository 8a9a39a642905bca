"""Instability figures (Frankle et al. 2020): error along the linear path, and the error barrier against k.

Built on `matplotlib.figure.Figure` without pyplot, as `lth_tf.reports.figures`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence

import numpy as np

from lth_tf.reports.figures import _figure, _save


def path_errors(paths: Mapping[int, Dict[str, Sequence[float]]], title: str, path: Path) -> Optional[Path]:
    """Error along the path for each k: one colour per k, test solid, train dashed.

    `paths`: k -> {"test": errors, "train": errors} (one value per point, α from 0 to 1).
    """
    if not paths:
        return None
    fig, ax = _figure(title)
    for index, (k, errors) in enumerate(sorted(paths.items())):
        for split, style in (("test", "-"), ("train", "--")):
            values = np.asarray(errors.get(split, []), dtype=float)
            if values.size:
                ax.plot(np.linspace(0, 1, values.size), 100 * values, style, color=f"C{index % 10}",
                        label=f"k={k} {split}", linewidth=1.3)
    ax.set_xlabel("Interpolation α (0: copy 1, 1: copy 2)")
    ax.set_ylabel("Error (%)")
    ax.legend(fontsize="small", ncol=2)
    return _save(fig, path)


def barrier_vs_k(barriers: Mapping[str, Mapping[int, Sequence[float]]], threshold: float, title: str,
                 path: Path) -> Optional[Path]:
    """Test error barrier against the rewinding point k, one line per network (mean ± std over pairs).

    `barriers`: network label -> k -> barriers. Symlog x, so k = 0 shows; the threshold dashed.
    """
    if not barriers:
        return None
    fig, ax = _figure(title)
    for index, (label, by_k) in enumerate(barriers.items()):
        ks = sorted(by_k)
        means = [100 * float(np.mean(by_k[k])) for k in ks]
        spread = [100 * float(np.std(by_k[k])) for k in ks] if any(len(by_k[k]) > 1 for k in ks) else None
        ax.errorbar(ks, means, yerr=spread, marker="o", markersize=4, capsize=3, color=f"C{index % 10}", label=label)
    ax.axhline(100 * threshold, color="grey", linestyle="--", linewidth=1, label=f"stable below {threshold:.0%}")
    ax.set_xscale("symlog", linthresh=max(1, min((k for b in barriers.values() for k in b if k > 0), default=1)))
    ax.set_xlabel("Rewinding point k (iterations)")
    ax.set_ylabel("Test error barrier (%)")
    ax.legend(fontsize="small")
    return _save(fig, path)
