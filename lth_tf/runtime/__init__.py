"""Where and how TensorFlow runs a network: compile choices (XLA), mixed precision, distribution."""
