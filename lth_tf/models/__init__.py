"""Architectures by name; importing the package registers every built-in model."""

from lth_tf.models import lenet  # noqa: F401  (registration)
from lth_tf.models.registry import REGISTRY, build, check, register

__all__ = ["REGISTRY", "build", "check", "register"]
