"""Drawing a mask at initialization, before any training: SNIP, GraSP and SynFlow (issue 20).

The public surface. A method is one file that registers a `draw(model, counts, batch,
loss, invert, **settings)` function in `METHODS`; `counts` comes from `target_counts`
(a ticket's total, or its per-layer counts), `batch` from `scoring_batch` for the
methods that read data. The sanity checks of Frankle et al. 2021 are in `sanity`.

The defaults below are what the controls' settings declare (`pipelines.controls`), read
when the CLI builds its flags; the methods themselves (TensorFlow) load on first use of
anything else here.
"""

SCOPES = ("global", "layerwise")
"""`--at-init-scope`: keep a ticket's total over all layers (global) or each layer's count."""
TEMPERATURE = 200.0
"""GraSP: the authors' T (`GraSP(..., T=200)`; Synaptic-Flow's `self.temp = 200`)."""
ITERATIONS = 100
"""SynFlow: the paper's and Synaptic-Flow's number of pruning iterations."""

_PUBLIC = {
    "base": ("METHODS", "Counts", "Method", "inverted", "keep", "one_shot", "resolve_loss", "scoring_batch",
             "target_counts"),
    "grasp": ("grasp", "grasp_scores"),
    "sanity": ("layerwise_shuffle",),
    "snip": ("snip", "snip_scores"),
    "synflow": ("exponential_schedule", "synflow", "synflow_scores"),
}


def __getattr__(name):
    """The methods, imported (and so registered in `METHODS`) on first use."""
    if not any(name in names for names in _PUBLIC.values()):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    for module, names in _PUBLIC.items():
        loaded = importlib.import_module(f"{__name__}.{module}")
        globals().update({n: getattr(loaded, n) for n in names})  # the functions, not their modules' names
    return globals()[name]
