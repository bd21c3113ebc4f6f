"""The commands that only read: where, collections, runs, show, compare, history, check.

They open the file through ``ReadOnlyStore``: never creating, migrating or locking it. A
field of a run that cannot be read (a row no sapdi-local wrote) is left out, with a warning
line on stderr, and the command goes on.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from os.path import commonprefix
from pathlib import Path
from typing import Any

import click

from .cli_common import (
    EXIT_CHECK_FAILED,
    GAP,
    MAX_COMPARED,
    MAX_LIMIT,
    MAX_REPEATED,
    WIDTH,
    CommandError,
    FiniteNumber,
    WholeNumber,
    at_most,
    collection_label,
    db_option,
    duration,
    duration_seconds,
    is_number,
    json_option,
    key_value,
    line,
    load_run,
    moment,
    nonblank_where,
    number,
    pairs,
    parse_since,
    print_json,
    reader,
    short_moment,
    size_text,
    table,
)
from .display import cut, display_width, printable, tail
from .files import json_array_text
from .model import STATUSES, MetricValue, Run, iso_time, utc_from_seconds
from .records import (
    histories_from_rows,
    read_collections,
    read_metric_stats,
    runs_from_records,
)
from .search_language import METRIC, Key, key_text
from .selectors import option_names, options_expression
from .store import SCHEMA_VERSION, ReadOnlyStore, search_run_records
from .store.streaming import RunStream, streamed_runs


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
        if as_json:
            print_json(
                {"path": str(store.path), "bytes": size, "schema_version": SCHEMA_VERSION, **counts}
            )
            return
        rows = [
            ("database", str(store.path)),
            ("size", size_text(size)),
            ("schema", f"version {SCHEMA_VERSION}"),
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


@click.command()
@click.argument("runs_named", metavar="RUN RUN...", nargs=-1, required=True)
@db_option
@json_option
def compare(runs_named: tuple[str, ...], db: Path | None, as_json: bool) -> None:
    """Put runs' parameters and last metric values side by side; "*" marks differences.

    \b
    Example:
      sapdi-local compare lr-0.01 lr-0.1
    """
    if len(runs_named) < 2:
        raise click.UsageError("compare needs at least two runs")
    at_most(MAX_COMPARED, "RUN", runs_named)
    with reader(db) as store:
        found = [load_run(store, text) for text in runs_named]
    fields: list[tuple[str, str, list[Any]]] = []
    for kind, values in (
        ("parameter", [user_parameters(run) for run in found]),
        ("metric", [dict(run.metrics) for run in found]),
    ):
        for name in sorted(set().union(*values)):
            fields.append((kind, name, [each.get(name) for each in values]))
    if as_json:
        print_json(
            {
                "runs": [{"id": run.id, "name": run.name} for run in found],
                "fields": [
                    {"kind": kind, "name": name, "values": values, "differs": differ(values)}
                    for kind, name, values in fields
                ],
            }
        )
        return
    rows = [
        ("*" if differ(values) else "", f"{kind[0]}: {name}", *compared(values))
        for kind, name, values in fields
    ]
    field_width = min(max([display_width(printable(row[1])) for row in rows] + [5]), MAX_FIELD)
    room = WIDTH - (1 + GAP + field_width)
    headers = run_headers(found, [[row[2 + at] for row in rows] for at in range(len(found))], room)
    # The mark and the field repeat in each block of runs that fits beside them.
    click.echo(table(("", "field", *headers), rows, wrapped=range(1, 2 + len(found)), keys=(0, 1)))


MAX_FIELD = 24  # the field column of compare wraps past this when runs need the room
LEAST_LABEL = 8  # a run's header in compare: at least this wide (an id prefix fits)


def run_headers(
    runs: Sequence[Run], columns: Sequence[Sequence[str]], room: int
) -> Sequence[str | tuple[str, str]]:
    """compare's header of each run, telling the runs apart within their share of ``room``:
    the name when it fits, else its part after the prefix all names share (``…depth-2``);
    when that still leaves two runs alike, an id prefix above it."""
    names = [printable(run.name or run.id) for run in runs]
    share = room // len(runs) - GAP
    common = len(commonprefix(names)) if len(set(names)) > 1 else 0
    labels = []
    for name, cells in zip(names, columns, strict=True):
        # Numbers are never cut: the column is at least as wide as they are.
        numbers = max([display_width(cell) for cell in cells if is_number(cell)] + [0])
        labels.append(distinguishing(name, common, max(share, numbers, LEAST_LABEL)))
    ids = [run.id for run in runs]
    if len(set(labels)) == len(set(ids)):
        return labels
    longest = max(map(len, ids))
    size = next(
        (n for n in range(8, longest) if len({i[:n] for i in ids}) == len(set(ids))), longest
    )
    return [(printable(run_id[:size]), label) for run_id, label in zip(ids, labels, strict=True)]


def distinguishing(name: str, common: int, width: int) -> str:
    """``name`` in ``width`` columns: whole if it fits, else as much of its end as fits when
    all after the ``common`` prefix does, else from where it differs."""
    if display_width(name) <= width or common == 0:
        return cut(name, width)
    rest = name[common:]
    if display_width(rest) < width:
        return "…" + tail(name, width - 1)
    return "…" + cut(rest, width - 1)


def user_parameters(run: Run) -> dict[str, str]:
    """A run's parameters without the start and end the SDK adds."""
    return {k: v for k, v in run.parameters.items() if k not in ("start", "end")}


