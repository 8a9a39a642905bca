"""`lth-tf`: a thin click shell over the config, the pipelines and MLflow.

The `run` flags are generated from the config's dataclass fields, so a setting is named
and documented once. Bad input is reported in one line with exit status 2, before any
MLflow run exists; Ctrl-C ends the runs as KILLED (exit 130).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import click

from lth_tf import config as config_module
from lth_tf.errors import UserError
from lth_tf.reports.results import SUMMARY_METRICS as _SUMMARY_METRICS

_TYPES = {"int": click.INT, "float": click.FLOAT}


def _option_for(name: str, field) -> click.Option:
    meta, kind = field.metadata, str(field.type)
    shown = field.default if field.default not in (None, ()) else None
    help_text = meta["help"] + (f"  [default: {shown}]" if shown is not None and "bool" not in kind else "")
    flag = "--" + name.replace("_", "-")
    if "bool" in kind:
        return click.Option([f"{flag}/--no-{flag[2:]}", name], default=None,
                            help=help_text + f"  [default: {'on' if field.default else 'off'}]")
    if meta.get("choices"):
        kind_type = click.Choice(meta["choices"])
    elif "Tuple" in kind:  # a comma-separated list, parsed by the config
        kind_type = click.STRING
    else:
        kind_type = next((t for key, t in _TYPES.items() if key in kind.replace("Optional", "")), click.STRING)
    metavar = ("N,N,..." if "Tuple[int" in kind else "NAMES") if "Tuple" in kind else None
    return click.Option([flag, name], type=kind_type, default=None, help=help_text, metavar=metavar)


def _with_settings(command):
    """Adds one option per config setting (in the dataclasses' order)."""
    for name, field in reversed(list(config_module.settings().items())):
        command.params.insert(0, _option_for(name, field))
    return command


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="lth-tf")
def cli():
    """Find lottery tickets (Frankle & Carbin, ICLR 2019) in Keras models, tracked in MLflow."""


@_with_settings
@cli.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="YAML file of settings (keys as the flags, e.g. fc_rate: 0.2); flags override it.")
def run(config_file, **flags):
    """Run a lottery-ticket experiment: train dense, prune, reset to θ0, retrain, for every round.

    With no options: LeNet-300-100 on the embedded 5,000 MNIST digits, 15 rounds of 2,000
    iterations (about two minutes on a 2-core CPU). Every round, mask and metric goes to MLflow;
    open it with `lth-tf ui`.
    """
    from lth_tf import data  # heavy imports after argument parsing
    from pipelines import lottery, trial
    from pipelines.summary import to_text

    overrides = config_module.read_yaml(config_file) if config_file else {}
    overrides.update({k: v for k, v in flags.items() if v is not None})
    cfg = config_module.build_config(overrides)
    splits = data.load(cfg.dataset)  # missing data fails here, before anything is printed or tracked
    interactive = sys.stdout.isatty()
    p, c = cfg.pruning, cfg.controls
    click.echo(f"lth-tf: {cfg.model.model} on {cfg.dataset.dataset} ({splits.sizes()['train_size']} training "
               f"examples): dense round + {p.rounds} pruning rounds ({p.mode.replace('_', '-')}), "
               f"{cfg.training.iterations} iterations each"
               + (f"; controls {', '.join(c.controls)}" if c.controls else "")
               + f"; {trial.networks_per_trial(cfg)} networks per trial"
               + (f", {cfg.replicates} trials" if cfg.replicates > 1 else ""))
    result = lottery.run(
        cfg,
        splits=splits,
        echo=lambda line: click.echo(("\r\033[K" if interactive else "") + line),
        status=(lambda line: click.echo("\r\033[K" + line, nl=False)) if interactive else None,
    )
    click.echo("\n" + to_text(result.rounds))
    click.echo(f"MLflow: experiment {result.experiment_id}, run {result.run_id} ({_store_hint(cfg)})")
    click.echo(f"Figures and the mean ± std table are the run's report/ artifacts; "
               f"`lth-tf report {result.run_id}` writes them to ./reports")


def _store_hint(cfg) -> str:
    from lth_tf import tracking

    uri = tracking.resolve_tracking_uri(cfg.tracking_uri)
    return "open it with: lth-tf ui" if uri == tracking.default_tracking_uri() else uri


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--backend-store-uri", default=None,
              help="Store to show (default: $MLFLOW_TRACKING_URI, else SQLite in ./mlruns).")
