"""`lth-tf`: a thin click shell over the config, the pipelines and MLflow.

`app` holds the command group and the entry point; every other module is one command
(`run`, `supermask`, `transfer`, `sweep`, `instability`, `export`, `ui`, `server`, `report` and `compare`, `presets`),
registered on the group when imported
here. A new command is a new module plus one import line below.
"""

from lth_tf.cli.app import cli, main
from lth_tf.cli import export, instability, presets, report, run, server, supermask, sweep, transfer, ui  # noqa: F401  (registers the commands)

__all__ = ["cli", "main"]
