"""Initializers are plug-ins of the one registry: `--initializer`'s choices are the registry's names,
and each name draws what it did before the registry (Keras's variance scaling, edge-popup's constant)."""

import math

import numpy as np
import pytest

from lth_tf import registry
from lth_tf.models import initializers
from lth_tf.settings import groups
from lth_tf.tfkeras import keras


def test_the_flag_offers_exactly_the_registered_initializers():
    assert registry.of("initializer") is initializers.INITIALIZERS
    assert groups.INITIALIZERS == tuple(initializers.INITIALIZERS)
    assert set(groups.INITIALIZERS) == {"glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "signed_constant"}
    field = groups.ModelHparams.__dataclass_fields__["initializer"]
    assert field.metadata["choices"] == groups.INITIALIZERS


@pytest.mark.parametrize("name, scale, mode, distribution", [
    ("glorot_normal", 1.0, "fan_avg", "truncated_normal"), ("glorot_uniform", 1.0, "fan_avg", "uniform"),
    ("he_normal", 2.0, "fan_in", "truncated_normal"), ("he_uniform", 2.0, "fan_in", "uniform")])
def test_keras_names_are_keras_variance_scaling_with_the_variance_over_the_keep_fraction(name, scale, mode, distribution):
    made = initializers.get(name, keep_fraction=0.25)
    assert isinstance(made, keras.initializers.VarianceScaling)
    assert (made.scale, made.mode, made.distribution) == (scale / 0.25, mode, distribution)


def test_signed_constant_is_plus_or_minus_sqrt_two_over_fan_in_scaled_by_the_keep_fraction():
    weights = np.asarray(initializers.get("signed_constant", keep_fraction=0.5)((200, 30)))
    assert np.allclose(np.abs(weights), math.sqrt(2.0 / 0.5 / 200))
    assert 0.3 < (weights > 0).mean() < 0.7


def test_an_unknown_initializer_is_one_line():
    with pytest.raises(Exception, match="unknown initializer 'zeros'"):
        initializers.get("zeros")
