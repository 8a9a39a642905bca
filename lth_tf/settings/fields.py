"""A setting: a dataclass field documented once (`setting`), and the walk over a config's groups.

Declared with `setting` in `lth_tf.settings.groups` and in a plug-in's own `settings`
dataclass (`lth_tf.registry`): the help becomes the flag's help, the docs' settings
reference and the YAML key's meaning; choices are validated.
"""

from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import Any, Iterator, Optional, Tuple


def setting(default, help: str, choices: Optional[Tuple[str, ...]] = None):
    """A documented field: its help becomes the flag's help; choices are validated."""
    return field(default=default, metadata={"help": help, "choices": choices})


def walk(cfg) -> Iterator[Tuple[str, Any, Any]]:
    """(flat name, value, owning dataclass) for every setting, groups flattened."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            yield from walk(value)
        else:
            yield f.name, value, cfg
