"""Tickets that leave lth-tf: the CLI's formats are the exporters (the exports themselves:
tests/integration/test_export.py)."""

from lth_tf import export as exporting


def test_formats_of_the_cli_are_the_exporters():
    from lth_tf.cli import export as command

    assert command.FORMATS == exporting.FORMATS
