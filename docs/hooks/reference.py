"""mkdocs hook: the settings, command and plug-in reference, generated from the code at every build.

Nothing in these pages is written by hand, so they cannot drift from the code:

- `reference/settings.md`: every setting, read from its declaration (the `setting(...)` fields of
  the config's groups: name, default, help, choices), with the flag and the commands that take it
  read from the `lth-tf` click commands themselves, and whether it is part of an experiment's
  identity; then every registered plug-in name (models, datasets, criteria, controls,
  initializers: every `Registry` in the loaded code), each with the first line of its docstring.
- `reference/cli.md`: every `lth-tf` command with its usage, its help and its own options.

It also checks README.md's relative links (README is not a page of the site, so mkdocs would not):
a missing target is a warning, and `mkdocs build --strict` turns every warning into a failure.

Where things live is said once, in the block below: when modules move, update it there.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import logging
import re
import sys
from pathlib import Path

import click
from mkdocs.structure.files import File

# ---------------------------------------------------------------- where things live (update after a move)
CONFIG = "lth_tf.settings:ExperimentConfig"
"""The experiment's config: a dataclass whose dataclass-typed fields are the setting groups."""
NOT_IDENTITY = "lth_tf.settings:NOT_IDENTITY"
"""The settings left out of an experiment's identity (they do not change results)."""
CLI = "lth_tf.cli:cli"
"""The `lth-tf` click group."""
REGISTRY = "lth_tf.registry:Registry"
"""The one registry mechanism: every instance found in the loaded code is listed, by its `kind`."""
ENTRY = ("lth_tf.tfkeras", "lth_tf.cli", "lth_tf.models", "lth_tf.data", "lth_tf.pruning.criteria", "pipelines.controls")
"""Imported first, so that every registry and plug-in has registered itself."""
KINDS = ("model", "dataset", "criterion", "control", "initializer")
"""Plug-in kinds the reference must list: a kind not found (a registry ENTRY did not load) is a warning."""
EXTRA_PLUGINS = {
}
"""Plug-in names kept outside the one registry mechanism: kind -> a dict (name -> implementation) or a
tuple of names. Delete an entry once that kind uses `lth_tf.registry.Registry`: it is then found."""
# ------------------------------------------------------------------------------------------------------

log = logging.getLogger("mkdocs.hooks.reference")
TOP_GROUP = "experiment"
"""The group of the settings declared on the config itself (seed, replicates, tracking, ...)."""


def _load(path: str):
    module, _, attribute = path.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as error:
        raise RuntimeError(f"docs/hooks/reference.py: cannot load {path} ({error}); update the paths "
                           "at the top of the hook after a move") from error


