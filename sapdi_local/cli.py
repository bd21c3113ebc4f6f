"""The ``sapdi-local`` command: browse, compare, gate CI, submit, export and merge runs.

Reading commands open the file through ``ReadOnlyStore``: they never create, migrate or
lock it, so they are safe next to running trainings. ``submit`` writes through
``MLTrackingSDK``, so every rule of the API applies; ``merge`` writes through
``store.merge_from`` under the lock. Any ``TrackingError`` becomes a one-line message on
stderr and exit code 2; ``check`` exits 1 when a metric is out of bounds.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import click
from tabulate import tabulate  # type: ignore[import-untyped]  # tabulate ships no type hints

from .errors import TrackingError
from .model import Run, iso_time, utc_from_seconds
from .paths import resolve_db_path
from .sdk import run_from_record
from .selectors import delete_filter
from .store import SCHEMA_VERSION, ReadOnlyStore, RunFilter, RunRecord, Store, merge_from
from .validation import check_metric_value, check_name, check_parameter, check_tag

EXIT_ERROR = 2  # bad input or storage trouble: click's exit code for usage errors
EXIT_CHECK_FAILED = 1  # a gated metric is out of bounds
WIDTH = 80  # tables fit a classic terminal
MIN_COLUMN = 6  # no column is squeezed narrower than this
HEADER_PADDING = 2  # tabulate.MIN_PADDING: room it keeps beside each header
STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED")
F = TypeVar("F", bound=Callable[..., Any])


class CommandError(click.ClickException):
    """A one-line error for the user, shown as "Error: ..." with exit code 2."""

    exit_code = EXIT_ERROR


class TrackingGroup(click.Group):
    """Turns every TrackingError (and OS error) of a command into a CommandError."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TrackingError as error:
            raise CommandError(str(error)) from None
        except OSError as error:
            raise CommandError(str(error)) from None


# ---------------------------------------------------------------- shared options


def db_option(function: F) -> F:
    option = click.option(
        "--db",
        "db",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Database file. Default: $SAPDI_LOCAL_DB, else the SDK's per-user file.",
    )
    return option(function)


def json_option(function: F) -> F:
    option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
    return option(function)


def database(db: Path | None) -> Path:
    """The file to use: the command's --db, else the one given before the command
    (``sapdi-local --db x.db runs``), else the SDK's default."""
    if db is None:
        db = click.get_current_context().find_root().params.get("db")
    return resolve_db_path(db)


