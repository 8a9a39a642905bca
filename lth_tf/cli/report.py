"""`lth-tf report` and `lth-tf compare`: finished experiments read back from MLflow."""

from __future__ import annotations

import click

from lth_tf.cli.app import cli
from lth_tf.cli.options import STORE_HELP
from lth_tf.reports.results import SUMMARY_METRICS as SUMMARY_METRICS


def _parse_rounds(ctx, param, value):
    """'0,3,7' -> (0, 3, 7); a one-line usage error otherwise."""
    if value is None:
        return None
    try:
        rounds = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"expected round numbers like 0,3,7, got '{value}'") from None
    if not rounds or min(rounds) < 0:
        raise click.BadParameter(f"expected round numbers like 0,3,7, got '{value}'")
    return rounds


@cli.command()
@click.argument("target", metavar="EXPERIMENT_OR_RUN")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for figures and tables  [default: ./reports/EXPERIMENT, or ./reports/EXPERIMENT/RUN_NAME-RUN_ID "
                   "for a run id].")
@click.option("--rounds", callback=_parse_rounds, metavar="0,3,7", default=None,
              help="Rounds whose learning curves to draw  [default: dense plus those nearest 51%, 21% and 7% "
                   "remaining].")
@click.option("--tracking-uri", default=None, help=STORE_HELP)
@click.option("--log/--no-log", "log_to_run", default=False,
              help="Also log the report as artifacts of the parent run (report/; report/pooled/ when an "
                   "experiment pools several runs).  [default: off]")
def report(target, out, rounds, tracking_uri, log_to_run):
    """Figures and tables of an experiment, as in the paper.

    EXPERIMENT_OR_RUN is an MLflow experiment name or id (its finished runs are pooled as
    replicates; they must share their settings apart from the seed), a parent run id, or a
    round's run id. Writes test accuracy at early stop and early-stop iteration vs percent
    of weights remaining (one series per kind: ticket, one-shot, each control), test
    accuracy over iterations for some rounds, train vs test accuracy, one-shot vs
    iterative, and mean_std.csv / mean_std.md (mean ± std per kind and round).

    Examples:

    \b
      lth-tf report RUN_ID   (one experiment's figures and tables into ./reports)
      lth-tf report EXPERIMENT_NAME --rounds 0,3,7 --log   (its runs pooled as replicates; logged to the run too)
      lth-tf report RUN_ID --tracking-uri http://HOST:5000 --out figures
    """
    from pathlib import Path

    from lth_tf import naming
    from lth_tf.tracking import store as tracking
    from lth_tf.reports import results
    from pipelines.reporting.report import default_out_dir, write_report

    client = tracking.open_store(tracking_uri)
    parents = results.resolve(client, target)
    out_dir = Path(out) if out else default_out_dir(target, parents)
    made = write_report(parents, out_dir, rounds, client)
    click.echo(made.table)
    for note in made.results.notes():
        click.echo(f"Note: {note}.")
    click.echo(f"{len(parents)} run(s), {made.results.trials} trial(s); wrote:")
    for path in made.files:
        click.echo(f"  {path}")
    if log_to_run:
        artifact_path = naming.REPORT if len(parents) == 1 else f"{naming.REPORT}/pooled"
        for parent in parents:
            for path in made.files:
                client.log_artifact(parent.run_id, str(path), artifact_path)
        click.echo(f"Logged to {artifact_path}/ of run(s) {', '.join(p.run_id for p in parents)}")


def _parse_labels(ctx, param, values):
    labels = {}
    for value in values:
        target, sep, label = value.partition("=")
        if not sep or not target or not label:
            raise click.BadParameter(f"expected EXPERIMENT=NAME, got '{value}'")
        labels[target] = label
    return labels


@cli.command()
@click.argument("targets", nargs=-1, required=True, metavar="A B [C...]")
@click.option("--kind", default="ticket", show_default=True,
              help="Which networks to compare: ticket, one_shot, reinit, random_prune, fine_tune, noise, rewind, "
                   "prune_at_init, supermask (`lth-tf supermask` runs).")
@click.option("--metric", type=click.Choice(SUMMARY_METRICS), default=SUMMARY_METRICS[0], show_default=True,
              help="Summary metric on the y axis.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="PNG to write; the .csv and .md tables go beside it  [default: "
                   "./reports/compare/A-vs-B/KIND-METRIC.png].")
@click.option("--label", "labels", multiple=True, callback=_parse_labels, metavar="A=NAME",
              help="Legend label for experiment/run A (repeatable)  [default: experiment name, or the settings "
                   "that differ when two share an experiment].")
@click.option("--tracking-uri", default=None, help=STORE_HELP)
def compare(targets, kind, metric, out, labels, tracking_uri):
    """Several experiments or runs (e.g. two pruning criteria) in one figure and table.

    Each of A B [C...] is an experiment name or id, or a run id, as for `lth-tf report`.
    """
    from pathlib import Path

    from lth_tf.tracking import store as tracking
    from pipelines.reporting import compare as comparing

    if len(targets) < 2:
        raise click.UsageError("compare needs at least two experiments or runs")
    client = tracking.open_store(tracking_uri)
    out_file = Path(out) if out else comparing.default_out(targets, kind, metric)
    made = comparing.compare(client, targets, out_file, kind, metric, labels)
    click.echo(made.table)
    click.echo("wrote:")
    for path in made.files:
        click.echo(f"  {path}")
