"""`--deterministic` and the identity: every setting that changes the numbers is part of it."""

from tensorflow.python.framework import config as tf_config

from conftest import small_model
from lth_tf import masking
from lth_tf.training import loop as training
from lth_tf.settings import Subject, build_config


def test_settings_that_change_numbers_change_the_identity_and_speed_only_ones_do_not():
    base, ran = build_config({}), Subject("lottery")
    # jit_compile: XLA's fused arithmetic changed trained weights by 0.08 after 1,000 LeNet
    # iterations (benchmarks/determinism.py); steps_per_execution changed nothing, bit for bit.
    assert build_config({"jit_compile": False}).identity(ran) != base.identity(ran)
    assert build_config({"deterministic": True}).identity(ran) != base.identity(ran)
    assert build_config({"steps_per_execution": 10}).identity(ran) == base.identity(ran)
    assert build_config({"tracking_uri": "sqlite:///x.db"}).identity(ran) == base.identity(ran)


def test_deterministic_turns_on_op_determinism_for_training():
    was_on = tf_config.is_op_determinism_enabled()
    try:
        tf_config.disable_op_determinism()
        model = masking.mask_model(small_model())
        training.compile_model(model, build_config({}).training)
        assert not tf_config.is_op_determinism_enabled()
        training.compile_model(model, build_config({"deterministic": True}).training)
        assert tf_config.is_op_determinism_enabled()
    finally:
        (tf_config.enable_op_determinism if was_on else tf_config.disable_op_determinism)()