@contextmanager
def reader(db: Path | None) -> Iterator[ReadOnlyStore]:
    """The database opened for reading only; closed afterwards."""
    store = ReadOnlyStore(database(db))
    try:
        yield store
    finally:
        store.close()


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def key_value(text: str, option: str) -> tuple[str, str]:
    """Split ``key=value``; a missing ``=`` is a usage error."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"expected KEY=VALUE, got {text!r}", param_hint=option)
    return key, value


# ---------------------------------------------------------------- formatting


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    elastic: Sequence[int] = (),
    width: int = WIDTH,
) -> str:
    """An aligned table that fits ``width`` columns. The widest of the ``elastic`` columns
    (free text such as names) are cut first, then the widest of all; a cut cell ends in
    an ellipsis."""
    cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
    # tabulate makes a column at least its header plus HEADER_PADDING wide.
    widths = [
        max([len(header) + HEADER_PADDING, *(len(row[index]) for row in cells)])
        for index, header in enumerate(headers)
    ]
    gaps = 2 * (len(widths) - 1)  # tabulate's "simple" format puts two spaces between columns
    while sum(widths) + gaps > width:
        candidates = [i for i in elastic if widths[i] > MIN_COLUMN] or [
            i for i, size in enumerate(widths) if size > MIN_COLUMN
        ]
        if not candidates:
            break
        widths[max(candidates, key=lambda i: widths[i])] -= 1
    clipped = [[clip(cell, widths[i]) for i, cell in enumerate(row)] for row in cells]
    aligns = [
        "right" if cells and all(is_number(row[i]) for row in cells if row[i]) else "left"
        for i in range(len(headers))
    ]
    return str(
        tabulate(
            clipped,
            headers=[clip(header, widths[i] - HEADER_PADDING) for i, header in enumerate(headers)],
            tablefmt="simple",
            disable_numparse=True,
            colalign=aligns,
        )
    )


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def size_text(size: int) -> str:
    return f"{size / 1024:.1f} KiB" if size < 1024**2 else f"{size / 1024**2:.1f} MiB"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def number(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def moment(value: datetime | None) -> str:
    """A time for people: UTC, to the second."""
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def short_moment(value: datetime | None) -> str:
    """A time in a list: UTC, month to minute, so that the columns beside it have room."""
    return "" if value is None else value.strftime("%m-%d %H:%M")


def duration_seconds(run: Run) -> float | None:
    if run.start_time is None or run.end_time is None:
        return None
    return (run.end_time - run.start_time).total_seconds()


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def collection_label(run: Run) -> str:
    return run.collection_display_name or ""


# ---------------------------------------------------------------- runs


def resolve_run(store: ReadOnlyStore, text: str) -> str:
    """The id of the run named by ``text``: its id, a unique id prefix, or its name."""
    candidates = store.run_candidates(text)
    if not candidates:
        raise CommandError(
            f"no run with id, id prefix or name {text!r} in {store.path}; "
            "list runs with `sapdi-local runs`"
        )
    if len(candidates) > 1:
        listed = "; ".join(f"{run_id} ({name}, {coll})" for run_id, name, coll in candidates[:10])
        more = f" and {len(candidates) - 10} more" if len(candidates) > 10 else ""
        raise CommandError(
            f"{text!r} names {len(candidates)} runs: {listed}{more}; give more of the id"
        )
    return candidates[0][0]


def load_run(store: ReadOnlyStore, text: str) -> tuple[Run, RunRecord]:
    run_id = resolve_run(store, text)
    record = store.select_runs(RunFilter(runs=(run_id,)))[0]
    return run_from_record(record), record


def parse_since(text: str) -> datetime:
    """``2026-11-01``, ``2026-11-01T12:00`` (UTC unless a zone is given), or an age:
    ``30m``, ``12h``, ``7d``."""
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if text[-1:] in units and text[:-1].isdigit():
        age = timedelta(**{units[text[-1]]: int(text[:-1])})
        return datetime.now(timezone.utc) - age
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a date (2026-11-01, 2026-11-01T12:00) or an age (30m, 12h, 7d)",
            param_hint="--since",
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


# ---------------------------------------------------------------- the command


@click.group(cls=TrackingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sapdi-local")
@db_option
def main(db: Path | None) -> None:
    """Look at, compare, gate on, submit, export and merge tracked runs.

    Every command takes --db PATH (default: $SAPDI_LOCAL_DB, else the file the SDK
    writes); commands that print data take --json.

    \b
    Example:
      sapdi-local runs --scenario churn --metric accuracy
    """


@main.command()
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
        click.echo(tabulate(rows, tablefmt="plain", disable_numparse=True))


@main.command()
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
        found = [c for c in store.collections() if scenario is None or c["scenario"] == scenario]
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


@main.command()
@click.option("--collection", help="Only runs in this collection.")
@click.option("--scenario", help="Only runs of this scenario.")
@click.option("--notebook", help="Only runs made by this notebook.")
@click.option("--pipeline", help="Only runs made by this pipeline or script.")
@click.option(
    "--status", type=click.Choice(STATUSES, case_sensitive=False), help="Only this status."
)
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Only runs with this tag.")
@click.option("--since", help="Runs started since: 2026-11-01, 2026-11-01T12:00, 30m, 12h, 7d.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--metric", "metrics", multiple=True, help="Add a column with this metric's value.")
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
    db: Path | None,
    as_json: bool,
) -> None:
    """List runs, newest first (start times in UTC).

    \b
    Example:
      sapdi-local runs --collection baseline --tag dataset=v2 --metric accuracy
    """
    tag_pairs = tuple(key_value(text, "--tag") for text in tags)
    start_after = None if since is None else parse_since(since)
    selection = RunFilter(
        scenarios=None if scenario is None else (scenario,),
        notebooks=None if notebook is None else (notebook,),
        pipelines=None if pipeline is None else (pipeline,),
        tags=tag_pairs,
    )
    with reader(db) as store:
        found = [run_from_record(record) for record in store.select_runs(selection)]
    found = [
        run
        for run in found
        if (collection is None or collection in (run.collection, run.collection_display_name))
        and (status is None or run.status == status.upper())
        and (start_after is None or (run.start_time is not None and run.start_time >= start_after))
    ][:limit]
    if as_json:
        print_json([{**run.to_dict(), "duration": duration_seconds(run)} for run in found])
        return
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
    click.echo(table(headers, rows, elastic=(1, 2)))


@main.command()
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
        found, _ = load_run(store, run)
        stats = store.metric_stats(found.id)
    if as_json:
        print_json({**found.to_dict(), "duration": duration_seconds(found), "metric_stats": stats})
        return
    context = [
        ("run", found.id),
        ("name", found.name),
        ("collection", collection_label(found)),
        ("status", found.status),
        ("scenario", f"{found.scenario} (version {found.scenario_version})"),
        ("notebook" if found.notebook else "pipeline", found.notebook or found.pipeline),
        ("execution", found.execution),
        ("start (UTC)", moment(found.start_time)),
        ("end (UTC)", moment(found.end_time)),
        ("duration", duration(duration_seconds(found))),
    ]
    click.echo(tabulate(context, tablefmt="plain", disable_numparse=True))
    user_parameters = {k: v for k, v in found.parameters.items() if k not in ("start", "end")}
    user_tags = {k: v for k, v in found.tags.items() if k != "runName"}
    labels = {k: json.dumps(v) for k, v in found.labels.items()}
    for title, pairs in (("parameters", user_parameters), ("tags", user_tags), ("labels", labels)):
        click.echo(f"\n{title}")
        click.echo(
            table(("name", "value"), sorted(pairs.items()), elastic=(1, 0)) if pairs else "  (none)"
        )
    click.echo("\nmetrics")
    rows = [
        (name, number(s["last"]), s["count"], number(s["min"]), number(s["max"]))
        for name, s in stats.items()
    ]
    click.echo(
        table(("name", "last", "count", "min", "max"), rows, elastic=(0,)) if rows else "  (none)"
    )


@main.command()
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
    with reader(db) as store:
        found = [load_run(store, text) for text in runs_named]
    fields: list[tuple[str, str, list[str | None]]] = []
    for kind, values in (
        ("parameter", [record.parameters for _, record in found]),
        ("metric", [{k: number(v) for k, v in run.metrics.items()} for run, _ in found]),
    ):
        for name in sorted(set().union(*values)):
            fields.append((kind, name, [each.get(name) for each in values]))
    if as_json:
        print_json(
            {
                "runs": [{"id": run.id, "name": run.name} for run, _ in found],
                "fields": [
                    {"kind": kind, "name": name, "values": values, "differs": len(set(values)) > 1}
                    for kind, name, values in fields
                ],
            }
        )
        return
    headers = ("", "field", *(run.name or run.id for run, _ in found))
    rows = [
        (
            "*" if len(set(values)) > 1 else "",
            f"{kind[0]}: {name}",
            *("-" if value is None else value for value in values),
        )
        for kind, name, values in fields
    ]
    click.echo(table(headers, rows, elastic=range(1, len(headers))))


@main.command()
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
        found, _ = load_run(store, run)
        if metric not in found.metrics:
            known = ", ".join(sorted(found.metrics)) or "none"
            raise CommandError(f"run {found.id} has no metric {metric!r}; its metrics: {known}")
        values = store.metric_history(found.id, [metric])[metric]
    if as_json:
        print_json(
            {
                "run_id": found.id,
                "name": metric,
                "values": [{"value": v, "step": s, "timestamp": t} for v, s, t in values],
            }
        )
        return
    if plot:
        click.echo(chart(metric, values))
        return
    rows = [
        ("" if step is None else step, number(value), moment(utc_from_seconds(stamp)))
        for value, step, stamp in values
    ]
    click.echo(table(("step", metric, "time (UTC)"), rows))


def chart(metric: str, values: Sequence[tuple[float, int | None, float]]) -> str:
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
    title = f"{metric}: {len(values)} values"
    return str(plot_to_string(ys, xs=xs, title=title, width=60, height=10, lines=True))


# ---------------------------------------------------------------- submit


def metric_number(name: str, value: object) -> float:
    """A Submit Metrics value: a number, or a string holding one."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise CommandError(
                f"metric {name!r}: {value!r} is not a number; give numbers or numeric strings, "
                'for example RMSE=0.31 or {"RMSE": "0.31"}'
            ) from None
    return check_metric_value(check_name("metric name", name), value)


