"""Text for people: tables and pairs that fit the terminal, and how numbers, times and
sizes read in them. Names and values are shown literally (``display.printable``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click

from ..display import cut, display_width, printable, wrap
from ..model import Run

WIDTH = 80  # tables fit a classic terminal
MIN_TEXT = 10  # free text (names, collections) narrows to no less than this
MIN_HEADER = 6  # a header wraps to no less than this
GAP = 2  # spaces between columns

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
