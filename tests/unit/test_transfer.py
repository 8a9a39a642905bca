"""Ticket transfer: bad ticket specs are one-line errors (transfers themselves: tests/integration/test_transfer.py)."""

import pytest

from lth_tf.errors import UserError
from pipelines.experiments import transfer


@pytest.mark.parametrize("spec, message", [
    ("abc", "32-hex-digit run id"),
    ("0" * 32 + ":x", "the round must be a number or 'all'"),
])
def test_bad_ticket_specs_are_one_line_errors(spec, message):
    with pytest.raises(UserError, match=message):
        transfer.parse_ticket(spec)
