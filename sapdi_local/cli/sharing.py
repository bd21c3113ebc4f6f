"""The commands that share runs: export (a database copy, CSV or JSON, streamed) and merge."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from ..files import PRIVATE_MODE, SHARED_MODE, new_text_file, new_text_files, refuse_existing
from ..model import MetricHistory, Run
from ..records import (
    histories_from_rows,
    readable_names,
    run_from_record,
    runs_from_records,
)
from ..search_language import Expression
from ..selectors import option_names, options_expression
from ..store import ReadOnlyStore, RunFilter, Store, merge_from, search_run_records
from ..store.streaming import RunStream, streamed_runs
from .common import (
    database,
    db_option,
    exits_on_sigterm,
    json_option,
    nonblank_where,
    print_json,
    reader,
    resolve_run,
)
from .formats import json_array_text, metric_history_json, metric_values_csv
from .tables import (
    plural,
)

# ---------------------------------------------------------------- export and merge


@click.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("db", "csv", "json")),
    default="db",
    show_default=True,
    help="db: OUT is a new database file; csv: OUT is a folder that gets runs.csv and "
    "metrics.csv; json: OUT is one JSON file with runs and metric histories.",
)
@click.option("--scenario", help="Only runs of this scenario.")
@click.option("--collection", help="Only runs in this collection.")
@click.option("--run", "run_names", multiple=True, help="Only this run (repeatable).")
@click.option(
    "--where",
    callback=nonblank_where,
    help="Only runs this search expression selects (see README, Search).",
)
@click.option(
    "--shared",
    is_flag=True,
    help="Let every user of the machine read the files (mode 0644); by default only you can "
    "(0600).",
)
@click.option("--replace", is_flag=True, help="Replace files that already exist.")
@db_option
@json_option
def export(
    out: Path,
    fmt: str,
    scenario: str | None,
    collection: str | None,
    run_names: tuple[str, ...],
    where: str | None,
    shared: bool,
    replace: bool,
    db: Path | None,
    as_json: bool,
) -> None:
    """Export runs: a consistent database copy (safe while runs are written), or CSV or JSON.

    The database copy is one self-contained file, checked whole, that any SQLite client
    opens read-only from anywhere (a read-only share, a USB stick, another user). Files
    are private unless --shared, an existing file is refused unless --replace, and a
    symbolic link is never written through. CSV and JSON are written as the runs are
    read, all from one snapshot: memory does not grow with the number of runs, and a
    terminal shows the progress on stderr.

    \b
    Examples:
      sapdi-local export share.db --scenario churn
      sapdi-local export results/ --format csv --collection baseline
      sapdi-local export results.json --format json --run 3f2a
      sapdi-local export best.db --where "metrics.accuracy > 0.9"
    """
    mode = SHARED_MODE if shared else PRIVATE_MODE
    outputs = [out / "runs.csv", out / "metrics.csv"] if fmt == "csv" else [out]
    for output in outputs:
        refuse_existing(output, replace=replace)
    with exits_on_sigterm(), reader(db) as store:
        selects, expression = export_expression(store, scenario, collection, run_names, where)
        if fmt == "db":
            kept = export_database(
                store, out, expression, whole=not selects, mode=mode, replace=replace
            )
            if as_json:
                runs = store.counts()["runs"] if kept is None else kept
                print_json({"format": fmt, "files": [str(out)], "runs": runs})
            else:
                click.echo(f"copied {store.path} to {out}")
            return
        with streamed_runs(store, expression) as selection:
            if fmt == "csv":
                count = write_csv(out, selection, mode=mode, replace=replace)
            else:
                count = write_json(out, selection, mode=mode, replace=replace)
    written = outputs
    if as_json:
        print_json({"format": fmt, "files": [str(path) for path in written], "runs": count})
    elif fmt == "csv":
        click.echo(f"wrote {plural(count, 'run')} to {written[0]} and {written[1]}")
    else:
        click.echo(f"wrote {plural(count, 'run')} to {out}")


def all_runs(store: ReadOnlyStore) -> list[Run]:
    return [run_from_record(record) for record in store.select_runs(RunFilter())]


def export_expression(
    store: ReadOnlyStore,
    scenario: str | None,
    collection: str | None,
    run_names: Sequence[str],
    where: str | None = None,
) -> tuple[bool, Expression | None]:
    """Whether the options select some runs rather than all, and the search expression
    they make (the options and ``where`` as one, so that they select what they select
    everywhere)."""
    if scenario is None and collection is None and not run_names and where is None:
        return False, None
    ids = tuple(resolve_run(store, text) for text in run_names) if run_names else None
    expression = options_expression(
        scenarios=option_names(store, "scenario", scenario),
        collections=option_names(store, "collection", collection),
        runs=ids,
        where=where,
    )
    return True, expression


def select_for_export(
    store: ReadOnlyStore,
    scenario: str | None,
    collection: str | None,
    run_names: Sequence[str],
    where: str | None = None,
) -> list[Run] | None:
    """The runs to push, or None for all of them: the options and ``where`` as one search
    expression, so that they select what they select everywhere."""
    selects, expression = export_expression(store, scenario, collection, run_names, where)
    if not selects:
        return None
    _, records = search_run_records(store, expression)
    return [run_from_record(record) for record in records]


def export_database(
    store: ReadOnlyStore,
    out: Path,
    expression: Expression | None,
    *,
    whole: bool,
    mode: int,
    replace: bool,
) -> int | None:
    """Copy the database to ``out``: all of it when ``whole``, else only the runs
    ``expression`` selects; how many runs that kept (None for the whole file)."""
    keep: list[str] | None = None
    if not whole:
        # The ids only: the copy is made whole, then the runs not kept are deleted from it.
        with streamed_runs(store, expression) as selection:
            keep = list(selection.ids())
    bar = click.progressbar(length=1, label="copying", file=sys.stderr)
    with bar:

        def advance(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        store.export_copy(out, keep_runs=keep, progress=advance, mode=mode, replace=replace)
    return None if keep is None else len(keep)


RUN_COLUMNS = (
    "id",
    "name",
    "collection",
    "collection_is_default",
    "scenario",
    "scenario_version",
    "notebook",
    "pipeline",
    "execution",
    "status",
    "start_time",
    "end_time",
)
"""runs.csv's first columns: a run's own fields, as ``Run.to_dict`` names them."""

# Parameters and tags every run shows but which are not logged (its times and its name):
# runs.csv has them as columns of their own.
SYSTEM_PARAMETERS = ("start", "end")
SYSTEM_TAGS = ("runName",)


def csv_columns(selection: RunStream) -> list[str]:
    """runs.csv's header: the run's own fields, then every parameter, tag and metric name
    the selected runs have (``param.NAME``, ``tag.NAME``, ``metric.NAME``), sorted. Read
    with one DISTINCT per table, so that the rows can be written as they are read."""
    names = selection.column_names()
    extra = sorted(
        [f"param.{name}" for name in readable_names(names.parameters, SYSTEM_PARAMETERS)]
        + [f"tag.{name}" for name in readable_names(names.tags, SYSTEM_TAGS)]
        + [f"metric.{name}" for name in readable_names(names.metrics)]
    )
    return [*RUN_COLUMNS, *extra]


def exported_runs(selection: RunStream, label: str) -> Iterator[Run]:
    """The selected runs as the API reads them, one batch in memory at a time, with a
    progress bar on stderr (shown on a terminal) counting them."""
    with click.progressbar(length=selection.count(), label=label, file=sys.stderr) as bar:
        for records in selection.record_batches():
            yield from runs_from_records(records)
            bar.update(len(records))


def exported_histories(
    selection: RunStream, label: str
) -> Iterator[tuple[str, list[MetricHistory]]]:
    """Each selected run's id and metric histories as the API reads them: a value that
    cannot be read (a file edited by hand) is left out with a warning, never written out
    as it is. One run's histories are in memory at a time."""
    with click.progressbar(length=selection.count(), label=label, file=sys.stderr) as bar:
        for stored_id, stored in selection.histories():
            # As Run.id shows it: an id that is not text is written as its repr.
            run_id = stored_id if isinstance(stored_id, str) else repr(stored_id)
            yield run_id, histories_from_rows(run_id, stored)
            bar.update(1)


