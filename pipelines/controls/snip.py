"""SNIP (Lee et al. 2019) as a control: the ticket's sparsity, kept by |g ⊙ θ0| on one batch, trained from θ0.

The library's `lth_tf.pruning.at_init.snip` draws the mask; `pipelines.controls.at_init`
says what every mask-drawing control shares (and declares their shared settings, here).
Registered with its sanity checks `snip_shuffle`, `snip_reinit`, `snip_invert`.
"""

from pipelines.controls import at_init

Settings = at_init.Settings  # --at-init-scope, --at-init-examples-per-class: shared by snip, grasp, synflow
check = at_init.check
NOT_IN_TRANSFER = at_init.NOT_IN_TRANSFER


def method_settings(cfg) -> dict:
    return {}


start = at_init.controls("snip", method_settings)["snip"]
