"""One registry mechanism for every plug-in (open_lth style): models, data, criteria, controls, initializers.

A plug-in is one file registered by name with one decorated line. Besides its implementation
it may declare
  - `settings`: a dataclass of `setting(...)` fields. Their flat names become flags, YAML keys
    and MLflow params in the settings group the registry names (`group`), exactly as the
    fields declared in `lth_tf.settings.groups`: the CLI, YAML parsing, validation and the
    docs' settings reference read them from here;
  - `check(cfg)`: its checks of a whole configuration (a `UserError` for a bad value), run by
    `lth_tf.settings.validation` with everyone else's;
  - anything else its users ask of it (a criterion's training callback, a control's chain),
    as attributes of the plug-in (`Registry.plugin`).

Every registry is listed in `REGISTRIES` by kind, so settings and validation reach all
plug-ins through this module without importing where they live.

Declarations are read before any work starts (the CLI's flags and its checks of bad input,
without TensorFlow, so `lth-tf --help` answers at once), so a plug-in file imports nothing
heavy at its top: its implementation imports TensorFlow and Keras inside its functions. A
plug-in whose file cannot be light (it defines a Keras class at import) and declares no
settings or checks is added by its module's import path instead (`add("name",
"package.module")`): its name is known at once, its module is imported on first use. The library never
imports the pipelines, which own the controls: importing `pipelines` registers them, and
the entry layer (`lth_tf.cli`, `lth_tf.api`) does so before it builds a configuration.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from lth_tf.errors import UserError

@dataclass
class Plugin:
    name: str
    implementation: Any
    settings: Optional[type] = None
    """A dataclass of `setting(...)` fields: the plug-in's own settings, in its registry's group."""
    check: Optional[Callable[[Any], None]] = None
    """`check(cfg)`: raises `UserError` for a value of the configuration the plug-in cannot run with."""
    extras: Dict[str, Any] = field(default_factory=dict)
    """What else the plug-in declares (a criterion's `callback`, a control's `chain`)."""
    source: Any = None
    """The plug-in's module, when it was added as one (`Registry.add`)."""

    def get(self, name: str, default=None):
        """Something else the plug-in declares: an extra, or an attribute of its module."""
        if name in self.extras:
            return self.extras[name]
        return getattr(self.source, name, default)


class Registry(dict):
    """Name -> implementation (a dict, so `lookup` and tests see one table), with each plug-in's declarations."""

    def __init__(self, kind: str, group: Optional[str] = None, entries: Tuple[str, ...] = ()):
        super().__init__()
        self.kind, self.group, self.entries = kind, group, entries
        self.plugins: Dict[str, Plugin] = {}
        REGISTRIES[kind] = self

    def register(self, name: str, *, settings: Optional[type] = None, check: Optional[Callable] = None, **extras):
        """`@register("name", settings=..., check=...)` above the implementation: one line per plug-in."""
        def add(implementation):
            self[name] = implementation
            self.plugins[name] = Plugin(name, implementation, settings, check, extras)
            return implementation

        return add

    def add(self, name: str, module) -> None:
        """Registers a plug-in file: its implementation is the first of `entries` it defines (a control's
        `start` or `chain`, a criterion's `score`); `Settings` and `check`, if it has them, are its declarations.
        `module` is the module, or its import path: then it is imported on the first use of `name`, and must
        declare no `Settings` or `check` (they would be missed until then)."""
        if isinstance(module, str):
            dict.__setitem__(self, name, _Unloaded(module))
            return
        implementation = next(getattr(module, e) for e in self.entries if hasattr(module, e))
        self[name] = implementation
        self.plugins[name] = Plugin(name, implementation, getattr(module, "Settings", None),
                                    getattr(module, "check", None), source=module)

    def __getitem__(self, name: str):
        value = dict.__getitem__(self, name)
        if isinstance(value, _Unloaded):
            module = importlib.import_module(value.module)
            if module.__dict__.get("Settings") is not None or module.__dict__.get("check") is not None:
                raise TypeError(f"{self.kind} '{name}' declares settings or checks: add it as a module, not by path")
            self.add(name, module)
            value = dict.__getitem__(self, name)
        return value

    def get(self, name: str, default=None):
        return self[name] if name in self else default

    def values(self):
        return [self[name] for name in self]

    def items(self):
        return [(name, self[name]) for name in self]

    def lookup(self, name: str):
        """The implementation, or a one-line error listing the known names."""
        if name not in self:
            raise UserError(f"unknown {self.kind} '{name}'; choose from {', '.join(sorted(self))}")
        return self[name]

    def plugin(self, name: str) -> Plugin:
        self.lookup(name)
        return self.plugins.get(name) or Plugin(name, self[name])


@dataclass(frozen=True)
class _Unloaded:
    """A plug-in added by its module's import path, not imported yet (`Registry.add`)."""

    module: str


REGISTRIES: Dict[str, Registry] = {}
"""Every registry by kind (`criterion`, `control`, `model`, `initializer`, `dataset`)."""

def of(kind: str) -> Registry:
    """The registry of `kind`, or a one-line error if nothing registered one."""
    if kind not in REGISTRIES:
        raise UserError(f"no {kind} is registered: import pipelines first (lth_tf.cli and lth_tf.api do)")
    return REGISTRIES[kind]


def plugins() -> List[Plugin]:
    """Every registered plug-in, of every registry."""
    return [plugin for registry in list(REGISTRIES.values()) for plugin in registry.plugins.values()]


def settings_of(group: str) -> List[type]:
    """The settings dataclasses plug-ins declare for `group`, in registration order."""
    return [p.settings for r in list(REGISTRIES.values()) if r.group == group
            for p in r.plugins.values() if p.settings]
