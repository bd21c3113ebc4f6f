"""What the commands of ``sapdi-local`` share: options, errors, tables and run lookup.

Text for people goes through ``table``, ``pairs``, ``line`` or ``CommandError``, which show
names and values literally (``display.printable``); ``--json`` output is exact.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import click

from .display import cut, display_width, printable, quoted, wrap
from .model import Run
from .paths import resolve_db_path
from .records import run_from_record
from .store import ReadOnlyStore, RunFilter

EXIT_ERROR = 2  # bad input or storage trouble: click's exit code for usage errors
EXIT_CHECK_FAILED = 1  # a gated metric is out of bounds
WIDTH = 80  # tables fit a classic terminal
MIN_TEXT = 10  # free text (names, collections) narrows to no less than this
MIN_HEADER = 6  # a header wraps to no less than this
GAP = 2  # spaces between columns
MAX_LIMIT = 100_000  # runs --limit: at most this many runs, as a search gives at once
MAX_REPEATED = 100  # a repeated filter or column option (--tag, --metric): at most this often
MAX_COMPARED = 1000  # runs compared at once
F = TypeVar("F", bound=Callable[..., Any])


class CommandError(click.ClickException):
    """A one-line error for the user, shown as "Error: ..." with exit code 2."""

    exit_code = EXIT_ERROR

    def format_message(self) -> str:
        # Line by line: a search error's caret sits on a line of its own under the text.
        return "\n".join(printable(line) for line in self.message.split("\n"))


def nonblank_where(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A --where that is given must say something: an empty one would select every run
    (and ``delete --where "$FILTER"`` with an unset variable would delete them all)."""
    if value is not None and not value.strip():
        raise click.BadParameter(
            'is empty; give an expression such as "metrics.accuracy > 0.9", or leave --where out',
            param_hint="--where",
        )
    return value


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


@dataclass
class Column:
    """A column of a table for people: its header lines, its cells and how it may narrow."""

    header: list[str]
    cells: list[str]
    shrink: str  # "cut" (an ellipsis ends a cell), "wrap" (over lines) or "" (never)
    right: bool  # numbers align right

    def natural(self) -> int:
        return max(display_width(text) for text in [*self.header, *self.cells, "-"])

    def least(self) -> int:
        """How narrow it may get: never narrower than a number in it, nor than any cell
        when it does not shrink; free text to MIN_TEXT, a header to MIN_HEADER (it wraps)."""
        kept = [display_width(c) for c in self.cells if not self.shrink or is_number(c)]
        text = min(self.natural(), MIN_TEXT) if self.shrink else 0
        header = min(max(map(display_width, [*self.header, ""])), MIN_HEADER)
        return max([1, text, header, *kept])

    def lines(self, cell: str, width: int) -> list[str]:
        if self.shrink == "cut" and not is_number(cell):
            return [cut(cell, width)]
        if self.shrink == "wrap" and not is_number(cell):
            return wrap(cell, width)
        return [cell]


