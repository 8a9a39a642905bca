"""The one paged run search: every active run of an experiment that matches a filter, newest first.

MLflow returns a search a page at a time; reports (`lth_tf.reports.results`) and run
bookkeeping (`pipelines.runs.run_index`, `pipelines.runs.resume`) read all pages through here.
Filters are built from `lth_tf.naming` (`naming.tag_filter`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional

if TYPE_CHECKING:  # mlflow loads on first use
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

PAGE = 1000


def search(experiment_id: str, filter_string: str, client: Optional[MlflowClient] = None) -> List[Run]:
    """Every active run of `experiment_id` matching `filter_string` (all pages), newest first."""
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = client or MlflowClient()
    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], filter_string, ViewType.ACTIVE_ONLY, max_results=PAGE,
                                  order_by=["attributes.start_time DESC"], page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs
