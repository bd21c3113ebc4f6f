"""The commands that look at runs: where, collections, runs and show.

They open the file through ``ReadOnlyStore``: never creating, migrating or locking it. A
field of a run that cannot be read (a row no sapdi-local wrote) is left out, with a warning
line on stderr, and the command goes on.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import click

from ..model import STATUSES, Run, iso_time, utc_from_seconds
from ..records import (
    read_collections,
    read_metric_stats,
    runs_from_records,
)
from ..selectors import option_names, options_expression
from ..store import search_run_records
from ..store.streaming import RunStream, streamed_runs
from .common import (
    MAX_LIMIT,
    MAX_REPEATED,
    WholeNumber,
    at_most,
    db_option,
    json_option,
    key_value,
    load_run,
    nonblank_where,
    parse_since,
    print_json,
    reader,
)
from .formats import json_array_text
from .tables import (
    collection_label,
    duration,
    duration_seconds,
    moment,
    number,
    pairs,
    short_moment,
    size_text,
    table,
)


@click.command()
@db_option
@json_option
def where(db: Path | None, as_json: bool) -> None:
    """Print the database path, its size, schema version and what it holds.

    \b
    Example:
      sapdi-local where --db runs.db
    """
    with reader(db) as store:
        counts = store.counts()
        size = store.file_size()
        version = store.schema_version()  # the file's own: a reader never migrates it
        if as_json:
            print_json(
                {"path": str(store.path), "bytes": size, "schema_version": version, **counts}
            )
            return
        rows = [
            ("database", str(store.path)),
            ("size", size_text(size)),
            ("schema", f"version {version}"),
            *((name, f"{value:,}") for name, value in counts.items()),
        ]
        click.echo(pairs(rows, width=None))  # the path whole, to be copied


@click.command()
@click.option("--scenario", help="Only this scenario's collections.")
@db_option
@json_option
def collections(scenario: str | None, db: Path | None, as_json: bool) -> None:
    """List run collections with their run counts; default ones end in "(Default)".

    \b
    Example:
      sapdi-local collections --scenario churn
    """
    with reader(db) as store:
        found = [
            c for c in read_collections(store.collections()) if scenario in (None, c["scenario"])
        ]
    for item in found:
        item["last_start"] = iso_time(utc_from_seconds(item["last_start"]))
    if as_json:
        print_json(found)
        return
    rows = [
        (
            item["scenario"],
            item["collection"] + (" (Default)" if item["is_default"] else ""),
            item["runs"],
            (item["last_start"] or "")[:19].replace("T", " "),
        )
        for item in found
    ]
    click.echo(table(("scenario", "collection", "runs", "last run (UTC)"), rows, elastic=(0, 1)))


@click.command()
@click.option("--collection", help="Only runs in this collection.")
@click.option("--scenario", help="Only runs of this scenario.")
@click.option("--notebook", help="Only runs made by this notebook.")
@click.option("--pipeline", help="Only runs made by this pipeline or script.")
@click.option(
    "--status", type=click.Choice(STATUSES, case_sensitive=False), help="Only this status."
)
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Only runs with this tag.")
@click.option("--since", help="Runs started since: 2026-11-01, 2026-11-01T12:00, 30m, 12h, 7d.")
@click.option("--limit", type=WholeNumber(1, MAX_LIMIT), default=20, show_default=True)
@click.option("--metric", "metrics", multiple=True, help="Add a column with this metric's value.")
@click.option(
    "--where",
    callback=nonblank_where,
    help="Only runs this search expression selects (see README, Search).",
)
@click.option(
    "--order-by",
    "order_by",
    multiple=True,
    metavar="KEY [ASC|DESC]",
    help="Sort by this key (repeatable; runs lacking it last). Default: newest first.",
)
@db_option
@json_option
def runs(
    collection: str | None,
    scenario: str | None,
    notebook: str | None,
    pipeline: str | None,
    status: str | None,
    tags: tuple[str, ...],
    since: str | None,
    limit: int,
    metrics: tuple[str, ...],
    where: str | None,
    order_by: tuple[str, ...],
    db: Path | None,
    as_json: bool,
) -> None:
    """List runs, newest first (start times in UTC), or in the order of --order-by.

    \b
    Examples:
      sapdi-local runs --collection baseline --tag dataset=v2 --metric accuracy
      sapdi-local runs --where "metrics.accuracy > 0.9 and params.optimizer = 'adam'" \
          --order-by "metrics.accuracy DESC" --metric accuracy
    """
    at_most(MAX_REPEATED, "--tag", tags)
    at_most(MAX_REPEATED, "--metric", metrics)
    at_most(MAX_REPEATED, "--order-by", order_by)
    tag_pairs = tuple(key_value(text, "--tag") for text in tags)
    start_after = None if since is None else parse_since(since)
    with reader(db) as store:
        expression = options_expression(
            scenarios=option_names(store, "scenario", scenario),
            collections=option_names(store, "collection", collection),
            notebooks=notebook,
            pipelines=pipeline,
            statuses=None if status is None else (status,),
            tags=tag_pairs,
            started_after=None if start_after is None else start_after.timestamp(),
            where=where,
        )
        if as_json:
            with streamed_runs(store, expression, order_by, limit) as selection:
                print_json_runs(selection)
            return
        _, records = search_run_records(store, expression, order_by, limit)
        found = runs_from_records(records)
    headers = ("id", "name", "collection", "status", "start", "duration", *metrics)
    rows = [
        (
            run.id[:8],
            run.name,
            collection_label(run),
            run.status,
            short_moment(run.start_time),
            duration(duration_seconds(run)),
            *(number(run.metrics.get(name)) for name in metrics),
        )
        for run in found
    ]
    # Collection, duration, start and status give way to the metrics asked for.
    click.echo(table(headers, rows, elastic=(1, 2), optional=(2, 5, 4, 3), keys=(0, 1)))


def print_json_runs(selection: RunStream) -> None:
    """The selected runs as ``runs --json`` prints them: one JSON array, in the bytes
    ``print_json`` writes of the whole list, printed a batch at a time so that a long list
    is never held. A progress bar counts the runs on stderr when that is a terminal and
    the array goes elsewhere (a file, a pipe): never between lines of the array."""

    def items(advance: Callable[[int], object]) -> Iterator[dict[str, Any]]:
        for records in selection.record_batches():
            for run in runs_from_records(records):
                yield {**run.to_dict(), "duration": duration_seconds(run)}
            advance(len(records))

    if sys.stderr.isatty() and not sys.stdout.isatty():
        with click.progressbar(
            length=selection.count(), label="listing runs", file=sys.stderr
        ) as bar:
            echo_pieces(json_array_text(items(bar.update)))
    else:
        # No bar made at all: click loads its code on first use, and a reader that has
        # dropped its rights (another user reading a shared file) may not be able to.
        echo_pieces(json_array_text(items(lambda done: None)))


def echo_pieces(pieces: Iterable[str]) -> None:
    """Print ``pieces`` and a newline, in a few large writes rather than one per piece."""
    waiting: list[str] = []
    for piece in pieces:
        waiting.append(piece)
        if len(waiting) == JSON_PIECES_PER_WRITE:
            click.echo("".join(waiting), nl=False)
            waiting.clear()
    click.echo("".join(waiting))


JSON_PIECES_PER_WRITE = 100  # runs per write to stdout: few writes, little held


@click.command()
@click.argument("run")
@db_option
@json_option
def show(run: str, db: Path | None, as_json: bool) -> None:
    """Show one run whole: context, parameters, tags, labels and metrics.

    RUN is a run id, a unique id prefix, or a run name. Metric count, min and max are
    over the stored values (the 1000 most recent of each metric).

    \b
    Example:
      sapdi-local show 3f2a
    """
    with reader(db) as store:
        found = load_run(store, run)
        stats = read_metric_stats(store, found.id)
    if as_json:
        print_json({**found.to_dict(), "duration": duration_seconds(found), "metric_stats": stats})
        return
    lost = {item.field for item in found.unreadable if item.name is None}

    def field(column: str, text: Any) -> Any:
        return UNREADABLE if column in lost else text

    context = [
        ("run", found.id),
        ("name", field("name", found.name)),
        ("collection", field("collection", collection_label(found))),
        ("status", field("status", found.status)),
        ("scenario", f"{found.scenario} (version {found.scenario_version})"),
        ("notebook" if found.notebook else "pipeline", found.notebook or found.pipeline),
        ("execution", found.execution),
        ("start (UTC)", field("start_time", moment(found.start_time))),
        ("end (UTC)", field("end_time", moment(found.end_time))),
        ("duration", duration(duration_seconds(found))),
    ]
    click.echo(pairs(context))
    user_parameters = {k: v for k, v in found.parameters.items() if k not in ("start", "end")}
    user_tags = {k: v for k, v in found.tags.items() if k != "runName"}
    labels = {k: json.dumps(v) for k, v in found.labels.items()}
    for title, kind, values in (
        ("parameters", "parameter", user_parameters),
        ("tags", "tag", user_tags),
        ("labels", "label", labels),
    ):
        entries = sorted(values.items()) + unreadable_rows(found, kind)
        click.echo(f"\n{title}")
        click.echo(table(("name", "value"), entries, wrapped=(0, 1)) if entries else "  (none)")
    click.echo("\nmetrics")
    rows = [
        (name, number(s["last"]), s["count"], number(s["min"]), number(s["max"]))
        for name, s in stats.items()
    ]
    click.echo(
        table(("name", "last", "count", "min", "max"), rows, wrapped=(0,)) if rows else "  (none)"
    )


UNREADABLE = "(unreadable)"  # a stored field that cannot be read, in text for people


def unreadable_rows(run: Run, kind: str) -> list[tuple[str, str]]:
    """A (name, "(unreadable)") row for each parameter, tag or label of ``run`` that cannot
    be read."""
    return [
        (item.name or "(unreadable name)", UNREADABLE)
        for item in run.unreadable
        if item.field == kind
    ]
