"""What the commands of ``sapdi-local`` share: options, errors, tables and run lookup.

Text for people goes through ``table``, ``pairs``, ``line`` or ``CommandError``, which show
names and values literally (``display.printable``); ``--json`` output is exact.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import click
from tabulate import tabulate  # type: ignore[import-untyped]  # tabulate ships no type hints

from .display import printable
from .model import Run
from .paths import resolve_db_path
from .sdk import run_from_record
from .store import ReadOnlyStore, RunFilter

EXIT_ERROR = 2  # bad input or storage trouble: click's exit code for usage errors
EXIT_CHECK_FAILED = 1  # a gated metric is out of bounds
WIDTH = 80  # tables fit a classic terminal
MIN_COLUMN = 6  # no column is squeezed narrower than this
HEADER_PADDING = 2  # tabulate.MIN_PADDING: room it keeps beside each header
F = TypeVar("F", bound=Callable[..., Any])


class CommandError(click.ClickException):
    """A one-line error for the user, shown as "Error: ..." with exit code 2."""

    exit_code = EXIT_ERROR

    def format_message(self) -> str:
        return printable(self.message)


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
    cells = [["" if cell is None else printable(str(cell)) for cell in row] for row in rows]
    headers = [printable(header) for header in headers]
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


def pairs(rows: Sequence[tuple[str, Any]]) -> str:
    """Names and values in two aligned columns, without a header."""
    cells = [
        (printable(name), "" if value is None else printable(str(value))) for name, value in rows
    ]
    return str(tabulate(cells, tablefmt="plain", disable_numparse=True))


def line(text: str) -> None:
    """Print one line for people: names and values in it shown literally."""
    click.echo(printable(text))


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
        listed = "; ".join(
            f"{run_id} ({name!r}, {coll!r})" for run_id, name, coll in candidates[:10]
        )
        more = f" and {len(candidates) - 10} more" if len(candidates) > 10 else ""
        raise CommandError(
            f"{text!r} names {len(candidates)} runs: {listed}{more}; give more of the id"
        )
    return candidates[0][0]


def load_run(store: ReadOnlyStore, text: str) -> Run:
    """The run named by ``text`` (see ``resolve_run``); a warning for each of its fields
    that cannot be read."""
    run_id = resolve_run(store, text)
    return run_from_record(store.select_runs(RunFilter(runs=(run_id,)))[0])


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
