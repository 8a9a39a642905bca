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
plug-ins through this module without importing where they live. The library never
imports the pipelines, which own the controls: importing `pipelines` registers them, and
the entry layer (`lth_tf.cli`, `lth_tf.api`) does so before it builds a configuration.
"""

from __future__ import annotations

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
        `start` or `chain`, a criterion's `score`); `Settings` and `check`, if it has them, are its declarations."""
        implementation = next(getattr(module, e) for e in self.entries if hasattr(module, e))
        self[name] = implementation
        self.plugins[name] = Plugin(name, implementation, getattr(module, "Settings", None),
                                    getattr(module, "check", None), source=module)

    def lookup(self, name: str):
        """The implementation, or a one-line error listing the known names."""
        if name not in self:
            raise UserError(f"unknown {self.kind} '{name}'; choose from {', '.join(sorted(self))}")
        return self[name]

    def plugin(self, name: str) -> Plugin:
        self.lookup(name)
        return self.plugins.get(name) or Plugin(name, self[name])


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