def ui(host, port, backend_store_uri):
    """Start the MLflow UI on the lth-tf store, to compare rounds and experiments."""
    from lth_tf import tracking

    uri = tracking.resolve_tracking_uri(backend_store_uri)
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port)]
    if uri == tracking.default_tracking_uri():
        if not (tracking.DEFAULT_DIR / "mlflow.db").exists():
            raise UserError("no runs yet in ./mlruns; run `lth-tf run` first (or pass --backend-store-uri)")
        command += ["--default-artifact-root", tracking.default_artifact_root()]
    click.echo(f"MLflow UI on http://{host}:{port} (Ctrl-C to stop)")
    raise SystemExit(subprocess.call(command))


_STORE_HELP = "MLflow store to read (default: $MLFLOW_TRACKING_URI, else SQLite in ./mlruns)."


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
              help="Folder for figures and tables  [default: ./reports/EXPERIMENT, or ./reports/EXPERIMENT/RUN "
                   "for a run id].")
@click.option("--rounds", callback=_parse_rounds, metavar="0,3,7", default=None,
              help="Rounds whose learning curves to draw  [default: dense plus those nearest 51%, 21% and 7% "
                   "remaining].")
@click.option("--tracking-uri", default=None, help=_STORE_HELP)
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
    iterative, and summary.csv / summary.md (mean ± std per kind and round).
    """
    from pathlib import Path

    from lth_tf import tracking
    from lth_tf.reports import results
    from pipelines.report import default_out_dir, write_report

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
        artifact_path = "report" if len(parents) == 1 else "report/pooled"
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
              help="Which networks to compare: ticket, one_shot, reinit, random_prune, fine_tune, noise, rewind.")
@click.option("--metric", type=click.Choice(_SUMMARY_METRICS), default=_SUMMARY_METRICS[0], show_default=True,
              help="Summary metric on the y axis.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="PNG to write; the .csv and .md tables go beside it  [default: ./reports/compare/KIND-METRIC.png].")
@click.option("--label", "labels", multiple=True, callback=_parse_labels, metavar="A=NAME",
              help="Legend label for experiment/run A (repeatable)  [default: experiment name, or the settings "
                   "that differ when two share an experiment].")
@click.option("--tracking-uri", default=None, help=_STORE_HELP)
def compare(targets, kind, metric, out, labels, tracking_uri):
    """Several experiments or runs (e.g. two pruning criteria) in one figure and table.

    Each of A B [C...] is an experiment name or id, or a run id, as for `lth-tf report`.
    """
    from pathlib import Path

    from lth_tf import tracking
    from pipelines import compare as comparing

    if len(targets) < 2:
        raise click.UsageError("compare needs at least two experiments or runs")
    client = tracking.open_store(tracking_uri)
    out_file = Path(out) if out else Path("reports", "compare", f"{kind}-{metric}.png")
    made = comparing.compare(client, targets, out_file, kind, metric, labels)
    click.echo(made.table)
    click.echo("wrote:")
    for path in made.files:
        click.echo(f"  {path}")


@cli.command()
def presets():
    """List the paper's experiments that `lth-tf run --preset NAME` sets up (any flag overrides them)."""
    from lth_tf.presets import markdown_table

    click.echo(markdown_table())


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> None:
    """Console entry point: one-line errors, exit 2 for bad input, 130 when interrupted."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        cli.main(args=argv, prog_name="lth-tf", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as error:
        click.echo(error.ctx.get_help())
    except click.UsageError as error:
        click.echo(f"Error: {error.format_message()}", err=True)
        sys.exit(2)
    except UserError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(2)
    except (KeyboardInterrupt, click.Abort):
        click.echo("\nInterrupted: finished rounds are in MLflow; the run is marked KILLED.", err=True)
        sys.exit(130)
    except Exception as error:  # a crash: the runs are marked FAILED; say so in one line
        if os.environ.get("LTH_TF_DEBUG"):
            raise
        click.echo(f"Error: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''} "
                   "(the run is marked FAILED; set LTH_TF_DEBUG=1 for the traceback)", err=True)
        sys.exit(1)