def differ(values: Sequence[object]) -> bool:
    """Whether runs' values of a field differ, compared exactly (a missing one is None)."""
    return len(set(values)) > 1


def compared(values: Sequence[str | float | None]) -> list[str]:
    """Values side by side: numbers to 6 significant digits, or in full where that would
    show different numbers alike; "-" where a run has none."""
    numbers = {value for value in values if isinstance(value, float)}
    short = {number(value) for value in numbers}
    full = len(short) < len(numbers)
    return [
        "-"
        if value is None
        else (repr(value) if full else number(value))
        if isinstance(value, float)
        else value
        for value in values
    ]


@click.command()
@click.argument("run")
@click.argument("metric")
@click.option("--plot", is_flag=True, help="Draw the values as a small chart.")
@db_option
@json_option
def history(run: str, metric: str, plot: bool, db: Path | None, as_json: bool) -> None:
    """Show a metric's stored values (the 1000 most recent) with step and time.

    \b
    Example:
      sapdi-local history 3f2a loss --plot
    """
    with reader(db) as store:
        found = load_run(store, run)
        unreadable = {item.name for item in found.unreadable if item.field == "metric"}
        if metric not in found.metrics and metric not in unreadable:
            known = ", ".join(sorted(found.metrics)) or "none"
            raise CommandError(f"run {found.id} has no metric {metric!r}; its metrics: {known}")
        values = histories_from_rows(found.id, store.metric_history(found.id, [metric]))[0].values
    if as_json:
        print_json({"run_id": found.id, "name": metric, "values": [v.to_dict() for v in values]})
        return
    if plot:
        click.echo(chart(metric, values))
        return
    rows = [
        ("" if step is None else step, number(value), moment(utc_from_seconds(stamp)))
        for value, step, stamp in values
    ]
    click.echo(table(("step", metric, "time (UTC)"), rows))


def chart(metric: str, values: Sequence[MetricValue]) -> str:
    """The values as a small terminal chart, drawn by uniplot (the optional `plot` extra):
    x is the step, or the position in the history when values have no step."""
    try:
        from uniplot import plot_to_string
    except ImportError:
        raise CommandError(
            "--plot draws with uniplot, which is not installed: pip install 'sapdi-local[plot]'"
        ) from None
    ys = [value for value, _, _ in values]
    steps = [step for _, step, _ in values]
    xs = steps if None not in steps else list(range(len(values)))
    title = printable(f"{metric}: {len(values)} values")
    return str(plot_to_string(ys, xs=xs, title=title, width=60, height=10, lines=True))


# ---------------------------------------------------------------- check


