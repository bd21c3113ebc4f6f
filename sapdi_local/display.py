"""How runs and metric histories show themselves: text for a terminal, HTML for Jupyter.

``Run``, the list ``get_runs`` returns, ``MetricHistory`` and the list ``get_metrics_history``
returns call these from ``__repr__`` and ``_repr_html_``. Tables are short on purpose: a run
list shows its first rows and says how many more there are, a history its count, range and
last value, never a wall of raw dicts. tabulate (which sqlite-utils brings) lays out the text
tables and is imported only when something is shown.

Text for a terminal shows every name and value literally (``printable``): a control
character or a bidirectional override in a run name can neither move the cursor, recolour,
rewrite nor reorder what is printed around it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Types only: the model imports this module to show itself, so this one never imports
    # the model when it runs.
    from .model import MetricHistory, Run

TEXT_ROWS = 20  # runs or metrics listed in a terminal before "... and N more"
HTML_ROWS = 50
TEXT_METRIC_COLUMNS = 4  # last-value columns of a run list in a terminal
HTML_STYLE = "border-collapse:collapse;font-size:12px"
# What a terminal would act on rather than show: C0 controls (ESC, newline, carriage
# return, backspace ...), DEL, C1 controls (CSI ...), and the bidirectional embeddings,
# overrides and isolates, which reorder the text after them.
# Control characters, and the invisible ones that move or hide text: zero-width and
# directional marks, line and paragraph separators, bidi embeddings, overrides and isolates,
# the byte-order mark and the tag characters.
_NOT_SHOWN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\U000e0000-\U000e007f]"
)
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    if character in _ESCAPES:
        return _ESCAPES[character]
    code = ord(character)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` as a terminal shows it literally: control characters and bidirectional
    controls written as Python writes them in a string (ESC as the four characters
    ``\\x1b``, a newline as ``\\n``, U+202E as ``\\u202e``); other text as it is.

    >>> printable("lr\\x1b[2J\\n0.1")
    'lr\\\\x1b[2J\\\\n0.1'
    """
    if text.isprintable():  # every character this escapes is one Python calls unprintable
        return text
    return _NOT_SHOWN.sub(_escape, text)


# ---------------------------------------------------------------- width on a terminal


def display_width(text: str) -> int:
    """The columns ``text`` takes on a terminal: wide (East Asian wide and full-width)
    characters take two, combining marks and format characters none, others one.

    >>> display_width("中文 ok")
    7
    """
    if text.isascii():
        return len(text)
    return sum(_char_width(character) for character in text)


def _char_width(character: str) -> int:
    if unicodedata.combining(character) or unicodedata.category(character) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(character) in ("W", "F") else 1


def _fitting(text: str, width: int) -> int:
    """How many characters from the start of ``text`` fit ``width`` columns (at least one,
    so that a loop over pieces of text always moves on)."""
    used = 0
    for index, character in enumerate(text):
        used += _char_width(character)
        if used > width:
            return max(index, 1)
    return len(text)


def cut(text: str, width: int) -> str:
    """``text`` in ``width`` columns: whole if it fits, else its start and an ellipsis."""
    if display_width(text) <= width:
        return text
    return text[: _fitting(text, width - 1)] + "…"


def tail(text: str, width: int) -> str:
    """The end of ``text`` that fits ``width`` columns."""
    reversed_text = text[::-1]
    return reversed_text[: _fitting(reversed_text, width)][::-1]


