"""Click options generated from the config's dataclass fields: a setting is named and documented once."""

from __future__ import annotations

import click

import pipelines  # noqa: F401  (the entry layer: registers the controls, so their settings become flags)
from lth_tf import settings as config_module

_TYPES = {"int": click.INT, "float": click.FLOAT}


def option_for(name: str, field) -> click.Option:
    meta, kind = field.metadata, str(field.type)
    shown = field.default if field.default not in (None, ()) else None
    if isinstance(shown, tuple):
        shown = ",".join(map(str, shown))
    help_text = meta["help"] + (f"  [default: {shown}]" if shown is not None and "bool" not in kind else "")
    flag = "--" + name.replace("_", "-")
    if "bool" in kind:
        return click.Option([f"{flag}/--no-{flag[2:]}", name], default=None,
                            help=help_text + f"  [default: {_on_off(field.default)}]")
    if meta.get("choices"):
        kind_type = click.Choice(meta["choices"])
    elif "Tuple" in kind:  # a comma-separated list, parsed by the config
        kind_type = click.STRING
    else:
        kind_type = next((t for key, t in _TYPES.items() if key in kind.replace("Optional", "")), click.STRING)
    metavar = ("N,N,..." if "Tuple[int" in kind else "K,K,..." if "Tuple[float" in kind else "NAMES") \
        if "Tuple" in kind else None
    return click.Option([flag, name], type=kind_type, default=None, help=help_text, metavar=metavar)


def _on_off(default) -> str:
    return "auto" if default is None else "on" if default else "off"


def with_settings(command=None, *, skip_groups=()):
    """Adds one option per config setting (in the dataclasses' order), but those of `skip_groups`."""
    if command is None:
        return lambda c: with_settings(c, skip_groups=skip_groups)
    for name, field in reversed(list(config_module.settings(skip_groups).items())):
        command.params.insert(0, option_for(name, field))
    return command



STORE_HELP = "MLflow store to read (default: $MLFLOW_TRACKING_URI, else SQLite in ./mlruns)."
