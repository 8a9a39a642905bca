"""Experiments composed from the library (`lth_tf`) and logged to MLflow.

Importing the package registers its plug-ins (the controls, with their settings and checks:
`lth_tf.registry`), so that any configuration built after it knows them.
"""

from pipelines import controls  # noqa: F401