def read_payload(text: str) -> dict[str, Any]:
    """The Submit Metrics operator's payload: a flat JSON object of name to number."""
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise CommandError(
            f"stdin is not JSON ({error}); expected an object such as "
            '{"RMSE": "0.31", "n": "1200"}'
        ) from None
    if not isinstance(payload, dict):
        raise CommandError(
            f"stdin holds a JSON {type(payload).__name__}; expected an object of metric name to "
            'number, such as {"RMSE": "0.31", "n": "1200"}'
        )
    return payload


@main.command()
@click.argument("pairs", metavar="[NAME=VALUE]...", nargs=-1)
@click.option("--run", "run_named", help="Log into this existing run (id, id prefix or name).")
@click.option("--run-collection", help="Collection of the new run (or move --run there).")
@click.option("--run-name", help="Name of the new run (or rename --run).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Log a parameter.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Set a tag.")
@db_option
@json_option
def submit(
    pairs: tuple[str, ...],
    run_named: str | None,
    run_collection: str | None,
    run_name: str | None,
    params: tuple[str, ...],
    tags: tuple[str, ...],
    db: Path | None,
    as_json: bool,
) -> None:
    """Log metrics from a shell or CI step and print the run id.

    Metrics come as NAME=VALUE arguments or, without them, as a JSON object on stdin
    (the Submit Metrics operator's payload, values numbers or numeric strings). Without
    --run a new run is started and ended.

    \b
    Examples:
      sapdi-local submit RMSE=0.31 n=1200 --run-collection nightly --param model=xgb
      echo '{"RMSE": "0.31", "n": "1200"}' | sapdi-local submit --run-name ci-42
    """
    from .sdk import MLTrackingSDK  # the SDK only here: reading commands never need it

    raw = (
        dict(key_value(text, "NAME=VALUE") for text in pairs)
        if pairs
        else read_payload(sys.stdin.read())
    )
    metrics = {name: metric_number(name, value) for name, value in raw.items()}
    parameters = dict(check_parameter(*key_value(text, "--param")) for text in params)
    tag_values = dict(check_tag(*key_value(text, "--tag")) for text in tags)
    path = database(db)
    sdk = MLTrackingSDK(db_path=path)
    try:
        if run_named is None:
            run_id = sdk.start_run(run_collection_name=run_collection, run_name=run_name).id
        else:
            with reader(path) as store:
                run_id = resolve_run(store, run_named)
            if run_collection or run_name:
                sdk.update_run_info(
                    run=run_id, run_name=run_name, run_collection_name=run_collection
                )
        if parameters:
            sdk.log_parameters(parameters, run=run_id)
        if tag_values:
            sdk.set_tags(tag_values, run=run_id)
        if metrics:
            sdk.log_metrics(metrics, run=run_id)
        if run_named is None:
            sdk.end_run()
        else:
            sdk.persist_run()
    finally:
        sdk.close()
    if as_json:
        print_json({"run_id": run_id, "metrics": metrics})
    else:
        click.echo(run_id)


