"""The paper's experiments by name: `--preset lenet | conv2 | conv4 | conv6 | vgg19 | resnet18`.

A preset is nothing but a set of ordinary settings (Frankle & Carbin 2019, Figure 2 and
Appendix); `build_config` applies it first, so the precedence is
defaults < preset < YAML file < flags, and any setting overrides the preset's value.
The preset's name is itself a setting (logged to MLflow); the experiment's identity
hash covers the settings it expands to, not the name.

Notes on the table: every net is initialized Gaussian Glorot; the output layer is
pruned at half the fc rate (`output_rate` unset) unless left unpruned; ResNet and VGG
use the paper's learning-rate warmup (without it, no winning tickets at rate 0.1).
VGG-19's drops at epochs 80 and 120 of 160 are iterations 56,000 and 84,000 of 112,000
(45,000 training images at batch 64 make 703 iterations per epoch).
"""

from __future__ import annotations

from typing import Any, Dict

from lth_tf.errors import UserError

_SMALL = dict(batch_size=60, optimizer="adam", momentum=0.0, weight_decay=0.0, lr_drops=(), warmup_iterations=0,
              strategy="layerwise", fc_rate=0.2, output_rate=None, unpruned_layers=(), augment=False)
_DEEP = dict(optimizer="sgd", momentum=0.9, weight_decay=1e-4, lr_drop_factor=0.1, strategy="global",
             global_rate=0.2, output_rate=None, augment=True)

PRESETS: Dict[str, Dict[str, Any]] = {
    "lenet": dict(_SMALL, model="lenet_300_100", dataset="tfds:mnist", iterations=50000, learning_rate=1.2e-3),
    "conv2": dict(_SMALL, model="conv2", dataset="tfds:cifar10", iterations=20000, learning_rate=2e-4,
                  conv_rate=0.1),
    "conv4": dict(_SMALL, model="conv4", dataset="tfds:cifar10", iterations=25000, learning_rate=3e-4,
                  conv_rate=0.1),
    "conv6": dict(_SMALL, model="conv6", dataset="tfds:cifar10", iterations=30000, learning_rate=3e-4,
                  conv_rate=0.15),
    "vgg19": dict(_DEEP, model="vgg19", dataset="tfds:cifar10", iterations=112000, batch_size=64,
                  learning_rate=0.1, warmup_iterations=10000, lr_drops=(56000, 84000), unpruned_layers=("output",)),
    "resnet18": dict(_DEEP, model="resnet20", dataset="tfds:cifar10", iterations=30000, batch_size=128,
                     learning_rate=0.03, warmup_iterations=20000, lr_drops=(20000, 25000),
                     unpruned_layers=("*_shortcut", "output")),
}


_EDGE_POPUP = dict(initializer="signed_constant", score_optimizer="sgd", score_learning_rate=0.1,
                   score_momentum=0.9, score_weight_decay=1e-4, score_cosine_decay=True, scale_initializer=True,
                   keep_fractions=(0.1, 0.3, 0.5, 0.7, 0.9))
SUPERMASK_PRESETS: Dict[str, Dict[str, Any]] = {
    # Ramanujan et al. 2020: 100 epochs at batch 128 (45,000 CIFAR-10 training images: 35,200 iterations);
    # the dense network for reference trains with the lottery paper's Adam.
    **{f"supermask_{name}": dict(PRESETS[name], **_EDGE_POPUP, batch_size=128, iterations=35200,
                                 eval_interval=400) for name in ("conv2", "conv4", "conv6")},
    # Offline: Debian's Fashion-MNIST (55,000 training images), budgets a 2-core CPU runs.
    "supermask_lenet": dict(PRESETS["lenet"], **_EDGE_POPUP, dataset="idx:/usr/share/datasets/fashion-mnist",
                            iterations=3000, eval_interval=300),
    "supermask_conv2_fashion": dict(PRESETS["conv2"], **_EDGE_POPUP, dataset="idx:/usr/share/datasets/fashion-mnist",
                                    iterations=3000, eval_interval=300),
}
"""Edge-popup's settings (`lth-tf supermask --preset NAME`): signed Kaiming constant weights scaled by 1/k,
scores by SGD 0.1 with momentum 0.9, weight decay 1e-4 and a cosine schedule."""
ALL_PRESETS = {**PRESETS, **SUPERMASK_PRESETS}


