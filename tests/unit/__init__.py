"""Unit tier: no MLflow server, no Ray, no subprocess, no training beyond a few tiny steps (`make test-fast`)."""
