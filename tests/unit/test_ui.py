"""`lth-tf ui`: the URL it prints lands on the runs table (the real server: tests/integration/test_ui.py)."""

from lth_tf.tracking import server as mlflow_server


def test_url_lands_on_the_runs_table():
    assert mlflow_server.url("0.0.0.0", 5000) == "http://127.0.0.1:5000/#/experiments?workflowType=machine_learning"
    assert mlflow_server.url("localhost", 80, "3") == "http://localhost:80/#/experiments/3/runs?workflowType=machine_learning"
    assert mlflow_server.url("h", 1, "3", "lth-tf").endswith("?workflowType=machine_learning&compareRunsMode=CHART&viewStateShareKey=lth-tf")