def with_preset(overrides: Dict[str, Any]) -> Dict[str, Any]:
    """`overrides` with the named preset's settings in front (so the overrides win)."""
    name = next((v for k, v in overrides.items() if k.replace("-", "_") == "preset"), None)
    if name is None:
        return dict(overrides)
    if name not in ALL_PRESETS:
        raise UserError(f"unknown preset '{name}'; choose from {', '.join(ALL_PRESETS)}")
    return {**ALL_PRESETS[name], **overrides}


def _rates(p: Dict[str, Any]) -> str:
    if p["strategy"] == "global":
        return f"global {p['global_rate']:.0%}"
    conv = f"conv {p['conv_rate']:.0%}, " if "conv_rate" in p else ""
    return f"{conv}fc {p['fc_rate']:.0%}, output {p['fc_rate'] / 2:.0%}"


def _number(x: float) -> str:
    """0.1, 0.03, 1.2e-3: as the paper writes rates."""
    if x >= 0.01:
        return f"{x:g}"
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def _schedule(p: Dict[str, Any]) -> str:
    rate = f"{'SGD' if p['optimizer'] == 'sgd' else 'Adam'} {_number(p['learning_rate'])}"
    if p["momentum"]:
        rate += f", momentum {p['momentum']:g}"
    if p["warmup_iterations"]:
        rate += f", warmup {p['warmup_iterations'] // 1000}K"
    if p["lr_drops"]:
        rate += f", x{p['lr_drop_factor']:g} at {', '.join(f'{d // 1000}K' for d in p['lr_drops'])}"
    if p["weight_decay"]:
        rate += f", L2 {_number(p['weight_decay'])}"
    return rate


def markdown_table() -> str:
    """The preset table of docs/guides/run.md, generated from `PRESETS` (a test keeps the page in sync)."""
    rows = ["| preset | model | dataset | iterations / batch | optimizer | pruning per round | left unpruned "
            "| augment |", "|---|---|---|---|---|---|---|---|"]
    for name, p in PRESETS.items():
        rows.append(f"| `{name}` | `{p['model']}` | `{p['dataset']}` | {p['iterations'] // 1000}K / "
                    f"{p['batch_size']} | {_schedule(p)} | {_rates(p)} | "
                    f"{', '.join(f'`{u}`' for u in p['unpruned_layers']) or '-'} | "
                    f"{'flip, pad-and-crop' if p['augment'] else '-'} |")
    return "\n".join(rows)


def supermask_table() -> str:
    """The supermask preset table of docs/guides/supermask.md, generated from `SUPERMASK_PRESETS`."""
    rows = ["| preset | model | dataset | iterations / batch | weights | scores | keep fractions | dense network |",
            "|---|---|---|---|---|---|---|---|"]
    for name, p in SUPERMASK_PRESETS.items():
        rows.append(f"| `{name}` | `{p['model']}` | `{p['dataset']}` | {p['iterations']:,} / {p['batch_size']} | "
                    f"{p['initializer']}{', scaled by 1/k' if p['scale_initializer'] else ''} | "
                    f"{p['score_optimizer'].upper()} {_number(p['score_learning_rate'])}, momentum "
                    f"{p['score_momentum']:g}, decay {_number(p['score_weight_decay'])}"
                    f"{', cosine' if p['score_cosine_decay'] else ''} | "
                    f"{', '.join(f'{k:g}' for k in p['keep_fractions'])} | {_schedule(p)} |")
    return "\n".join(rows)
