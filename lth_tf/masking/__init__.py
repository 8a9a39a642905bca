"""Masks on a Keras model: the wrapper layer (`layer`), a model's masks (`masks`), what may be
pruned (`prunable`, tfmot's knowledge) and edge-popup's supermasks (`supermask`).

The public names are re-exported here (`from lth_tf.masking import get_masks`).
"""

from lth_tf import tfkeras  # noqa: F401  (first: TensorFlow starts quietly and tfmot without Keras 3)
# lth-tf's own serializable initializer, registered with Keras wherever masked models are built or read back
# (a model drawn with --initializer signed_constant names it in its saved configuration).
from lth_tf.models.initializers import signed_constant  # noqa: F401
from lth_tf.masking.layer import MaskedLayer  # noqa: F401
from lth_tf.masking.masks import (Masks, MaskedWeight, apply_masks, get_masks, layer_paths, leaf_layers,  # noqa: F401
                                  mask_model, mask_variables, masked_layers, masked_weights, output_layer,
                                  prunable_weights, set_masks, strip_masks)
from lth_tf.masking.prunable import declares_prunable_weights, is_prunable, prunable_attributes  # noqa: F401
from lth_tf.masking.supermask import SupermaskLayer, supermask_model  # noqa: F401