@click.command()
@click.argument("run", required=False)
@click.option("--metric", required=True, help="The metric to check.")
@click.option("--min", "minimum", type=FiniteNumber(), help="Fail when the value is below this.")
@click.option("--max", "maximum", type=FiniteNumber(), help="Fail when the value is above this.")
@click.option("--baseline", help="Fail when worse than this run's value by more than --tolerance.")
@click.option(
    "--tolerance",
    type=FiniteNumber(minimum=0),
    default=0.0,
    show_default=True,
    help="How much worse than --baseline still passes (0 or more).",
)
@click.option(
    "--lower-is-better",
    is_flag=True,
    help="Smaller values are better (for --baseline, and for the best run of --where).",
)
@click.option(
    "--where",
    callback=nonblank_where,
    help="Instead of RUN: gate on the best run this search expression selects.",
)
@click.option("--all", "every", is_flag=True, help="With --where: gate on every run it selects.")
@db_option
@json_option
def check(
    run: str | None,
    metric: str,
    minimum: float | None,
    maximum: float | None,
    baseline: str | None,
    tolerance: float,
    lower_is_better: bool,
    where: str | None,
    every: bool,
    db: Path | None,
    as_json: bool,
) -> None:
    """Exit 1 when a run's metric is outside the bounds, 0 when inside: a CI gate.

    The run is RUN, or the best run that --where selects (highest value, lowest with
    --lower-is-better), or with --all every run it selects, each of which must pass.
    Exit 2, never a pass, when no run is selected, the metric is missing or its stored
    value is not a finite number, or a bound or tolerance is not a finite number.

    \b
    Examples:
      sapdi-local check ci-42 --metric accuracy --min 0.9
      sapdi-local check ci-42 --metric rmse --baseline main --tolerance 0.01 --lower-is-better
      sapdi-local check --where "tags.ci = 'yes' and start_time > '-1d'" --metric accuracy --min 0.9
    """
    if minimum is None and maximum is None and baseline is None:
        raise click.UsageError("give --min, --max or --baseline")
    if minimum is not None and maximum is not None and minimum > maximum:
        raise click.UsageError(
            f"--min {minimum!r} is above --max {maximum!r}: no value could pass; "
            "give a --min at most --max"
        )
    if (run is None) == (where is None):
        raise click.UsageError("give either RUN or --where EXPRESSION (not both)")
    if every and where is None:
        raise click.UsageError("--all goes with --where")
    with reader(db) as store:
        if run is not None:
            gated = [load_run(store, run)]
        else:
            gated = gated_runs(store, where or "", metric, lower_is_better=lower_is_better)
            if not every:
                gated = gated[:1]
        values = [metric_of(found, metric) for found in gated]
        reference = None if baseline is None else metric_of(load_run(store, baseline), metric)
    verdicts = [
        gate_failures(
            value,
            minimum=minimum,
            maximum=maximum,
            reference=reference,
            tolerance=tolerance,
            lower_is_better=lower_is_better,
        )
        for value in values
    ]
    failed = any(verdicts)
    if as_json:
        results = [
            {
                "run_id": found.id,
                "metric": metric,
                "value": value,
                "baseline": reference,
                "ok": not failures,
                "failures": failures,
            }
            for found, value, failures in zip(gated, values, verdicts, strict=True)
        ]
        print_json(results[0] if run is not None else {"ok": not failed, "runs": results})
    else:
        for found, value, failures in zip(gated, values, verdicts, strict=True):
            label = f"{metric} = {number(value)} in run {found.name} ({found.id[:8]})"
            if failures:
                click.echo(printable(f"FAIL: {label} is {' and '.join(failures)}"), err=True)
            else:
                line(f"OK: {label}")
    if failed:
        sys.exit(EXIT_CHECK_FAILED)


def gated_runs(
    store: ReadOnlyStore, where: str, metric: str, *, lower_is_better: bool
) -> list[Run]:
    """The runs ``where`` selects, best first by ``metric`` (runs lacking it last, so that
    the gate reports them rather than passing over them); an error when none is selected."""

    direction = "ASC" if lower_is_better else "DESC"
    order = [f"{key_text(Key(METRIC, metric))} {direction}"]
    _, records = search_run_records(store, where, order)
    if not records:
        raise CommandError(f"no run matches --where {where!r}; nothing to check")
    return runs_from_records(records)


def gate_failures(
    value: float,
    *,
    minimum: float | None,
    maximum: float | None,
    reference: float | None,
    tolerance: float,
    lower_is_better: bool,
) -> list[str]:
    """Why ``value`` fails the gate; empty when it passes."""
    failures = []
    if minimum is not None and value < minimum:
        failures.append(f"below the minimum {number(minimum)}")
    if maximum is not None and value > maximum:
        failures.append(f"above the maximum {number(maximum)}")
    if reference is not None:
        worse_by = (value - reference) if lower_is_better else (reference - value)
        if worse_by > tolerance:
            failures.append(
                f"worse than the baseline's {number(reference)} by {number(worse_by)} "
                f"(tolerance {number(tolerance)})"
            )
    return failures


def metric_of(run: Run, metric: str) -> float:
    """The run's last value of ``metric``, a finite number: a metric that is missing, that
    cannot be read or that is not finite (a hand-edited file) is an error, never a pass."""
    unreadable = [item for item in run.unreadable if item.field == "metric" and item.name == metric]
    if unreadable:
        raise CommandError(
            f"run {run.id}: {unreadable[0].reason}; it cannot be checked: log the metric again"
        )
    if metric not in run.metrics:
        known = ", ".join(sorted(run.metrics)) or "none"
        raise CommandError(f"run {run.id} has no metric {metric!r}; its metrics: {known}")
    value = run.metrics[metric]
    if not math.isfinite(value):
        raise CommandError(
            f"run {run.id}: metric {metric!r} is {value!r}, not a finite number; it cannot be "
            "checked: log the metric again"
        )
    return value