BREAKS = " _-/.,:;"  # a wrapped line ends after one of these when one is near its end


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` columns, every character kept: a line ends
    after a space or punctuation in its second half, else where the width ends."""
    lines = []
    while display_width(text) > width:
        end = _fitting(text, width)
        after = max(text.rfind(mark, 0, end) for mark in BREAKS) + 1
        if after > end // 2:
            end = after
        lines.append(text[:end])
        text = text[end:]
    return [*lines, text]


def quoted(text: str, limit: int = 40) -> str:
    """``text`` quoted for an error message: its start only when it is long.

    >>> quoted("x" * 50, 3)
    "'xxx'… (50 characters)"
    """
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}… ({len(text):,} characters)"


# ---------------------------------------------------------------- numbers and times


def number(value: object) -> str:
    """A metric value in few characters: 6 significant digits."""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def moment(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def short_id(run_id: str) -> str:
    return run_id if len(run_id) <= 12 else run_id[:8] + "…"


def pairs_text(values: Mapping[str, Any], limit: int = 6) -> str:
    shown = [f"{key}={number(value)}" for key, value in list(values.items())[:limit]]
    more = len(values) - limit
    return ", ".join(shown) + (f", … {more} more" if more > 0 else "")


def text_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    from tabulate import tabulate  # type: ignore[import-untyped]  # tabulate ships no hints

    cells = [[printable(str(cell)) for cell in row] for row in rows]
    shown = [printable(header) for header in headers]
    return str(tabulate(cells, headers=shown, tablefmt="simple", disable_numparse=True))


def html_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], caption: str = "") -> str:
    """A plain table; every cell is escaped."""
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f"<td style='padding:2px 8px'>{escape(str(cell))}</td>" for cell in row)
        + "</tr>"
        for row in rows
    )
    title = f"<caption style='text-align:left'>{escape(caption)}</caption>" if caption else ""
    return (
        f"<table style='{HTML_STYLE}'>{title}<thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def more_line(shown: int, total: int, noun: str) -> str:
    return "" if total <= shown else f"… and {total - shown} more {noun}"


# ---------------------------------------------------------------- one run


def _user_parameters(run: Run) -> dict[str, str]:
    return {k: v for k, v in run.parameters.items() if k not in ("start", "end")}


def _user_tags(run: Run) -> dict[str, str]:
    return {k: v for k, v in run.tags.items() if k != "runName"}


def run_text(run: Run) -> str:
    """A run in a few lines; a bare reference (``Run(id=...)``) in one."""
    if all(getattr(run, field) == value for field, value in type(run)._field_defaults.items()):
        return f"Run(id={run.id!r})"
    where = f"collection {run.collection_display_name!r}, scenario {run.scenario!r}"
    lines = [f"Run {run.name!r} ({short_id(run.id)}) {run.status}, {where}"]
    if run.start_time is not None:
        lines.append(f"  started     {moment(run.start_time)} UTC")
    for label, values in (
        ("parameters", _user_parameters(run)),
        ("metrics", run.metrics),
        ("tags", _user_tags(run)),
        ("labels", run.labels),
    ):
        if values:
            lines.append(f"  {label:<11} {pairs_text(values)}")
    if run.unreadable:
        fields = ", ".join(
            item.field if item.name is None else f"{item.field} {item.name!r}"
            for item in run.unreadable
        )
        lines.append(f"  unreadable  {fields}")
    return "\n".join(printable(line) for line in lines)


def run_html(run: Run) -> str:
    rows: list[tuple[str, str]] = [
        ("id", run.id),
        ("status", run.status or ""),
        ("collection", run.collection_display_name or ""),
        ("scenario", f"{run.scenario or ''} {run.scenario_version or ''}".strip()),
        ("source", run.notebook or run.pipeline or ""),
        ("started", moment(run.start_time)),
        ("ended", moment(run.end_time)),
    ]
    rows += [(f"parameter {k}", v) for k, v in _user_parameters(run).items()]
    rows += [(f"metric {k}", number(v)) for k, v in run.metrics.items()]
    rows += [(f"tag {k}", v) for k, v in _user_tags(run).items()]
    rows += [(f"label {k}", str(v)) for k, v in run.labels.items()]
    return html_table(("field", "value"), rows, caption=f"Run {run.name or run.id}")


# ---------------------------------------------------------------- lists of runs


def _metric_names(runs: Sequence[Run]) -> list[str]:
    names: dict[str, None] = {}
    for run in runs:
        names.update(dict.fromkeys(run.metrics))
    return sorted(names)


RUN_HEADERS = ("name", "id", "status", "collection", "started (UTC)")


def _run_rows(
    runs: Sequence[Run], parameters: Sequence[str], metrics: Sequence[str]
) -> list[list[str]]:
    """A table row per run: its fields, then the given parameters and last metric values."""
    return [
        [
            run.name or "",
            short_id(run.id),
            run.status or "",
            run.collection_display_name or "",
            moment(run.start_time),
            *(run.parameters.get(p, "") for p in parameters),
            *(number(run.metrics[m]) if m in run.metrics else "" for m in metrics),
        ]
        for run in runs
    ]


def _run_count(runs: Sequence[Run]) -> str:
    return f"{len(runs)} run" + ("" if len(runs) == 1 else "s")


def runs_text(runs: Sequence[Run]) -> str:
    if not runs:
        return "no runs"
    metrics = _metric_names(runs)
    shown_metrics = metrics[:TEXT_METRIC_COLUMNS]
    rows = _run_rows(runs[:TEXT_ROWS], (), shown_metrics)
    lines = [_run_count(runs), text_table([*RUN_HEADERS, *shown_metrics], rows)]
    lines.append(more_line(TEXT_ROWS, len(runs), "runs"))
    if len(metrics) > len(shown_metrics):
        lines.append(f"(metrics not shown: {', '.join(metrics[len(shown_metrics) :])})")
    return "\n".join(line for line in lines if line)


def runs_html(runs: Sequence[Run]) -> str:
    if not runs:
        return "<p>no runs</p>"
    parameters = sorted({k for run in runs for k in _user_parameters(run)})
    metrics = _metric_names(runs)
    rows = _run_rows(runs[:HTML_ROWS], parameters, metrics)
    more = more_line(HTML_ROWS, len(runs), "runs")
    table = html_table([*RUN_HEADERS, *parameters, *metrics], rows, _run_count(runs))
    return table + (f"<p>{escape(more)}</p>" if more else "")


# ---------------------------------------------------------------- metric histories


def _summary(history: MetricHistory) -> list[str]:
    values = [v.value for v in history.values]
    steps = [v.step for v in history.values if v.step is not None]
    return [
        history.name,
        short_id(history.run_id),
        str(len(values)),
        f"{min(steps)}–{max(steps)}" if steps else "",
        number(values[-1]) if values else "",
        number(min(values)) if values else "",
        number(max(values)) if values else "",
    ]


SUMMARY_HEADERS = ("metric", "run", "values", "steps", "last", "min", "max")


def history_text(history: MetricHistory) -> str:
    name, run, count, steps, last, low, high = _summary(history)
    if count == "0":
        return f"MetricHistory {name!r} of run {run}: no values"
    return (
        f"MetricHistory {name!r} of run {run}: {count} values, steps {steps or 'none'}, "
        f"last {last}, min {low}, max {high}"
    )


def history_html(history: MetricHistory) -> str:
    return histories_html([history])


def histories_text(histories: Sequence[MetricHistory]) -> str:
    if not histories:
        return "no metric histories"
    rows = [_summary(history) for history in histories[:TEXT_ROWS]]
    more = more_line(TEXT_ROWS, len(histories), "metrics")
    return text_table(SUMMARY_HEADERS, rows) + (f"\n{more}" if more else "")


def histories_html(histories: Sequence[MetricHistory]) -> str:
    if not histories:
        return "<p>no metric histories</p>"
    rows = [_summary(history) for history in histories[:HTML_ROWS]]
    more = more_line(HTML_ROWS, len(histories), "metrics")
    return html_table(SUMMARY_HEADERS, rows) + (f"<p>{escape(more)}</p>" if more else "")
