"""Every setting of an experiment, declared once: groups, the config, its identity, checks, presets.

The public names are re-exported here (`from lth_tf.settings import build_config`); the
modules: `groups` (the setting groups), `config` (`ExperimentConfig`, identity, parsing),
`validation` (cross-field checks), `presets` (the paper's experiments by name).
"""

from lth_tf.settings.config import (LEGACY_SETTINGS, NOT_FAMILY, NOT_IDENTITY, NOT_PARAMS, ExperimentConfig,  # noqa: F401
                                    Subject, build_config, read_yaml, settings)
