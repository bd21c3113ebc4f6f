"""The commands that move runs between sapdi-local and other trackers: ``import mlflow``,
``import trackio`` and ``push mlflow``.

Reading an MLflow SQLite file or a trackio database needs nothing more than this package;
an MLflow tracking server (``http(s)://`` and the other tracking URIs) is reached through
MLflow's client, the ``mlflow`` extra, imported only by the command that needs it. Imports
write through ``store.import_runs`` (one transaction under the lock); pushes record what
they sent in our database through the store, after each batch.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..store import Store, import_runs
from .common import (
    database,
    db_option,
    json_option,
    nonblank_where,
    print_json,
    reader,
)
from .tables import (
    plural,
)

SHORT_REASON = 160  # characters of a skip's reason on one line of text output

# ---------------------------------------------------------------- import


def _database(db: Path | None) -> Path:
    """The file to use: the subcommand's --db, else the group's (``sapdi-local import --db
    x.db mlflow ...``), else what ``database`` finds."""
    parent = click.get_current_context().parent
    if db is None and parent is not None:
        db = parent.params.get("db")
    return database(db)


@click.group("import")
@db_option
def import_group(db: Path | None) -> None:
    """Bring runs in from another tracker (MLflow, trackio).

    Importing the same source twice adds nothing.

    \b
    Examples:
      sapdi-local import mlflow mlflow.db
      sapdi-local import mlflow http://127.0.0.1:5000
      sapdi-local import trackio ~/.cache/huggingface/trackio/demo.db
    """


def _import_options(function: Any) -> Any:
    for option in reversed(
        (
            click.option(
                "--scenario",
                help="Put every imported run in this scenario. Default: the MLflow experiment "
                "or trackio project.",
            ),
            click.option(
                "--replace",
                is_flag=True,
                help="Replace runs already here whose content differs (default: report them "
                "as conflicts and leave them as they are).",
            ),
            db_option,
            json_option,
        )
    ):
        function = option(function)
    return function


@import_group.command("mlflow")
@click.argument("source", metavar="PATH_OR_URI")
@click.option(
    "--experiment", "experiments", multiple=True, help="Only this experiment (repeatable)."
)
@_import_options
def import_mlflow(
    source: str,
    experiments: tuple[str, ...],
    scenario: str | None,
    replace: bool,
    db: Path | None,
    as_json: bool,
) -> None:
    """Import MLflow experiments and runs: from its SQLite file (a path or sqlite:///PATH,
    read directly) or from a tracking server (http://..., through MLflow's client, the
    mlflow extra).

    Each experiment becomes a run collection (and the scenario, unless --scenario); run
    ids, names, statuses, parameters, tags (MLflow's system tags too) and metric histories
    (the most recent 1000 values) are kept. NaN values are skipped and counted. A
    malformed run (text or a blob where a number belongs, a missing timestamp or step, a
    time outside 1678..2262, an id or name we cannot hold) is skipped whole and named, with
    the reason; nothing of it is written.

    \b
    Examples:
      sapdi-local import mlflow mlflow.db
      sapdi-local import mlflow sqlite:///mlruns/mlflow.db --scenario churn
      sapdi-local import mlflow http://127.0.0.1:5000 --experiment baseline
    """
    from ..interop import is_mlflow_file, mlflow_file_path, read_mlflow_client, read_mlflow_file

    click.echo(f"reading {source}", err=True)
    if is_mlflow_file(source):
        read = read_mlflow_file(
            mlflow_file_path(source), scenario=scenario, experiments=experiments
        )
    else:
        read = read_mlflow_client(source, scenario=scenario, experiments=experiments)
    _store_imported(read, db, replace, as_json)


@import_group.command("trackio")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@_import_options
def import_trackio(
    path: Path, scenario: str | None, replace: bool, db: Path | None, as_json: bool
) -> None:
    """Import the runs of a trackio project database (PROJECT.db in trackio's folder,
    ~/.cache/huggingface/trackio by default). Needs no extra: the file is read directly.

    The project becomes the scenario (unless --scenario), the run's group (else the
    project) its collection, the config its parameters (keys starting with "_" become
    tags); metric histories keep the most recent 1000 values. Non-numeric values (text,
    media) and NaN are skipped and counted. A run whose config is not a JSON object is
    skipped whole and named, with the reason; a metrics row that is not a JSON object, or
    whose time or step cannot be read, is left out of its run, counted and listed.

    \b
    Example:
      sapdi-local import trackio ~/.cache/huggingface/trackio/demo.db
    """
    from ..interop import read_trackio

    read = read_trackio(path.expanduser(), scenario=scenario)
    _store_imported(read, db, replace, as_json)


def _store_imported(read: Any, db: Path | None, replace: bool, as_json: bool) -> None:
    store = Store(_database(db))
    try:
        with click.progressbar(length=len(read.runs), label="importing", file=sys.stderr) as bar:
            report = import_runs(store, read.runs, replace=replace, progress=bar.update)
    finally:
        store.close()
    if as_json:
        print_json({**report._asdict(), **read.summary()})
        return
    click.echo(
        f"added {plural(len(report.added), 'run')}, {len(report.unchanged)} already here, "
        f"{plural(len(report.conflicts), 'conflict')}"
        + (f", {len(report.replaced)} replaced" if report.replaced else "")
    )
    for run_id in report.conflicts:
        click.echo(
            f"conflict: run {run_id} differs here and in {read.source}; left unchanged "
            "(--replace takes the source's)"
        )
    counts = (
        (len(read.runs_skipped), "malformed run", " (skipped whole)"),
        (read.malformed_rows, "malformed row", ""),
        (read.non_finite, "NaN or infinite value", ""),
        (read.not_numbers, "non-numeric value", ""),
        (read.trimmed, "value", " older than the 1000-value window"),
        (read.deleted, "deleted run", ""),
    )
    left_out = [plural(count, word) + more for count, word, more in counts if count]
    if left_out:
        click.echo("left out: " + ", ".join(left_out))
    for item in read.runs_skipped:
        click.echo(f"skipped run {item['run']}: {_short(item['reason'])}")
    for item in read.rows_skipped:
        click.echo(f"skipped row {item['row']} of run {item['run']}: {_short(item['reason'])}")
    unlisted = read.malformed_rows - len(read.rows_skipped)
    if unlisted:
        click.echo(f"... and {plural(unlisted, 'more malformed row')}, counted, not listed")
    _echo_skipped(read.skipped)


def _short(reason: str) -> str:
    """A reason cut to fit a line; --json gives more of it."""
    return reason if len(reason) <= SHORT_REASON else reason[: SHORT_REASON - 3] + "..."


# ---------------------------------------------------------------- push


@click.group("push")
@db_option
def push_group(db: Path | None) -> None:
    """Send runs to a team's tracking server (MLflow), each exactly once.

    \b
    Example:
      sapdi-local push mlflow http://mlflow.internal:5000 --scenario churn
    """


@push_group.command("mlflow")
@click.argument("uri")
@click.option("--scenario", help="Only runs of this scenario.")
@click.option("--collection", help="Only runs in this collection.")
@click.option("--run", "run_names", multiple=True, help="Only this run (repeatable).")
@click.option(
    "--where",
    callback=nonblank_where,
    help="Only runs this search expression selects (see README, Search).",
)
@click.option(
    "--experiment", help="Send every run to this experiment. Default: the run's scenario."
)
@db_option
@json_option
def push_mlflow(
    uri: str,
    scenario: str | None,
    collection: str | None,
    run_names: tuple[str, ...],
    where: str | None,
    experiment: str | None,
    db: Path | None,
    as_json: bool,
) -> None:
    """Send runs (all, or those selected as for export) to an MLflow tracking server,
    through MLflow's client (the mlflow extra).

    The scenario becomes the experiment; parameters, tags and every stored metric value
    (with its step and timestamp) go up; collection and context go as sapdi_local.* tags,
    labels as the JSON tag sapdi_local.labels. Pushing again sends only what is new or
    changed; a push interrupted halfway, run again, leaves every run on the server once.

    \b
    Examples:
      sapdi-local push mlflow http://127.0.0.1:5000
      sapdi-local push mlflow https://mlflow.internal --collection baseline --run lr-0.01
    """
    from ..interop import mlflow_client, push_runs
    from .sharing import all_runs, select_for_export

    mlflow_client(uri)  # a missing extra is reported before anything else happens
    path = _database(db)
    with reader(path) as store:
        chosen = select_for_export(store, scenario, collection, run_names, where)
        if chosen is None:
            chosen = all_runs(store)
    chosen.reverse()  # oldest first: a server lists them in the order they happened
    writer = Store(path)
    try:
        with click.progressbar(length=len(chosen), label="pushing", file=sys.stderr) as bar:
            report = push_runs(
                writer, chosen, uri, experiment=experiment, progress=lambda run: bar.update(1)
            )
    finally:
        writer.close()
    if as_json:
        print_json(report.summary())
        return
    click.echo(
        f"pushed {plural(report.runs, 'run')} to {report.target}: {len(report.created)} new, "
        f"{len(report.updated)} updated, {plural(report.values_sent, 'metric value')} sent"
        + (
            f", {report.values_already_there} found already there"
            if report.values_already_there
            else ""
        )
    )
    _echo_skipped(report.skipped)
    for item in report.failed:
        click.echo(f"failed: run {item['run']}: {item['reason']}")


def _echo_skipped(skipped: list[dict[str, str]]) -> None:
    for item in skipped:
        what = f"{item['kind']} {item['name']!r} of run {item['run']}"
        click.echo(f"skipped {what}: {item['reason']}")
