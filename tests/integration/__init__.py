"""Integration tier: server processes, Ray, subprocesses and whole experiments (with tests/unit: `make test`)."""
