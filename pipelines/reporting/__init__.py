"""Reports and comparisons of finished experiments, composed from `lth_tf.reports`, logged to the parent run."""