def table(
    headers: Sequence[str | Sequence[str]],
    rows: Sequence[Sequence[Any]],
    *,
    elastic: Iterable[int] = (),
    wrapped: Iterable[int] = (),
    optional: Sequence[int] = (),
    keys: Sequence[int] = (0,),
    width: int = WIDTH,
) -> str:
    """An aligned table that fits ``width`` columns of a terminal, every value readable.

    Only free text narrows: the cells of the ``elastic`` columns are cut (an ellipsis ends
    them), those of the ``wrapped`` columns go over several lines; a number is never cut,
    and other columns keep their width. Headers wrap. If the table still does not fit, the
    ``optional`` columns are left out in their order, with a note, when that makes it fit;
    else it is printed in blocks that fit, each repeating the ``keys`` columns. A header of
    several lines is given as a sequence of them."""
    cells = [["" if cell is None else printable(str(cell)) for cell in row] for row in rows]
    cut_columns, wrap_columns = set(elastic), set(wrapped)
    columns = [
        Column(
            [printable(header)] if isinstance(header, str) else [printable(h) for h in header],
            [row[index] for row in cells],
            "cut" if index in cut_columns else "wrap" if index in wrap_columns else "",
            bool(cells) and all(is_number(row[index]) for row in cells if row[index]),
        )
        for index, header in enumerate(headers)
    ]
    shown = list(range(len(columns)))
    left_out: list[int] = []
    least = [column.least() for column in columns]
    if _least_width(least, shown) > width:
        fewer = [index for index in shown if index not in optional]
        if _least_width(least, fewer) <= width:
            for index in optional:
                shown.remove(index)
                left_out.append(index)
                if _least_width(least, shown) <= width:
                    break
    blocks = _blocks(least, shown, [index for index in keys if index in shown], width)
    text = "\n\n".join(_lay_out([columns[index] for index in block], width) for block in blocks)
    if left_out:
        names = ", ".join(" ".join(columns[index].header) for index in left_out)
        note = f"(not shown, to fit {width} columns: {names}; --json gives every field)"
        text += "".join("\n" + part.rstrip() for part in wrap(note, width))
    return text


def _least_width(least: Sequence[int], shown: Sequence[int]) -> int:
    return sum(least[index] for index in shown) + GAP * (len(shown) - 1)


