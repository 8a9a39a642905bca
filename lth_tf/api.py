"""Bring your own model: `lth_tf.find_tickets(model, train, test, ...)`, the Python twin of `lth-tf run`,
and `lth_tf.find_supermasks`, the twin of `lth-tf supermask`.

It takes a tf_keras or Keras 3 model (Sequential or functional; a Keras 3 model is rebuilt
in tf_keras, `lth_tf.models.keras3`; custom tf_keras layers opt in to pruning through
tfmot's `PrunableLayer`) or a zero-argument factory, and data as finite tf.data
datasets or `(x, y)` arrays, plus any setting of `lth-tf run` as a keyword argument
under its config name (`rounds=5`, `fc_rate=0.2`, `preset="conv2"`). The experiment is
tracked in MLflow exactly like a CLI run, with the model logged as `python:<its name>`
and the data as `python:<dataset_name>`.
"""

from __future__ import annotations

import contextlib
import re
from typing import Callable, Optional, Union

import pipelines  # noqa: F401  (the entry layer: registers the controls before any configuration is built)
from lth_tf.errors import UserError
from lth_tf.settings import build_config
from lth_tf.tfkeras import keras

Model = Union[keras.Model, Callable[[], keras.Model], str]


def find_tickets(model: Model, train=None, test=None, validation=None, *, dataset_name: str = "data",
                 echo: Optional[Callable[[str], None]] = print, **settings):
    """Runs a lottery-ticket experiment on your model and data; returns a `LotteryResult`.

    model: a tf_keras Model (its current weights are θ0; its layers are trained in place,
        and get θ0 back at the end, so a second call repeats the experiment), a zero-argument function building
        one (called after seeding with `seed`), or a registry name ("conv4").
    train, test, validation: finite `tf.data.Dataset`s of (x, y) or `(x, y)` arrays, y
        integer class indices; without `validation`, `validation_size` (default 5,000)
        examples are held out of train. With no data at all, the `dataset` setting is loaded.
    settings: any setting by its config name, e.g. `rounds=5, iterations=2000`.

    The result: `.masks` (the first trial's ticket of each round, `{layer: bool array}`),
    `.trials` (every replicate's tickets by (kind, round)), `.rounds` (every trained
    network's summary, tickets and controls: remaining fraction, early-stop iteration and
    accuracies), `.run_id` and `.experiment_id` of the MLflow parent run.
    """
    from pipelines.experiments import lottery

    with _in_argument_names():
        cfg, splits, model = _prepare(model, train, test, validation, dataset_name, settings)
        with _weights_kept(model):
            return lottery.run(cfg, splits=splits, model=model, echo=_said_in_argument_names(echo))


def find_supermasks(model: Model, train=None, test=None, validation=None, *, compare_to: Optional[str] = None,
                    dataset_name: str = "data", echo: Optional[Callable[[str], None]] = print, **settings):
    """Edge-popup on your model and data, the twin of `lth-tf supermask`; returns a `SupermaskResult`.

    Arguments as `find_tickets`. The model's weights (a copy of them, for a built model;
    redrawn first if `initializer` is set) are never trained: for each of `keep_fractions`
    (default 0.1, 0.3, 0.5, 0.7) only scores are, and each layer uses its top k by |score|.
    `compare_to`: the run id of a `find_tickets` / `lth-tf run` experiment of the same
    model and data, whose dense network and tickets the figure shows beside the supermasks;
    without it the dense network is trained too (last; a built model gets its weights back).

    The result: `.masks` (`{k: {layer: bool array}}`), `.rounds` (each network's summary),
    `.weights_seed`, `.run_id`, `.experiment_id`.
    """
    from pipelines.experiments import supermask

    with _in_argument_names():
        cfg, splits, model = _prepare(model, train, test, validation, dataset_name, settings)
        with _weights_kept(model):
            return supermask.run(cfg, splits=splits, model=model, compare_to=compare_to,
                                 echo=_said_in_argument_names(echo))


def _prepare(model, train, test, validation, dataset_name, settings):
    """(config, data splits, model source) from what a user hands to `find_tickets` or `find_supermasks`."""
    from lth_tf import data
    from lth_tf.data import python

    if isinstance(model, str):
        settings.setdefault("model", model)
        model = None
    else:
        settings.setdefault("model", f"python:{_name(model)}")
        model = _checked_model(model)
    given = train is not None or test is not None
    if given:
        settings.setdefault("dataset", f"python:{dataset_name}")
        settings.setdefault("normalization", "unit")
    cfg = build_config(settings)
    if not given:
        splits = data.load(cfg.dataset)
    elif train is None or test is None:
        raise UserError("pass both train and test data (validation is optional)")
    else:
        d = cfg.dataset
        splits = python.splits(d.dataset, train, test, validation, d.validation_size, d.normalization, d.augment)
    return cfg, splits, model


def _argument_names(text: str) -> str:
    """`--control-rounds 3` -> `control_rounds 3`: the shared checks speak in flags, Python callers pass arguments."""
    from lth_tf.settings import settings as known

    names = known()
    return re.sub(r"--([a-z][a-z0-9-]*)",
                  lambda m: m.group(1).replace("-", "_") if m.group(1).replace("-", "_") in names else m.group(0), text)


@contextlib.contextmanager
def _in_argument_names():
    """A one-line error raised with flags in it is raised again naming the keyword arguments instead."""
    try:
        yield
    except UserError as error:
        said = _argument_names(str(error))
        if said == str(error):
            raise
        raise UserError(said) from None


def _said_in_argument_names(echo):
    return (lambda _: None) if echo is None else (lambda line: echo(_argument_names(line)))


@contextlib.contextmanager
def _weights_kept(model):
    """A built model is trained in place; it leaves as it came, so a second call starts from θ0 too."""
    theta0 = model.get_weights() if isinstance(model, keras.Model) else None
    try:
        yield
    finally:
        if theta0 is not None:
            model.set_weights(theta0)


def _checked_model(model):
    """The model, or a factory whose result is checked to be a Keras model.

    A Keras 3 model (TensorFlow 2.21's `import keras`) is rebuilt in tf_keras with its
    weights (`lth_tf.models.keras3`), as tfmot masks tf_keras models only; the user's
    model is left untouched. `lth_tf.to_keras3` gives a ticket back as Keras 3.
    """
    from lth_tf.models import keras3

    if keras3.is_keras3(model):
        return keras3.from_keras3(model)
    if isinstance(model, keras.Model):
        return model
    if hasattr(model, "layers") or not callable(model):
        raise UserError(f"model: expected a Keras Model or a function returning one, got "
                        f"{type(model).__module__}.{type(model).__name__}")

    def build():
        built = model()
        if keras3.is_keras3(built):
            return keras3.from_keras3(built)
        if not isinstance(built, keras.Model):
            raise UserError(f"model: the factory returned {type(built).__module__}.{type(built).__name__}, "
                            "not a Keras Model")
        return built

    return build


def _name(model) -> str:
    if isinstance(model, keras.Model) or hasattr(model, "layers"):  # tf_keras or Keras 3
        return model.name
    return getattr(model, "__name__", type(model).__name__)
