"""The `lth-tf` command: one-line errors with exit 2 and no run, `--help`, the UI (a working run:
tests/integration/test_cli.py)."""


import pytest

from conftest import invoke, no_runs_recorded
from lth_tf.tracking import server as mlflow_server, store as tracking


@pytest.mark.parametrize(
    "args",
    [
        ["--fc-rate", "1.5"],
        ["--conv-rate", "0"],
        ["--rounds", "0"],
        ["--model", "alexnet"],
        ["--dataset", "cifar100"],
        ["--dataset", "idx:/no/such/dir"],
        ["--iterations", "lots"],
        ["--eval-interval", "7"],
        ["--optimizer", "rmsprop"],
        ["--controls", "reinit,lucky"],
        ["--mode", "twice"],
        ["--control-rounds", "first"],
        ["--criterion", "vibes"],
        ["--no-such-flag"],
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_run(store, capsys, args):
    code, out, err = invoke(["run", *args], capsys)
    assert code == 2
    assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1, err
    assert out == ""
    assert "Traceback" not in out + err
    assert no_runs_recorded(store)


def test_bad_yaml_config_is_one_line_exit_2(store, capsys):
    (store / "unknown.yaml").write_text("rounds: 2\nlearning_rat: 0.1\n")
    (store / "broken.yaml").write_text("rounds: [2\n")
    for name, message in [("unknown.yaml", "unknown setting 'learning_rat'"), ("broken.yaml", "not valid YAML")]:
        code, _, err = invoke(["run", "--config", name], capsys)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert no_runs_recorded(store)


def test_help_documents_every_setting(capsys):
    code, out, _ = invoke(["run", "--help"], capsys)
    assert code == 0
    from lth_tf.settings import settings

    for name in settings(skip_groups=("supermask",)):
        assert "--" + name.replace("_", "-") in out
    assert "--config" in out and "--keep-fractions" not in out
    code, out, _ = invoke(["supermask", "--help"], capsys)
    assert code == 0 and "--compare-to" in out and "--rounds" not in out
    for name in settings(skip_groups=("pruning", "controls", "engine")):
        assert "--" + name.replace("_", "-") in out


def test_ui_serves_the_default_store(store, capsys, monkeypatch):
    code, _, err = invoke(["ui"], capsys)
    assert code == 2 and "lth-tf run" in err
    (store / "mlruns").mkdir()
    (store / "mlruns" / "mlflow.db").touch()
    calls = []
    monkeypatch.setattr(mlflow_server, "supervise", lambda cmd, open_url: calls.append(cmd))
    code, out, _ = invoke(["ui", "--port", "5123"], capsys)
    assert code == 0 and "http://127.0.0.1:5123/#/experiments?workflowType=machine_learning" in out
    command = calls[0].args
    assert command[1:4] == ["-m", "mlflow", "server"] and command[command.index("--workers") + 1] == "1"
    assert calls[0].env[mlflow_server.STORE_ENV] == tracking.default_tracking_uri()  # not on the command line
    assert "--backend-store-uri" not in command
    assert command[command.index("--default-artifact-root") + 1] == tracking.default_artifact_root()


def test_every_commands_examples_parse_as_written():
    """The examples in `--help` (run, supermask, transfer, export, report) are commands that parse: flags that
    exist, values of the right kind (placeholders such as RUN_ID stand for arguments)."""
    import shlex

    from lth_tf.cli import cli

    shown = {}
    for name, command in cli.commands.items():
        text = command.help or ""
        if "Examples:" not in text:
            continue
        lines = [line.strip() for line in text.split("Examples:")[1].splitlines() if line.strip().startswith("lth-tf ")]
        shown[name] = lines
        for line in lines:
            args = shlex.split(line.split("   (")[0])  # a note in parentheses follows three spaces
            assert args[:2] == ["lth-tf", name], line
            with command.make_context(name, args[2:], resilient_parsing=False) as ctx:
                assert ctx.params is not None, line
    assert {"run", "supermask", "transfer", "export", "report"} <= set(shown), sorted(shown)
    assert all(len(lines) >= 2 for lines in shown.values()), shown