def _blocks(least: Sequence[int], shown: list[int], keys: list[int], width: int) -> list[list[int]]:
    """The columns of each block: all in one when they fit, else the keys and as many of the
    others, in order, as fit beside them (at least one)."""
    if _least_width(least, shown) <= width:
        return [shown]
    others = [index for index in shown if index not in keys]
    blocks: list[list[int]] = []
    for index in others:
        if blocks and _least_width(least, [*keys, *blocks[-1], index]) <= width:
            blocks[-1].append(index)
        else:
            blocks.append([index])
    # As many blocks, of sizes as even as fit: 3 and 2 columns rather than 4 and 1.
    size = -(-len(others) // len(blocks))
    even = [others[start : start + size] for start in range(0, len(others), size)]
    if len(even) == len(blocks) and all(
        _least_width(least, [*keys, *block]) <= width for block in even
    ):
        blocks = even
    return [sorted([*keys, *block]) for block in blocks]


def _lay_out(columns: Sequence[Column], width: int | None, header: bool = True) -> str:
    """The columns side by side, two spaces apart; the widest of those that may narrow
    narrows first until the lines fit ``width`` (None: as wide as they are)."""
    widths = [column.natural() for column in columns]
    least = [column.least() for column in columns]
    while width is not None and sum(widths) + GAP * (len(widths) - 1) > width:
        narrower = [index for index, size in enumerate(widths) if size > least[index]]
        if not narrower:
            break
        widths[max(narrower, key=lambda index: widths[index])] -= 1
    lines: list[str] = []
    if header:
        heads = [
            [part for text in c.header for part in wrap(text, w)]
            for c, w in zip(columns, widths, strict=True)
        ]
        lines += _row_lines(columns, widths, heads)
        lines.append("  ".join("-" * size for size in widths))
    for row in range(len(columns[0].cells) if columns else 0):
        parts = [c.lines(c.cells[row], w) for c, w in zip(columns, widths, strict=True)]
        lines += _row_lines(columns, widths, parts)
    return "\n".join(lines)


def _row_lines(
    columns: Sequence[Column], widths: Sequence[int], parts: list[list[str]]
) -> list[str]:
    """One row of cells, each given as its lines, padded to the widths."""
    height = max(len(lines) for lines in parts)
    return [
        "  ".join(
            _pad(lines[at] if at < len(lines) else "", size, column.right)
            for column, size, lines in zip(columns, widths, parts, strict=True)
        ).rstrip()
        for at in range(height)
    ]


def _pad(text: str, width: int, right: bool) -> str:
    room = " " * max(width - display_width(text), 0)
    return room + text if right else text + room


def pairs(rows: Sequence[tuple[str, Any]], *, width: int | None = WIDTH) -> str:
    """Names and values in two aligned columns, without a header; values that would pass
    ``width`` wrap (None: they never do)."""
    names = [printable(name) for name, _ in rows]
    values = ["" if value is None else printable(str(value)) for _, value in rows]
    columns = [Column([], names, "", False), Column([], values, "wrap", False)]
    return _lay_out(columns, width, header=False)


def line(text: str) -> None:
    """Print one line for people: names and values in it shown literally."""
    click.echo(printable(text))


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


AGE = re.compile(r"([0-9]+)([mhd])")  # ASCII digits only: str.isdigit takes "²" too
AGE_MINUTES = {"m": 1, "h": 60, "d": 1440}
MAX_AGE_MINUTES = 36_525 * 1440  # --since takes ages up to 100 years
SINCE_FORMS = "a date (2026-11-01, 2026-11-01T12:00) or an age (30m, 12h, 7d)"


def parse_since(text: str) -> datetime:
    """``2026-11-01``, ``2026-11-01T12:00`` (UTC unless a zone is given), or an age:
    ``30m``, ``12h``, ``7d`` in ASCII digits, up to 100 years. Anything else or a longer
    age is a ``click.BadParameter`` naming ``--since``. Every date ``datetime`` takes (years
    1 to 9999) gives a time to compare with."""
    age = AGE.fullmatch(text)
    if age is not None:
        digits, unit = age.groups()
        minutes = int(digits) * AGE_MINUTES[unit] if len(digits) <= 9 else MAX_AGE_MINUTES + 1
        if minutes > MAX_AGE_MINUTES:
            raise click.BadParameter(
                f"{quoted(text)} is more than 100 years; give a shorter age or a date",
                param_hint="--since",
            )
        return datetime.now(timezone.utc) - timedelta(minutes=minutes)
    try:
        when = datetime.fromisoformat(text) if text.isascii() else None
    except ValueError:
        when = None
    if when is None:
        raise click.BadParameter(f"{quoted(text)} is not {SINCE_FORMS}", param_hint="--since")
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


# ---------------------------------------------------------------- numbers on the command line


class WholeNumber(click.IntRange):
    """A whole number from ``minimum`` to ``maximum`` in ASCII digits: click's INT also
    takes other digits ("١٢"), signs, spaces, underscores and numbers of any size."""

    def __init__(self, minimum: int, maximum: int) -> None:
        super().__init__(min=minimum, max=maximum)
        self.minimum, self.maximum = minimum, maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value)
        digits = text.isascii() and text.isdigit() and len(text) <= len(str(self.maximum))
        if not digits or not self.minimum <= int(text) <= self.maximum:
            self.fail(
                f"{quoted(text)} is not a whole number from {self.minimum} to {self.maximum}; "
                "give one in digits 0-9",
                param,
                ctx,
            )
        return int(text)


def at_most(limit: int, option: str, values: Sequence[str]) -> None:
    """Refuse more than ``limit`` values of a repeated option (a click.BadParameter)."""
    if len(values) > limit:
        raise click.BadParameter(
            f"given {len(values):,} times; give it at most {limit} times", param_hint=option
        )


class FiniteNumber(click.types.FloatParamType):
    """A finite number, at least ``minimum`` if given: never nan or an infinity, which no
    comparison fails."""

    def __init__(self, minimum: float | None = None) -> None:
        self.minimum = minimum

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            parsed = float(value)
        except (TypeError, ValueError):
            parsed = math.nan
        if not math.isfinite(parsed):
            self.fail(
                f"{quoted(str(value))} is not a finite number; give a finite number", param, ctx
            )
        if self.minimum is not None and parsed < self.minimum:
            self.fail(
                f"{quoted(str(value))} is below {self.minimum:g}; give a number of at least "
                f"{self.minimum:g}",
                param,
                ctx,
            )
        return parsed
