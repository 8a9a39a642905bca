"""Run records: each trained network as a tracked MLflow run, the run index, resuming, descriptions."""
