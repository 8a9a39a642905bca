"""Masks drawn at initialization as controls beside the tickets, with Frankle et al. 2021's sanity checks.

What the mask-drawing controls (`snip`, `grasp`, `synflow`: one file each) share. At a
control round each draws its mask on θ0 of the trial (the ticket's own initialization,
all-ones masks, inference mode) at the ticket's sparsity (`--at-init-scope`: `global`
keeps the ticket's total and lets the method allocate it across layers, as the three
papers define them; `layerwise` keeps each layer's ticket count), and trains the full
budget from θ0 at iteration 0, like `prune_at_init`. SNIP and GraSP score on one
class-balanced batch of the training split, `--at-init-examples-per-class` of every
class, drawn once per trial seed (the same batch for both methods and every round, so
their masks at different sparsities are nested). The loss is lth-tf's training loss.

Each method also registers its sanity checks (Frankle et al. 2021) as kinds of their own:
`METHOD_shuffle` (each layer's count kept, positions uniformly random), `METHOD_reinit`
(the same mask on weights drawn afresh from the initializers) and `METHOD_invert` (the
lowest-scored weights kept). On the tickets the checks are `random_prune` (shuffle) and
`reinit`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Dict

import numpy as np

from lth_tf.errors import UserError
from lth_tf.pruning import at_init  # its methods load on first use: SCOPES is read here before TensorFlow
from lth_tf.settings.fields import setting
from pipelines.controls.base import RoundContext, Start

if TYPE_CHECKING:
    from lth_tf import masking

CHECKS = ("shuffle", "reinit", "invert")
"""The sanity checks each mask-drawing method registers as `METHOD_CHECK`."""
METHODS = ("snip", "grasp", "synflow")
"""The mask-drawing controls: `lth_tf.pruning.at_init.METHODS` as controls."""
NOT_IN_TRANSFER = "a mask drawn at initialization belongs to the source's θ0 and data, not the transferred ticket"


@dataclass
class Settings:
    at_init_scope: str = setting(
        "global", "snip/grasp/synflow controls: keep the ticket's total over all layers and let the method allocate "
        "it (global, as the papers define them), or each layer's ticket count (layerwise).", choices=at_init.SCOPES)
    at_init_examples_per_class: int = setting(
        10, "snip/grasp controls: training examples of each class in the one batch they score on (GraSP's "
        "samples_per_class).")


def check(cfg) -> None:
    if uses(cfg) and cfg.controls.at_init_examples_per_class < 1:
        raise UserError("--at-init-examples-per-class must be at least 1, got "
                        f"{cfg.controls.at_init_examples_per_class}")


def uses(cfg, method: str = None) -> bool:
    """Whether `--controls` names a mask-drawing control (of `method`, or any), or one of its checks."""
    return any(name.split("_")[0] in ((method,) if method else METHODS) for name in cfg.controls.controls)


def scoring_batch(ctx: RoundContext):
    """The trial's class-balanced scoring batch from the training split (one per seed)."""
    x, y = ctx.splits.train
    rng = np.random.default_rng(np.random.SeedSequence([ctx.seed, zlib.crc32(b"at_init_batch")]))
    return at_init.scoring_batch(x, y, ctx.cfg.controls.at_init_examples_per_class, rng, ctx.splits.num_classes)


def draw(ctx: RoundContext, method: str, invert: bool = False, **settings) -> masking.Masks:
    """`method`'s mask on θ0 at the ticket's sparsity; the model is left as it was.

    Without a configuration (`pipelines.runs.tickets` reading where a finished network
    started, its mask in hand) the mask given is the mask.
    """
    from lth_tf import masking
    from lth_tf.tfkeras import keras
    from lth_tf.training import weights

    if ctx.cfg is None:
        return ctx.masks
    model, drawing = ctx.model, at_init.METHODS.lookup(method)
    saved, saved_masks = weights.take(model), masking.get_masks(model)
    try:
        masking.set_masks(model, {k: np.ones_like(m) for k, m in saved_masks.items()})
        weights.restore(model, ctx.initial)
        batch = scoring_batch(ctx) if drawing.needs_data else None
        # lth-tf's training loss (lth_tf.training.loop); a model resumed without training is not compiled yet
        loss = getattr(model, "loss", None) or keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        counts = at_init.target_counts(ctx.masks, ctx.cfg.controls.at_init_scope)
        return drawing.draw(model, counts, batch, loss, invert, **settings)
    finally:
        weights.restore(model, saved)
        masking.set_masks(model, saved_masks)


def controls(method: str, settings: Callable[[object], dict]) -> Dict[str, Callable[[RoundContext], Start]]:
    """The method's control and its sanity checks by name; `settings(cfg)` gives the method's own keywords."""
    def plain(ctx: RoundContext) -> Start:
        return Start(draw(ctx, method, **settings(ctx.cfg)), ctx.initial, 0)

    def shuffle(ctx: RoundContext) -> Start:
        masks = draw(ctx, method, **settings(ctx.cfg))
        return Start(at_init.layerwise_shuffle(masks, ctx.rng(f"{method}_shuffle")), ctx.initial, 0)

    def reinit(ctx: RoundContext) -> Start:
        from lth_tf.training import weights

        fresh = weights.fresh_initialization(ctx.model, ctx.derived_seed(f"{method}_reinit"))
        return Start(draw(ctx, method, **settings(ctx.cfg)), fresh, 0)

    def invert(ctx: RoundContext) -> Start:
        return Start(draw(ctx, method, invert=True, **settings(ctx.cfg)), ctx.initial, 0)

    return {method: plain, f"{method}_shuffle": shuffle, f"{method}_reinit": reinit, f"{method}_invert": invert}


def add(registry, method: str, module) -> None:
    """Registers the method's control file and its sanity checks (`METHOD_CHECK`): one line per method."""
    registry.add(method, module)
    for name, start in controls(method, module.method_settings).items():
        if name != method:
            registry.register(name, NOT_IN_TRANSFER=NOT_IN_TRANSFER)(start)
