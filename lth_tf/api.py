"""Bring your own model: `lth_tf.find_tickets(model, train, test, ...)`, the Python twin of `lth-tf run`.

It takes a tf_keras model (Sequential or functional; custom layers opt in to pruning
through tfmot's `PrunableLayer`) or a zero-argument factory, and data as finite tf.data
datasets or `(x, y)` arrays, plus any setting of `lth-tf run` as a keyword argument
under its config name (`rounds=5`, `fc_rate=0.2`, `preset="conv2"`). The experiment is
tracked in MLflow exactly like a CLI run, with the model logged as `python:<its name>`
and the data as `python:<dataset_name>`.
"""

from __future__ import annotations

from typing import Callable, Optional, Union

from lth_tf.config import build_config
from lth_tf.errors import UserError
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
    from lth_tf import data
    from lth_tf.data import python
    from pipelines import lottery

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
    theta0 = model.get_weights() if isinstance(model, keras.Model) else None
    try:
        return lottery.run(cfg, splits=splits, model=model, echo=echo or (lambda _: None))
    finally:  # the model is trained in place; it leaves as it came, so a second call starts from θ0 too
        if theta0 is not None:
            model.set_weights(theta0)


def _checked_model(model):
    """The model, or a factory whose result is checked to be a tf_keras model."""
    if isinstance(model, keras.Model):
        return model
    if hasattr(model, "layers") or not callable(model):  # e.g. a Keras 3 model
        raise UserError(f"expected a tf_keras Model or a function returning one, got "
                        f"{type(model).__module__}.{type(model).__name__}; build it with `import tf_keras as "
                        "keras` (tfmot does not support Keras 3)")

    def build():
        built = model()
        if not isinstance(built, keras.Model):
            raise UserError(f"the model factory returned {type(built).__module__}.{type(built).__name__}, "
                            "not a tf_keras Model")
        return built

    return build


def _name(model) -> str:
    if isinstance(model, keras.Model):
        return model.name
    return getattr(model, "__name__", type(model).__name__)