# ---------------------------------------------------------------- check


@main.command()
@click.argument("run")
@click.option("--metric", required=True, help="The metric to check.")
@click.option("--min", "minimum", type=float, help="Fail when the value is below this.")
@click.option("--max", "maximum", type=float, help="Fail when the value is above this.")
@click.option("--baseline", help="Fail when worse than this run's value by more than --tolerance.")
@click.option("--tolerance", type=click.FloatRange(min=0), default=0.0, show_default=True)
@click.option("--lower-is-better", is_flag=True, help="With --baseline: smaller values are better.")
@db_option
@json_option
def check(
    run: str,
    metric: str,
    minimum: float | None,
    maximum: float | None,
    baseline: str | None,
    tolerance: float,
    lower_is_better: bool,
    db: Path | None,
    as_json: bool,
) -> None:
    """Exit 1 when a run's metric is outside the bounds, 0 when inside: a CI gate.

    \b
    Examples:
      sapdi-local check ci-42 --metric accuracy --min 0.9
      sapdi-local check ci-42 --metric rmse --baseline main --tolerance 0.01 --lower-is-better
    """
    if minimum is None and maximum is None and baseline is None:
        raise click.UsageError("give --min, --max or --baseline")
    with reader(db) as store:
        found, _ = load_run(store, run)
        value = metric_of(found, metric)
        reference = None if baseline is None else metric_of(load_run(store, baseline)[0], metric)
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
    label = f"{metric} = {number(value)} in run {found.name} ({found.id[:8]})"
    if as_json:
        print_json(
            {
                "run_id": found.id,
                "metric": metric,
                "value": value,
                "baseline": reference,
                "ok": not failures,
                "failures": failures,
            }
        )
    elif failures:
        click.echo(f"FAIL: {label} is {' and '.join(failures)}", err=True)
    else:
        click.echo(f"OK: {label}")
    if failures:
        sys.exit(EXIT_CHECK_FAILED)


