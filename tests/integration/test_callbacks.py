"""A round's fresh optimizer and its sparse test curve, over two trainings each (several seconds; the
reset to θ0 and the evaluation bookkeeping: tests/unit/test_callbacks.py)."""

from conftest import small_model
from lth_tf import masking
from lth_tf.training import loop as training
from lth_tf.settings import build_config


def test_optimizer_is_fresh_each_round(tiny_splits):
    hparams = build_config({"iterations": 20, "eval_interval": 10, "batch_size": 30}).training
    model = masking.mask_model(small_model())
    training.train_round(model, tiny_splits, hparams, seed=0)
    first = model.optimizer
    assert int(first.iterations.numpy()) == 20
    training.train_round(model, tiny_splits, hparams, seed=0)
    # The state is fresh (20 iterations, not 40); the object is kept with its compiled step (`compiled_step`,
    # whose tests compare the weights bit for bit with a fresh optimizer's).
    assert model.optimizer is first and int(model.optimizer.iterations.numpy()) == 20


def test_no_test_curve_gives_the_same_summaries_with_fewer_test_evaluations(tiny_splits):
    from lth_tf.tfkeras import keras
    from pipelines.runs.summary import summarize

    def round_(test_curve):
        hparams = build_config({"iterations": 120, "eval_interval": 10, "batch_size": 30, "learning_rate": 0.05,
                                "test_curve": test_curve}).training
        keras.utils.set_random_seed(0)
        history = training.train_round(masking.mask_model(small_model()), tiny_splits, hparams, seed=0)
        return history, summarize(0, "ticket", 0, 0, 1.0, history)

    every, every_summary = round_(True)
    sparse, sparse_summary = round_(False)
    assert sparse_summary == every_summary  # early stop, its test accuracy and the final one: bitwise
    for full, thin in zip(every.records, sparse.records):
        assert {k: full[k] for k in thin} == thin  # validation figures bitwise, test where evaluated
    tested = [r["iteration"] for r in sparse.records if "test_accuracy" in r]
    assert tested[0] == 10 and tested[-1] == 120 and sparse.early_stop["iteration"] in tested
    assert len(tested) < len(sparse.records) == 12