def write_csv(
    folder: Path,
    selection: RunStream,
    *,
    mode: int = PRIVATE_MODE,
    replace: bool = False,
) -> int:
    """runs.csv: one row per run, parameters as ``param.NAME``, tags as ``tag.NAME`` and last
    metric values as ``metric.NAME`` columns; metrics.csv: one row per stored value. Rows
    are written as they are read; how many runs were written."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    columns = csv_columns(selection)
    count = 0
    # Both files are written under temporary names and published together when both are
    # whole: an export stopped or refused halfway never leaves new runs beside old metrics.
    targets = [folder / "runs.csv", folder / "metrics.csv"]
    with new_text_files(targets, mode=mode, replace=replace) as (runs_file, metrics_file):
        writer = csv.DictWriter(runs_file, fieldnames=columns, restval="", extrasaction="ignore")
        writer.writeheader()
        for run in exported_runs(selection, "writing runs.csv"):
            data = run.to_dict()
            row = {column: data[column] for column in RUN_COLUMNS}
            row.update({f"param.{k}": v for k, v in run.parameters.items()})
            row.update({f"tag.{k}": v for k, v in run.tags.items()})
            row.update({f"metric.{k}": v for k, v in run.metrics.items()})
            writer.writerow(row)
            count += 1
        csv.writer(metrics_file).writerow(["run_id", "metric", "step", "value", "timestamp"])
        for run_id, histories in exported_histories(selection, "writing metrics.csv"):
            metrics_file.writelines(
                metric_values_csv(run_id, history.name, history.values) for history in histories
            )
    return count


def write_json(
    target: Path,
    selection: RunStream,
    *,
    mode: int = PRIVATE_MODE,
    replace: bool = False,
) -> int:
    """One JSON document: ``{"runs": [...], "metrics": [{"run_id", "name", "values"}...]}``,
    written as it is read, byte for byte what ``json.dumps(document, indent=2,
    ensure_ascii=False)`` writes of the whole; how many runs were written."""
    count = 0

    def runs() -> Iterator[dict[str, Any]]:
        nonlocal count
        for run in exported_runs(selection, f"writing {target.name} (runs)"):
            count += 1
            yield run.to_dict()

    def metrics() -> Iterator[tuple[str, MetricHistory]]:
        for run_id, histories in exported_histories(selection, f"writing {target.name} (metrics)"):
            for history in histories:
                yield run_id, history

    def metric_text(item: tuple[str, MetricHistory]) -> str:
        run_id, history = item
        return metric_history_json(run_id, history.name, history.values)

    with new_text_file(target, mode=mode, replace=replace) as handle:
        handle.write('{\n  "runs": ')
        handle.writelines(json_array_text(runs(), depth=1))
        handle.write(',\n  "metrics": ')
        handle.writelines(json_array_text(metrics(), depth=1, encode=metric_text))
        handle.write("\n}\n")
    return count


@click.command()
@click.argument("other", type=click.Path(dir_okay=False, path_type=Path))
@db_option
@json_option
def merge(other: Path, db: Path | None, as_json: bool) -> None:
    """Bring in another database's runs that this one lacks, with everything they hold.

    The other file is read and checked first; then the runs are written in one short
    transaction. A run breaking a rule of the SDK (names, values, labels, times) is
    skipped whole and reported. Merging the same file twice adds nothing. A run present
    in both with different content is reported as a conflict and left as it is here.

    \b
    Example:
      sapdi-local merge colleague.db
    """
    store = Store(database(db))
    theirs = ReadOnlyStore(other.expanduser().absolute())
    try:
        with click.progressbar(
            length=theirs.counts()["runs"], label="merging", file=sys.stderr
        ) as bar:
            report = merge_from(store, theirs, progress=bar.update)
    finally:
        store.close()
        theirs.close()
    if as_json:
        print_json(report._asdict())
        return
    skipped = f", {len(report.skipped)} skipped" if report.skipped else ""
    click.echo(
        f"added {plural(len(report.added), 'run')}, {len(report.unchanged)} already here, "
        f"{plural(len(report.conflicts), 'conflict')}{skipped}"
    )
    for run_id in report.conflicts:
        click.echo(f"conflict: run {run_id} differs here and in {other}; left unchanged")
    for item in report.skipped:
        click.echo(f"skipped: run {item['run']}: {item['reason']}")
