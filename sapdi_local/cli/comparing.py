"""The commands that put runs side by side: compare, and history (a metric's values)."""

from __future__ import annotations

from collections.abc import Sequence
from os.path import commonprefix
from pathlib import Path
from typing import Any

import click

from ..display import cut, display_width, printable, tail
from ..model import MetricValue, Run, utc_from_seconds
from ..records import (
    histories_from_rows,
)
from .common import (
    MAX_COMPARED,
    CommandError,
    at_most,
    db_option,
    json_option,
    load_run,
    print_json,
    reader,
)
from .tables import (
    GAP,
    WIDTH,
    is_number,
    moment,
    number,
    table,
)


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
