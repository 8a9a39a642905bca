"""`lth-tf server`: bad input in one line (the server itself runs in tests/test_fanout.py)."""

import importlib.util

import pytest

from conftest import invoke


@pytest.mark.skipif(importlib.util.find_spec("psycopg2") is not None, reason="the driver is installed")
def test_postgres_store_without_its_driver_says_which_extra(capsys):
    code, _, err = invoke(["server", "--backend-store-uri", "postgresql://lth@127.0.0.1/lth"], capsys)
    assert code == 2
    assert err.strip() == "Error: postgresql needs the psycopg2 driver: pip install 'lth-tf[postgres]'"