def metric_of(run: Run, metric: str) -> float:
    if metric not in run.metrics:
        known = ", ".join(sorted(run.metrics)) or "none"
        raise CommandError(f"run {run.id} has no metric {metric!r}; its metrics: {known}")
    return run.metrics[metric]


# ---------------------------------------------------------------- export and merge


@main.command()
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
@db_option
@json_option
def export(
    out: Path,
    fmt: str,
    scenario: str | None,
    collection: str | None,
    run_names: tuple[str, ...],
    db: Path | None,
    as_json: bool,
) -> None:
    """Export runs: a consistent database copy (safe while runs are written), or CSV or JSON.

    \b
    Examples:
      sapdi-local export share.db --scenario churn
      sapdi-local export results/ --format csv --collection baseline
      sapdi-local export results.json --format json --run 3f2a
    """
    with reader(db) as store:
        selected = select_for_export(store, scenario, collection, run_names)
        if fmt == "db":
            export_database(store, out, None if selected is None else [r.id for r in selected])
            if as_json:
                runs = store.counts()["runs"] if selected is None else len(selected)
                print_json({"format": fmt, "files": [str(out)], "runs": runs})
            else:
                click.echo(f"copied {store.path} to {out}")
            return
        chosen = selected if selected is not None else all_runs(store)
        histories = read_histories(store, chosen)
    if fmt == "csv":
        write_csv(out, chosen, histories)
        written = [out / "runs.csv", out / "metrics.csv"]
        message = f"wrote {plural(len(chosen), 'run')} to {written[0]} and {written[1]}"
    else:
        document = {
            "runs": [run.to_dict() for run in chosen],
            "metrics": [
                {"run_id": run_id, "name": name, "values": values}
                for run_id, metrics in histories.items()
                for name, values in metrics.items()
            ],
        }
        out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        written = [out]
        message = f"wrote {plural(len(chosen), 'run')} to {out}"
    if as_json:
        print_json({"format": fmt, "files": [str(path) for path in written], "runs": len(chosen)})
    else:
        click.echo(message)


def all_runs(store: ReadOnlyStore) -> list[Run]:
    return [run_from_record(record) for record in store.select_runs(RunFilter())]


def select_for_export(
    store: ReadOnlyStore, scenario: str | None, collection: str | None, run_names: Sequence[str]
) -> list[Run] | None:
    """The runs to export, or None for all of them."""
    if scenario is None and collection is None and not run_names:
        return None
    ids = tuple(resolve_run(store, text) for text in run_names) if run_names else None
    selection = RunFilter(scenarios=None if scenario is None else (scenario,), runs=ids)
    return [
        run
        for run in map(run_from_record, store.select_runs(selection))
        if collection is None or collection in (run.collection, run.collection_display_name)
    ]