def _first_line(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    if not doc and callable(obj) and not isinstance(obj, type):  # an undocumented builder: its module's
        doc = inspect.getdoc(sys.modules.get(getattr(obj, "__module__", ""))) or ""
    if isinstance(obj, type) and dataclasses.is_dataclass(obj) and doc.startswith(obj.__name__ + "("):
        return ""  # the docstring dataclasses write themselves
    return " ".join(doc.split("\n\n")[0].split())


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# ---------------------------------------------------------------- the settings, from their declarations
def settings():
    """(group, group class, field) for every setting, in declaration order; groups nest as `a.b`."""
    config = _load(CONFIG)

    def walk(cls, instance, group):
        for f in dataclasses.fields(cls):
            value = getattr(instance, f.name)
            if dataclasses.is_dataclass(value):
                yield from walk(type(value), value, f.name if group == TOP_GROUP else f"{group}.{f.name}")
            else:
                yield group, cls, f

    return list(walk(config, config(), TOP_GROUP))


def _default(f: dataclasses.Field):
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def _shown(value, is_flag: bool) -> str:
    if is_flag:
        return "auto" if value is None else "on" if value else "off"
    if value is None:
        return "unset"
    if isinstance(value, tuple):
        return ",".join(map(str, value)) if value else "'' (none)"
    return str(value)


def _is_setting(param, fields) -> bool:
    """A flag generated from a setting: same name and its help (a command's own `--rounds` or
    `--workers` may share a setting's name and mean something else)."""
    f = fields.get(param.name)
    return f is not None and isinstance(param, click.Option) and (param.help or "").startswith(f.metadata["help"])


def _options(cli, fields):
    """{setting name: (flag text, [commands taking it], click option)} from the commands themselves."""
    found = {}
    for name, command in sorted(cli.commands.items()):
        for param in command.params:
            if _is_setting(param, fields):
                flags = " / ".join(f"`{o}`" for o in (*param.opts, *param.secondary_opts))
                entry = found.setdefault(param.name, (flags, [], param))
                entry[1].append(name)
    return found


def settings_page() -> str:
    cli, not_identity = _load(CLI), _load(NOT_IDENTITY)
    rows = settings()
    options = _options(cli, {f.name: f for _, _, f in rows})
    lines = [
        "# Settings reference",
        "",
        "Generated from the settings' declarations when the site is built (`docs/hooks/reference.py`),",
        "so it cannot drift from the code. Every setting is a flag (`--fc-rate`), a key of a YAML file",
        "(`fc_rate`, `--config exp.yaml`), a keyword of `find_tickets` and an MLflow param, all under one",
        "name; see [Running experiments](../guides/run.md) for how they combine",
        "(defaults < preset < YAML < flags).",
        "",
        f"{len(rows)} settings in {len({g for g, _, _ in rows})} groups. *Identity*: whether the setting is",
        "part of an experiment's identity (a different value is a different experiment; see",
        "[Resuming](../resume-and-store.md#resuming-after-a-crash-or-a-kill)).",
        "",
    ]
    group = None
    for g, cls, f in rows:
        if g != group:
            group = g
            about = _first_line(cls) if g != TOP_GROUP else "Settings of the experiment as a whole: seed, " \
                "replicates, where it is tracked, what is logged."
            lines += ["", f"## {g}", "", *( [about, ""] if about else []),
                      "| setting | flag | default | identity | commands | help |", "|---|---|---|---|---|---|"]
        flag, commands, option = options.get(f.name, ("", [], None))
        is_flag = bool(option is not None and option.secondary_opts)
        choices = f.metadata.get("choices")
        help_text = f.metadata.get("help", "") + (f" Choices: {', '.join(choices)}." if choices else "")
        lines.append(
            f"| <span id=\"{f.name}\"></span>`{f.name}` | {flag or '(YAML and API only)'} | "
            f"`{_cell(_shown(_default(f), is_flag))}` | {'no' if f.name in not_identity else 'yes'} | "
            f"{', '.join(commands) or '-'} | {_cell(help_text)} |")
    lines += ["", plugins_section()]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the plug-ins, from their registries
def _entries(registry):
    """(name, description) for a registry (name -> implementation) or a tuple of names."""
    if isinstance(registry, dict):
        for name, impl in sorted(registry.items()):
            loader = getattr(impl, "loader", impl)  # a dataset's entry holds its loader
            shown = f"{name}:ARG" if getattr(impl, "takes_argument", False) else name
            yield shown, _first_line(loader)
    else:
        for name in registry:
            yield name, ""


def registries():
    """{kind: {name: description}}: every Registry instance in the loaded code, plus EXTRA_PLUGINS."""
    registry_class, found = _load(REGISTRY), {}
    sources = {}
    for module in sorted(list(sys.modules.values()), key=lambda m: getattr(m, "__name__", "")):
        if not getattr(module, "__name__", "").startswith(("lth_tf", "pipelines")):
            continue
        for attribute, value in list(vars(module).items()):
            if isinstance(value, registry_class) and id(value) not in sources:
                sources[id(value)] = (value.kind, f"{module.__name__}:{attribute}", value)
    sources = sorted(sources.values(), key=lambda s: s[:2]) + [(kind, path, _load(path)) for kind, path in EXTRA_PLUGINS.items()]
    for kind, path, registry in sources:
        entries = found.setdefault(kind, ([], {}))
        entries[0].append(path)
        for name, about in _entries(registry):
            entries[1].setdefault(name, about)
    for kind in KINDS:
        if kind not in found:
            log.warning(f"reference: no {kind} registry was loaded; add its module to ENTRY in docs/hooks/reference.py")
    return dict(sorted(found.items()))


def plugins_section() -> str:
    lines = ["## Plug-ins", "",
             "The names each registry holds, as settings take them (`--model`, `--dataset`, `--criterion`,",
             "`--controls`, `--initializer`), each with the first line of its docstring (or its module's).",
             "Read from the registries when the site is built: a plug-in registered in the code is listed",
             "here with no edit.", ""]
    for kind, (paths, entries) in registries().items():
        lines += [f"### {kind}", "", "From " + ", ".join(f"`{p}`" for p in paths) + ".", "",
                  "| name | what |", "|---|---|"]
        lines += [f"| `{name}` | {_cell(about) or '-'} |" for name, about in sorted(entries.items())]
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- the commands, from click
def cli_page() -> str:
    cli = _load(CLI)
    fields = {f.name: f for _, _, f in settings()}
    groups = {f.name: g for g, _, f in settings()}
    lines = ["# Command reference", "",
             "Generated from the `lth-tf` commands when the site is built (`docs/hooks/reference.py`).",
             "Each command's settings (the flags shared with the config) are in the",
             "[settings reference](settings.md); its own options are listed here. `lth-tf COMMAND --help`",
             "prints the same.", "",
             "| command | what it does |", "|---|---|"]
    commands = sorted(cli.commands.items())
    lines += [f"| [`{name}`](#{name}) | {_cell(_short(command))} |" for name, command in commands]
    for name, command in commands:
        ctx = click.Context(command, info_name=f"lth-tf {name}")
        own = [p for p in command.params if not _is_setting(p, fields)]
        taken = {p.name for p in command.params if _is_setting(p, fields)}
        lines += ["", f"## {name}", "", "```", command.get_usage(ctx).strip(), "```", "",
                  inspect.cleandoc(command.help or "").replace("\b\n", ""), ""]
        if taken:
            lines += [f"Settings ({len(taken)}): " + _groups_taken(taken, groups) + ".", ""]
        if own:
            lines += ["| argument or option | default | help |", "|---|---|---|"]
            for p in own:
                if isinstance(p, click.Argument):
                    lines.append(f"| `{p.human_readable_name}` (argument) | | |")
                    continue
                flags = " / ".join(f"`{o}`" for o in (*p.opts, *p.secondary_opts))
                default = p.default
                unset = default in (None, (), False) or callable(default) or type(default).__name__ == "Sentinel"
                lines.append(f"| {flags} | {'' if unset else f'`{default}`'} | {_cell(p.help or '')} |")
            lines.append("")
    return "\n".join(lines) + "\n"


def _short(command) -> str:
    """The help's first paragraph (click's short help stops at the first full stop: 'et al.')."""
    return " ".join(inspect.cleandoc(command.help or "").split("\n\n")[0].split())


def _groups_taken(taken, groups) -> str:
    """Whole groups as one link each; a group the command takes in part, setting by setting."""
    parts = []
    for group in dict.fromkeys(groups.values()):
        members = [name for name, g in groups.items() if g == group]
        took = [name for name in members if name in taken]
        if len(took) == len(members):
            parts.append(f"[{group}](settings.md#{_slug(group)})")
        elif took:
            parts += [f"[`{name}`](settings.md#{name})" for name in took]
    return ", ".join(parts)


def _slug(text: str) -> str:
    return re.sub(r"[^\w\- ]", "", text.lower()).strip().replace(" ", "-")


# ---------------------------------------------------------------- README's links
def check_readme(root: Path) -> None:
    readme = (root / "README.md").read_text()
    for target in re.findall(r"\]\(([^)\s]+)\)", readme):
        if re.match(r"[a-z]+:|#", target):
            continue
        if not (root / target.split("#")[0]).exists():
            log.warning(f"reference: README.md links to {target}, which does not exist")


# ---------------------------------------------------------------- mkdocs events
def on_files(files, config):
    root = Path(config["config_file_path"]).parent
    for module in ENTRY:
        importlib.import_module(module)
    check_readme(root)
    for uri, make in (("reference/settings.md", settings_page), ("reference/cli.md", cli_page)):
        files.append(File.generated(config, uri, content=make()))
    return files
