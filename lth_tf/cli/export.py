"""`lth-tf export`: a ticket out of MLflow as a SavedModel, a Keras file or (sparse) TFLite."""

from __future__ import annotations

from pathlib import Path

import click

from lth_tf.cli.app import cli
from lth_tf.cli.options import STORE_HELP

FORMATS = ("saved_model", "keras", "keras3", "tflite")
"""`lth_tf.export.FORMATS`, repeated so that `--help` does not load TensorFlow."""


@cli.command()
@click.argument("run_id")
@click.option("--round", "round_", type=click.IntRange(min=0), default=None,
              help="With an experiment's run id: the round whose ticket to export  [default: the sparsest].")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True,
              help="saved_model (TF Serving), keras (a tf_keras .keras file), keras3 (a Keras 3 .keras file, "
                   "for `import keras` on TF 2.21) or tflite (sparse, plus a dense copy).")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Folder to write to.")
@click.option("--untrained", is_flag=True, default=False,
              help="Export the network at the weights its training started from, under its mask (θ0, θk with "
                   "--reset-to k, a control's own start) instead of its trained weights.")
@click.option("--tracking-uri", default=None, help=STORE_HELP)
def export(run_id, round_, fmt, out, untrained, tracking_uri):
    """Write a ticket as a plain tf_keras model, masks stripped, pruned weights zero.

    RUN_ID is an experiment's run (then --round picks replicate 0's ticket, transferred
    ticket or supermask) or the nested run of any trained network. The export is read back
    and checked: its predictions on the experiment's test set must match the Keras model's.

    Examples:

    \b
      lth-tf export RUN_ID --format tflite --out ticket   (the sparsest ticket, TFLite sparse and dense)
      lth-tf export RUN_ID --round 7 --format saved_model --out serving   (for TF Serving)
      lth-tf export RUN_ID --round 7 --untrained --format keras3 --out theta0   (θ0 under round 7's mask)
    """
    from lth_tf import tfkeras  # noqa: F401  (work starts: TensorFlow, first through its one import)
    from lth_tf import data, export as exporting
    from lth_tf.tracking import store as tracking
    from pipelines.runs import tickets

    client = tracking.open_store(tracking_uri)
    network = tickets.locate(client, run_id, round_)
    splits = tickets.load_data(network)  # before writing: missing data fails early
    model = tickets.untrained_model(network, splits) if untrained else tickets.trained_model(network, splits)
    test = splits.test if splits is not None else None
    written = exporting.export(model, fmt, Path(out))
    state = f"untrained (at {tickets.start_label(network)})" if untrained else "trained"
    of = f"run {run_id}" + (f" (its network run {network.row.run_id})" if network.row.run_id != run_id else "")
    click.echo(f"Exported {network.label}, {state}, of {of}: {written.path}")
    note = f"; the data: {data.input_note(splits)}" if splits is not None else ""
    click.echo(f"  input: {written.inputs}{note}")
    nonzero, weights = exporting.nonzero_weights(model)
    click.echo(f"  prunable weights: {nonzero:,} of {weights:,} nonzero ({nonzero / weights:.1%})")
    if fmt == "tflite":
        dense, sparse = written.sizes["dense"], written.sizes["sparse"]
        click.echo(f"  TFLite: dense {dense:,} bytes, sparse {sparse:,} bytes ({sparse / dense:.1%} of dense)")
    else:
        click.echo(f"  size: {written.sizes[fmt]:,} bytes")
    if test is None:
        click.echo("  not checked: the experiment's data was given in Python")
        return
    check = exporting.check(model, written, *test)
    click.echo(f"  test accuracy: Keras {check.keras_accuracy:.4f}, exported {check.exported_accuracy:.4f} on "
               f"{check.examples:,} test examples; max logit difference {check.max_difference:.1e}, "
               f"{check.differing_predictions} prediction(s) differ")
    if not check.ok:
        raise click.ClickException(f"the exported model's outputs differ from Keras's by more than "
                                   f"{exporting.TOLERANCE:g}")