def export_database(store: ReadOnlyStore, out: Path, keep: list[str] | None) -> None:
    bar = click.progressbar(length=1, label="copying", file=sys.stderr)
    with bar:

        def advance(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        store.export_copy(out, keep_runs=keep, progress=advance)


def read_histories(
    store: ReadOnlyStore, chosen: Sequence[Run]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    histories: dict[str, dict[str, list[dict[str, Any]]]] = {}
    with click.progressbar(chosen, label="reading histories", file=sys.stderr) as bar:
        for run in bar:
            stored = store.metric_history(run.id, None)
            histories[run.id] = {
                name: [{"value": v, "step": s, "timestamp": t} for v, s, t in rows]
                for name, rows in stored.items()
            }
    return histories


def write_csv(
    folder: Path, chosen: Sequence[Run], histories: dict[str, dict[str, list[dict[str, Any]]]]
) -> None:
    """runs.csv: one row per run, parameters as ``param.NAME``, tags as ``tag.NAME`` and last
    metric values as ``metric.NAME`` columns; metrics.csv: one row per stored value."""
    folder.mkdir(parents=True, exist_ok=True)
    base = [
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
    ]
    extra = sorted(
        {f"param.{k}" for run in chosen for k in run.parameters if k not in ("start", "end")}
        | {f"tag.{k}" for run in chosen for k in run.tags if k != "runName"}
        | {f"metric.{k}" for run in chosen for k in run.metrics}
    )
    with (folder / "runs.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*base, *extra])
        writer.writeheader()
        for run in chosen:
            data = run.to_dict()
            row = {column: data[column] for column in base}
            row.update({f"param.{k}": v for k, v in run.parameters.items()})
            row.update({f"tag.{k}": v for k, v in run.tags.items()})
            row.update({f"metric.{k}": v for k, v in run.metrics.items()})
            writer.writerow({column: row.get(column, "") for column in [*base, *extra]})
    with (folder / "metrics.csv").open("w", newline="") as handle:
        rows = csv.writer(handle)
        rows.writerow(["run_id", "metric", "step", "value", "timestamp"])
        for run_id, metrics in histories.items():
            for name, values in metrics.items():
                for item in values:
                    rows.writerow([run_id, name, item["step"], item["value"], item["timestamp"]])


@main.command()
@click.argument("other", type=click.Path(dir_okay=False, path_type=Path))
@db_option
@json_option
def merge(other: Path, db: Path | None, as_json: bool) -> None:
    """Bring in another database's runs that this one lacks, with everything they hold.

    Merging the same file twice adds nothing. A run present in both with different
    content is reported as a conflict and left as it is here.

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
    click.echo(
        f"added {plural(len(report.added), 'run')}, {len(report.unchanged)} already here, "
        f"{plural(len(report.conflicts), 'conflict')}"
    )
    for run_id in report.conflicts:
        click.echo(f"conflict: run {run_id} differs here and in {other}; left unchanged")


# ---------------------------------------------------------------- delete and gc


@main.command()
@click.option("--scenario", help="Scenario id, or several comma-separated (alone).")
@click.option("--scenario-version", help="Scenario version.")
@click.option("--pipeline", help="Pipeline name.")
@click.option("--execution", help="Execution id.")
@click.option("--notebook", help="Notebook name (needs --scenario or --run).")
@click.option("--run", "runs_named", multiple=True, help="A run: id, id prefix or name.")
@click.option("--yes", is_flag=True, help="Delete without asking.")
@db_option
@json_option
def delete(
    scenario: str | None,
    scenario_version: str | None,
    pipeline: str | None,
    execution: str | None,
    notebook: str | None,
    runs_named: tuple[str, ...],
    yes: bool,
    db: Path | None,
    as_json: bool,
) -> None:
    """Delete runs and everything logged to them, after showing them and asking.

    The selectors and their rules are those of delete_runs: at least one; --notebook
    needs --scenario or --run; several scenarios at once take --scenario alone.

    \b
    Examples:
      sapdi-local delete --run lr-0.01
      sapdi-local delete --scenario churn --notebook explore.ipynb --yes
    """
    from .sdk import MLTrackingSDK  # the SDK only here: reading commands never need it

    path = database(db)
    with reader(path) as store:
        run_ids = [resolve_run(store, text) for text in runs_named] or None
        selectors = (scenario, scenario_version, pipeline, execution, notebook, run_ids)
        chosen = [run_from_record(r) for r in store.select_runs(delete_filter(*selectors))]
    if not chosen:
        if as_json:
            print_json({"deleted": 0, "runs": []})
        else:
            click.echo("no run matches; nothing deleted")
        return
    if not as_json:
        rows = [[r.id[:8], r.name, collection_label(r), r.status] for r in chosen]
        click.echo(table(["id", "name", "collection", "status"], rows, elastic=(1, 2)))
    if not yes:
        click.confirm(f"Delete {plural(len(chosen), 'run')}?", abort=True, err=True)
    sdk = MLTrackingSDK(db_path=path)
    try:
        deleted = sdk.delete_runs(*selectors)
    finally:
        sdk.close()
    if as_json:
        print_json({"deleted": deleted, "runs": [r.id for r in chosen]})
    else:
        click.echo(f"deleted {plural(deleted, 'run')}")


@main.command()
@db_option
@json_option
def gc(db: Path | None, as_json: bool) -> None:
    """Give back the space of deleted runs and trimmed histories (VACUUM), under the lock.

    \b
    Example:
      sapdi-local gc
    """
    store = Store(database(db))
    try:
        before, after = store.vacuum()
    finally:
        store.close()
    if as_json:
        print_json({"bytes_before": before, "bytes_after": after})
    else:
        click.echo(f"{size_text(before)} before, {size_text(after)} after")
