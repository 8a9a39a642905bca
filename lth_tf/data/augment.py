"""CIFAR augmentation on the fly: random horizontal flip and 4-pixel pad-and-crop.

As in the paper's ResNet and VGG experiments (and He et al.'s CIFAR protocol): each
training image is flipped with probability 1/2 and zero-padded by 4 pixels on every side,
then a random crop of the original size is taken. Every image of a batch draws its own
flip and offsets from stateless random ops keyed by (seed, batch number), so a round's
augmented batches are the same for the same seed, like its data order.
"""

from __future__ import annotations

import tensorflow as tf

PAD = 4
_STREAM = 0x5EED  # separates augmentation draws from the shuffling seeds


def flip_and_crop(images: tf.Tensor, seed, batch_number: tf.Tensor) -> tf.Tensor:
    """`images` [batch, height, width, channels], each randomly flipped and shifted by up to PAD pixels."""
    key = tf.random.experimental.stateless_fold_in(tf.stack([tf.cast(seed, tf.int64), _STREAM]), batch_number)
    flip_key, crop_key = tf.unstack(tf.random.experimental.stateless_split(key, 2))
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    flip = tf.random.stateless_uniform([batch], flip_key) < 0.5
    images = tf.where(flip[:, None, None, None], tf.reverse(images, axis=[2]), images)
    padded = tf.pad(images, [[0, 0], [PAD, PAD], [PAD, PAD], [0, 0]])
    offsets = tf.random.stateless_uniform([batch, 2], crop_key, minval=0, maxval=2 * PAD + 1, dtype=tf.int32)
    rows = offsets[:, :1] + tf.range(height)[None, :]
    cols = offsets[:, 1:] + tf.range(width)[None, :]
    cropped = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(cropped, cols, axis=2, batch_dims=1)
