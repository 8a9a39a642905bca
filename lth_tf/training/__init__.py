"""One network's training: the round (`loop`), the method's callbacks, evaluation, optimizers,
weight snapshots, checkpoints inside a round, robustness measures."""
