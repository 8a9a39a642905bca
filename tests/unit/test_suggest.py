"""The close name offered for a mistyped setting key or flag."""

from lth_tf.settings import settings
from lth_tf.settings.suggest import close_names, did_you_mean

KNOWN = sorted(settings())
FLAGS = [f"--{name.replace('_', '-')}" for name in KNOWN]


def test_a_plural_or_typo_gets_the_one_close_setting_not_the_whole_list():
    assert did_you_mean("fc_rates", KNOWN) == " (did you mean 'fc_rate'?)"
    assert close_names("learning_rte", KNOWN) == ["learning_rate"]
    assert close_names("batchsize", KNOWN) == ["batch_size"]
    assert close_names("round", KNOWN) == ["rounds"]


def test_dashes_and_underscores_are_the_same_letter_and_the_known_spelling_is_kept():
    assert close_names("fc-rate", KNOWN) == ["fc_rate"]
    assert close_names("--fc_rate", FLAGS) == ["--fc-rate"]
    assert close_names("--fc-rates", FLAGS) == ["--fc-rate"]


def test_nearly_as_close_names_are_offered_together_and_far_ones_not_at_all():
    assert close_names("score_decay", KNOWN) == ["cosine_decay", "score_cosine_decay", "score_weight_decay"]
    assert did_you_mean("optimiser", KNOWN) == " (did you mean 'optimizer'?)"
    assert did_you_mean("lr", KNOWN) == ""
    assert close_names("zzzz", KNOWN) == []
