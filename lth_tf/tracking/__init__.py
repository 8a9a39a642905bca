"""MLflow: the store (`store`), hashed artifacts, experiment fingerprints, the tracking server."""
