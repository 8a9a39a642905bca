"""`python -m lth_tf` is `lth-tf`."""

from lth_tf.cli import main

main()
