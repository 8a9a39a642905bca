"""Architectures by name; importing the package registers every built-in model."""

from lth_tf.models import conv, lenet, resnet, vgg  # noqa: F401  (registration)
from lth_tf.models.registry import REGISTRY, build, check, register, weight_count

__all__ = ["REGISTRY", "build", "check", "register", "weight_count"]
