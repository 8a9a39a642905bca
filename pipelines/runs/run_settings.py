"""A finished run's settings, read back from its MLflow params.

MLflow holds every setting as `str(value)` (`ExperimentConfig.params`): `None`, `0.0`,
`True`, `('fc1', 'fc2')`, `lenet_300_100`. A transfer takes its network from the source's
params, and `lth-tf export` rebuilds a network from them.
"""

from __future__ import annotations

import ast
from typing import Any, Dict, Iterable, Optional

from lth_tf import settings as config_module
from lth_tf.settings import ExperimentConfig


def value(logged: str) -> Any:
    """A param back as the value it was logged from: a Python literal, else the string itself."""
    try:
        return ast.literal_eval(logged)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return logged


def settings(params: Dict[str, str], names: Optional[Iterable[str]] = None) -> Dict[str, Any]:
    """The settings among `params` (those of `names`, default every known setting), as values.

    A text setting stays the text it was (an experiment named `2024` is not a number).
    """
    known = config_module.settings()
    wanted = known if names is None else [n for n in names if n in known]
    return {name: _setting(params[name], str(known[name].type)) for name in wanted if name in params}


def _setting(logged: str, kind: str) -> Any:
    if logged == "None" and "Optional" in kind:
        return None
    if "str" in kind and "Tuple" not in kind:
        return logged
    return value(logged)


def config(params: Dict[str, str], **changes: Any) -> ExperimentConfig:
    """The run's configuration (`changes` override a logged setting); a one-line `UserError` if it no longer builds."""
    return config_module.build_config({**settings(params), **changes})
