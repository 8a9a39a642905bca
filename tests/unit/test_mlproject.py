"""The MLproject file: its parameters are lth-tf settings (`mlflow run .`: tests/integration/test_mlproject.py)."""

from pathlib import Path

import yaml

from lth_tf import settings as config


ROOT = Path(__file__).resolve().parents[2]


NUMBERS = ("int", "float")


def entry_point():
    return yaml.safe_load((ROOT / "MLproject").read_text())["entry_points"]["main"]


def test_parameters_are_settings_with_their_defaults_and_types():
    main, settings = entry_point(), config.settings()
    for name, spec in main["parameters"].items():
        field = settings[name]
        default = field.default
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        assert str(spec["default"]) == str(shown) or float(spec["default"]) == shown, name
        assert spec["type"] == ("float" if any(t in str(field.type) for t in NUMBERS) and "Tuple" not in str(field.type)
                                else "string"), name
        assert f"--{name.replace('_', '-')} {{{name}}}" in main["command"], name
