"""Click options generated from the config's dataclass fields: a setting is named and documented once."""

from __future__ import annotations

import dataclasses

import click

import pipelines  # noqa: F401  (the entry layer: registers the controls, so their settings become flags)
from lth_tf import settings as config_module
from lth_tf.settings.groups import group_class

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


SECTIONS = {"pruning": "What to prune", "supermask": "Supermasks", "controls": "Controls",
            "model": "Model and data", "dataset": "Model and data", "training": "Training",
            "durability": "Resuming", "robustness": "Robustness", "engine": "Speed"}
"""The help section of each settings group: what a user decides, decisions first (`SectionedCommand`)."""
TOP_LEVEL = {"preset": "Start from", "seed": "Trials and tracking", "replicates": "Trials and tracking"}
"""Settings of the config itself; the others (tracking URI, experiment name, ...) are "Trials and tracking"."""
ORDER = ("Start from", "What to prune", "Supermasks", "Controls", "Model and data", "Training", "Trials and tracking", "Resuming",
         "Robustness", "Speed", "Other options")


class SectionedCommand(click.Command):
    """`--help` in one section per decision (`SECTIONS`) instead of one flat list of ~60 options."""

    def format_options(self, ctx, formatter):
        sections = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record:
                section = getattr(param, "section", "Start from" if param.name == "config_file" else "Other options")
                sections.setdefault(section, []).append(record)
        for title in sorted(sections, key=ORDER.index):
            with formatter.section(title):
                formatter.write_dl(sections[title])


def with_settings(command=None, *, skip_groups=()):
    """Adds one option per config setting (in the dataclasses' order), but those of `skip_groups`;
    `--help` then shows them by section."""
    if command is None:
        return lambda c: with_settings(c, skip_groups=skip_groups)
    sections = {f.name: SECTIONS[group] for group in SECTIONS if group not in skip_groups
                for f in dataclasses.fields(group_class(group))}
    for name, field in reversed(list(config_module.settings(skip_groups).items())):
        option = option_for(name, field)
        option.section = sections.get(name) or TOP_LEVEL.get(name, "Trials and tracking")
        command.params.insert(0, option)
    command.__class__ = SectionedCommand  # a click.Command made by `@cli.command()`: only its help changes
    return command



STORE_HELP = "MLflow store to read (default: $MLFLOW_TRACKING_URI, else SQLite in ./mlruns)."
