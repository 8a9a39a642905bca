"""Test accuracy under attack and under noise: the seed notes' question, "may an
adversarial attack on a winning ticket be easier than on the whole network?".

`--robustness fgsm:0.1,noise:0.3` measures every trained network (ticket, dense, control)
at the end of its training, on the test set: under the Fast Gradient Sign Method
(Goodfellow et al. 2015: each input moved by EPS in the sign of its loss gradient, one
step, white-box) and under Gaussian input noise of standard deviation SIGMA. Strengths
are in the units the network sees (pixels in [0, 1] for MNIST; standard deviations for
standardized CIFAR); inputs are not clipped back into range. The metrics are logged
beside the other summary metrics as `fgsm_EPS_test_accuracy` and
`noise_SIGMA_test_accuracy`, so the parent run charts them by round for every kind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Sequence, Tuple

from lth_tf.errors import UserError

if TYPE_CHECKING:  # `parse` checks --robustness before TensorFlow loads; the attacks import it
    import tensorflow as tf

    from lth_tf.tfkeras import keras

KINDS = ("fgsm", "noise")


def parse(specs: Sequence[str]) -> List[Tuple[str, float]]:
    """'fgsm:0.1' -> ('fgsm', 0.1); a one-line error for anything else."""
    parsed = []
    for spec in specs:
        kind, _, strength = spec.partition(":")
        try:
            value = float(strength)
        except ValueError:
            value = -1.0
        if kind not in KINDS or value < 0:
            raise UserError(f"--robustness: expected fgsm:EPS or noise:SIGMA (non-negative numbers), got '{spec}'")
        parsed.append((kind, value))
    return parsed


def metric_name(kind: str, strength: float) -> str:
    return f"{kind}_{strength:g}_test_accuracy"


def fgsm_batch(model: keras.Model, x: tf.Tensor, y: tf.Tensor, eps: float) -> tf.Tensor:
    """x moved by `eps` in the sign of the gradient of the loss with respect to x."""
    from lth_tf.tfkeras import keras
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = keras.losses.sparse_categorical_crossentropy(y, model(x, training=False), from_logits=True)
    return x + eps * tf.sign(tape.gradient(loss, x))


BATCH = 1000


def accuracy_under(model: keras.Model, arrays, kind: str, strength: float, seed: int) -> float:
    """Accuracy on `arrays` (images, labels) after each batch is attacked (fgsm) or perturbed (noise)."""
    from lth_tf.tfkeras import keras  # noqa: F401  (first: TensorFlow's quiet start)
    import tensorflow as tf

    generator = tf.random.Generator.from_seed(seed)
    correct = total = 0
    for x, y in tf.data.Dataset.from_tensor_slices(tuple(arrays)).batch(BATCH):
        x = tf.convert_to_tensor(x, tf.float32)
        if kind == "fgsm":
            x = fgsm_batch(model, x, y, strength)
        else:
            x = x + strength * generator.normal(tf.shape(x))
        predicted = tf.argmax(model(x, training=False), axis=-1)
        correct += int(tf.reduce_sum(tf.cast(predicted == tf.cast(y, predicted.dtype), tf.int64)))
        total += int(tf.shape(y)[0])
    return correct / total


def evaluate(model: keras.Model, arrays, specs: Sequence[str], seed: int) -> Dict[str, float]:
    """{metric name: accuracy on `arrays` (the test split)} for every `--robustness` spec."""
    return {metric_name(kind, strength): accuracy_under(model, arrays, kind, strength, seed)
            for kind, strength in parse(specs)}


def clean_accuracy(model: keras.Model, arrays) -> float:
    """Accuracy without perturbation, computed the same way (for comparisons in tests and benchmarks)."""
    return accuracy_under(model, arrays, "noise", 0.0, 0)
