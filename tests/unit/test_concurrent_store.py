"""Many runs, one store: an experiment tag that two runs insert at once is set by the loser too
(the processes started at once: tests/integration/test_concurrent_store.py)."""

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from lth_tf.tracking import store as tracking


def test_an_experiment_tag_two_runs_insert_at_once_is_set_by_the_loser_too(store, monkeypatch):
    experiment_id = tracking.open_experiment(None, "tags")
    real, calls = MlflowClient.set_experiment_tag, []

    def first_insert_collides(self, experiment_id, key, value):
        calls.append(value)
        if len(calls) == 1:  # what the SQL store raises when another process inserted the key first
            raise mlflow.exceptions.MlflowException(
                "(sqlite3.IntegrityError) UNIQUE constraint failed: experiment_tags.key, experiment_tags.experiment_id")
        return real(self, experiment_id, key, value)

    monkeypatch.setattr(MlflowClient, "set_experiment_tag", first_insert_collides)
    tracking.set_experiment_tag(experiment_id, "note", "mine")
    assert calls == ["mine", "mine"] and mlflow.get_experiment(experiment_id).tags["note"] == "mine"
    monkeypatch.setattr(MlflowClient, "set_experiment_tag", lambda *a: (_ for _ in ()).throw(ValueError("other")))
    with pytest.raises(ValueError):  # anything else is not retried
        tracking.set_experiment_tag(experiment_id, "note", "again")
