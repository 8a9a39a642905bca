"""The experiment's shared views: the paper's figures as MLflow's own charts, and a readable runs table.

MLflow 3.17 reads a view from the experiment tag `mlflow.sharedViewState.KEY` when the
address carries `viewStateShareKey=KEY` (what `lth-tf ui` prints, with `compareRunsMode=CHART`).
The tag holds a *saved-view envelope* `{name, createdAt, updatedAt, state}` (`state`: the view
JSON as a string), so the views are also listed by name under the experiment's
**Views > Saved views**. Found in MLflow's UI source (runs-charts.types.ts,
useSharedExperimentViewState.ts, savedViewEnvelope.ts) and checked in headless Chromium
(tests/integration/test_ui_browser.py); docs/ui.md says what each view shows and what MLflow cannot draw.

Two views, because grouping is one setting per page:

- `lth-tf` ("every network"): the runs table grouped by kind (grouping is what makes nested
  runs rows, and charts only see rows), every network a point: test accuracy at early stop
  and early-stop iteration against the remaining fraction (scatter; a network's colour is its
  kind's, tag `mlflow.runColor`); the parent's per-round means with the ticket and each
  control as series of one chart (x reversed: dense on the left); the parent's paired
  difference ticket - control with its interval; learning curves;
- `lth-tf-levels` ("mean per kind and round"): grouped by kind and round, one point per level
  (the mean over seeds) and mean curves with MLflow's min-to-max band.

What MLflow cannot be told by a view: expand nested runs, a per-experiment default view,
keep its assistant panel closed on a first visit.
"""

from __future__ import annotations

import json
import time
from typing import Dict, List, Optional, Sequence

from lth_tf import naming

NETWORKS_KEY = naming.RUNS_VIEW_KEY
LEVELS_KEY = naming.RUNS_VIEW_KEY + "-levels"

ACCURACY = naming.summary("early_stop_test_accuracy")
ITERATION = naming.summary("early_stop_iteration")
REMAINING = naming.summary(naming.REMAINING)
FLOPS = naming.summary("flops")
COLUMNS = (ACCURACY, ITERATION, REMAINING, naming.summary("nonzero_weights"), FLOPS)
WIDTHS = {ACCURACY: 250, ITERATION: 220, REMAINING: 240, naming.summary("nonzero_weights"): 230, FLOPS: 160}
HIDDEN_CURVES = ("val/loss", "train/loss", "train/accuracy", "test/loss")
"""Generated charts the page would otherwise append after the view's sections."""


def _column(key: str) -> str:
    return f"metrics.`{key}`"


def _scatter(uuid: str, section: str, x: str, y: str) -> dict:
    return {"uuid": uuid, "type": "SCATTER", "metricSectionId": section, "deleted": False, "isGenerated": False,
            "runsCountToCompare": 1000, "xaxis": {"key": x, "type": "METRIC"}, "yaxis": {"key": y, "type": "METRIC"}}


def _line(uuid: str, section: str, keys: Sequence[str], x_metric: Optional[str] = None,
          x_range: Optional[Dict[str, float]] = None) -> dict:
    chart = {"uuid": uuid, "type": "LINE", "metricSectionId": section, "deleted": False, "isGenerated": False,
             "runsCountToCompare": 1000, "metricKey": keys[0], "selectedMetricKeys": list(keys),
             "xAxisKey": "metric" if x_metric else "step", "useGlobalXaxisKey": False, "xAxisScaleType": "linear",
             "scaleType": "linear", "lineSmoothness": 0, "useGlobalLineSmoothing": False, "displayPoints": True}
    if x_metric:
        chart["selectedXAxisMetricKey"] = x_metric
    if x_range:
        chart["range"] = x_range
    return chart


def _hidden(key: str) -> dict:
    return {"uuid": f"lth-hide-{key}", "type": "LINE", "metricKey": key, "deleted": True, "isGenerated": True,
            "runsCountToCompare": 1000}


def _table(group_by: List[dict], grouped_values: bool) -> dict:
    columns = [_column(k) for k in COLUMNS] + ["params.`round`", "params.`seed`"]
    return {
        "runsHiddenMode": "SHOW_ALL", "hideEmptyCharts": True, "isAccordionReordered": True,
        "groupBy": {"aggregateFunction": "average", "groupByKeys": group_by},
        "useGroupedValuesInCharts": grouped_values,
        "selectedColumns": columns, "columnOrder": columns,
        "columnWidths": {_column(k): w for k, w in WIDTHS.items()},
        "orderByKey": _column(REMAINING), "orderByAsc": False,
    }


def x_range(smallest_remaining: Optional[float]) -> Optional[Dict[str, float]]:
    """The parent's per-round charts run from dense (left) to the sparsest level: MLflow reverses a line
    chart's x-axis when xMin > xMax. None (MLflow's 0 -> 1) until the sparsest level is known."""
    if not smallest_remaining or smallest_remaining >= 1:
        return None
    return {"xMin": 1.02, "xMax": max(0.0, smallest_remaining - 0.02)}


def networks_view(controls: Sequence[str], smallest_remaining: Optional[float] = None,
                  ticket: str = "ticket") -> dict:
    """"lth-tf: every network": the paper's figures with every network a point, coloured by kind."""
    rounds_x = naming.per_round(ticket, naming.REMAINING)
    span = x_range(smallest_remaining)
    per_round = [_line(f"lth-rounds-{m}", "lth-rounds",
                       [naming.per_round(k, m) for k in (ticket, *controls)], rounds_x, span)
                 for m in ("early_stop_test_accuracy", "early_stop_iteration")]
    differences = [_line(f"lth-difference-{kind}", "lth-rounds",
                         [naming.per_round(kind, f"difference_{end}") for end in ("mean", "low", "high")],
                         rounds_x, span) for kind in controls]
    return {
        **_table([{"mode": "tag", "groupByData": naming.KIND_TAG}], grouped_values=False),
        "compareRunSections": [
            {"uuid": "lth-paper", "name": "Every network: accuracy and early stop against the remaining fraction",
             "display": True, "isReordered": True},
            {"uuid": "lth-rounds", "name": "Per round (experiment run): mean over seeds; ticket - control with "
                                           "its 95% interval", "display": True, "isReordered": True},
            {"uuid": "lth-curves", "name": "Learning curves (one line per network)", "display": True,
             "isReordered": True},
        ],
        "compareRunCharts": [
            _scatter("lth-acc", "lth-paper", REMAINING, ACCURACY),
            _scatter("lth-iter", "lth-paper", REMAINING, ITERATION),
            _scatter("lth-flops", "lth-paper", FLOPS, ACCURACY),
            *per_round, *differences,
            _line("lth-val", "lth-curves", ["val/accuracy"]),
            _line("lth-test", "lth-curves", ["test/accuracy"]),
            *(_hidden(k) for k in HIDDEN_CURVES),
        ],
    }


def levels_view() -> dict:
    """"lth-tf: mean per kind and round": one point per level and mean learning curves with a min-max band."""
    return {
        **_table([{"mode": "tag", "groupByData": naming.KIND_TAG}, {"mode": "param", "groupByData": naming.ROUND_TAG}],
                 grouped_values=True),
        "compareRunSections": [{"uuid": "lth-levels", "name": "Mean over seeds per kind and round "
                                                              "(band: min to max)", "display": True,
                                "isReordered": True}],
        "compareRunCharts": [
            _scatter("lth-acc", "lth-levels", REMAINING, ACCURACY),
            _scatter("lth-iter", "lth-levels", REMAINING, ITERATION),
            _line("lth-val", "lth-levels", ["val/accuracy"]),
            _line("lth-test", "lth-levels", ["test/accuracy"]),
            *(_hidden(k) for k in HIDDEN_CURVES),
        ],
    }


def envelope(name: str, state: dict, now_ms: Optional[int] = None) -> str:
    """The tag value MLflow 3.17 lists as a saved view: `{name, createdAt, updatedAt, state}`."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    return json.dumps({"name": name, "createdAt": now_ms, "updatedAt": now_ms, "state": json.dumps(state)})


def experiment_views(controls: Sequence[str], smallest_remaining: Optional[float] = None,
                     ticket: str = "ticket") -> Dict[str, str]:
    """`{experiment tag: value}` of both views."""
    return {
        naming.SHARED_VIEW_TAG + NETWORKS_KEY: envelope("lth-tf: every network",
                                                        networks_view(controls, smallest_remaining, ticket)),
        naming.SHARED_VIEW_TAG + LEVELS_KEY: envelope("lth-tf: mean per kind and round", levels_view()),
    }
