"""The rules a whole run must meet to enter a database by another way than the SDK's calls:
merged from another file or imported from another tracker.

Each field is held to the rule the SDK's own call for it keeps (``validation``), and the
fields only the tracker itself writes (id, status, times, process) to the forms it writes.
A run that breaks a rule is refused whole: ``check_run_content`` raises a
``TrackingError`` naming the field, the rule and the value, and the caller skips the run
and reports why, so that nothing half-checked is ever written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import InvalidNameError, InvalidTypeError, InvalidValueError
from .validation import (
    HISTORY_WINDOW,
    MAX_NAME_LENGTH,
    check_label,
    check_metric_value,
    check_name,
    check_parameter,
    check_tag,
    check_time_range,
    decode_label,
)

# Run ids: ours are 32 hex digits, as are MLflow's and trackio's; other trackers' ids of
# letters, digits, "-" and "_" are kept as they are.
RUN_ID_PATTERN = re.compile(r"[0-9A-Za-z_-]{1,64}")
STORED_STATUSES = ("RUNNING", "FINISHED", "FAILED", "INTERRUPTED", "TERMINATED")
_OPTIONAL_TEXT = ("scenario", "scenario_version", "notebook", "pipeline", "execution", "host")
_MAX_PID = 2**31 - 1
_INT64 = 2**63

# (seq, value, step, timestamp): one stored value of a metric.
MetricRow = tuple[Any, Any, Any, Any]


SHOWN_AS_IS = 64  # a run id's length: printable text this long is shown as it is
SHOWN_LENGTH = 40


def shown(value: object) -> str:
    """``value`` (an id or a name from another file or tracker) as a report may print it:
    printable text up to a run id's 64 characters as it is, anything else repr-escaped and
    cut.

    >>> shown("a" * 2_000_000)
    "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa..."
    """
    if isinstance(value, str) and len(value) <= SHOWN_AS_IS and value.isprintable():
        return value
    return quoted(value)


def quoted(value: object) -> str:
    """The repr of ``value`` cut to about ``SHOWN_LENGTH`` characters, made without the
    repr of a megabyte value."""
    if isinstance(value, (str, bytes)):
        value = value[: SHOWN_LENGTH + 1]
    text = repr(value)
    return text if len(text) <= SHOWN_LENGTH else text[:SHOWN_LENGTH] + "..."


def check_run_id(value: object) -> str:
    """Return ``value`` if it is a run id of the form trackers write."""
    if not isinstance(value, str) or RUN_ID_PATTERN.fullmatch(value) is None:
        text = repr(value)
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise InvalidNameError(f"run id {shown} is not 1 to 64 letters, digits, '-' or '_'")
    return value


def check_run_time(field: str, value: object) -> float | None:
    """Return a run's start or end time (Unix seconds, or None) if every reader can show it."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidTypeError(
            f"{field} is {type(value).__name__} {repr(value)[:40]}, not Unix seconds"
        )
    seconds = float(value)
    if not math.isfinite(seconds):
        raise InvalidValueError(f"{field} is {seconds!r}, not a finite number of seconds")
    return check_time_range(field, seconds)


def check_run_row(row: Mapping[str, Any]) -> None:
    """The columns of a run itself: id, names, context, status, times and process."""
    check_run_id(row.get("id"))
    check_name("run name", row.get("name"))
    check_name("run collection name", row.get("collection"))
    if row.get("collection_is_default", 0) not in (0, 1):  # True and False are 1 and 0
        raise InvalidValueError(
            f"collection_is_default is {row.get('collection_is_default')!r}, not 0 or 1"
        )
    for column in _OPTIONAL_TEXT:
        if row.get(column) is not None:
            check_name(column, row[column])
    if row.get("status") not in STORED_STATUSES:
        raise InvalidValueError(
            f"status {repr(row.get('status'))[:40]} is not one of {', '.join(STORED_STATUSES)}"
        )
    start = check_run_time("start_time", row.get("start_time"))
    end = check_run_time("end_time", row.get("end_time"))
    if start is not None and end is not None and end < start:
        raise InvalidValueError(f"end_time {end!r} is before start_time {start!r}")
    pid = row.get("pid")
    if pid is not None and (
        isinstance(pid, bool) or not isinstance(pid, int) or not 0 <= pid <= _MAX_PID
    ):
        raise InvalidValueError(f"pid {repr(pid)[:40]} is not a process id")
    started = row.get("pid_started")
    if started is not None and (not isinstance(started, str) or len(started) > MAX_NAME_LENGTH):
        raise InvalidValueError(f"pid_started {repr(started)[:40]} is not a process start time")


def check_metric_rows(name: object, rows: Sequence[MetricRow]) -> None:
    """One metric's stored values, oldest first: numbered upwards, finite, within the
    window, steps in 64 bits, timestamps within the range readers show."""
    key = check_name("metric name", name)
    if len(rows) > HISTORY_WINDOW:
        raise InvalidValueError(
            f"metric {key!r} holds {len(rows)} values; the history window keeps {HISTORY_WINDOW}"
        )
    previous = 0
    for seq, value, step, timestamp in rows:
        if isinstance(seq, bool) or not isinstance(seq, int) or seq <= previous:
            raise InvalidValueError(
                f"metric {key!r}: value number {seq!r} does not follow {previous}"
            )
        previous = seq
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidTypeError(
                f"metric {key!r} holds {type(value).__name__} {repr(value)[:40]}, not a number"
            )
        check_metric_value(key, value)
        if step is not None and (
            isinstance(step, bool) or not isinstance(step, int) or not -_INT64 <= step < _INT64
        ):
            raise InvalidValueError(
                f"metric {key!r}: step {repr(step)[:40]} is not a 64-bit integer"
            )
        check_run_time(f"timestamp of metric {key!r}", timestamp)
        if timestamp is None:
            raise InvalidValueError(f"metric {key!r} has a value without a timestamp")


def check_run_content(
    row: Mapping[str, Any],
    parameters: Mapping[str, Any],
    tags: Mapping[str, Any],
    labels: Mapping[str, Any],
    metrics: Mapping[str, Sequence[MetricRow]],
) -> None:
    """Every rule for one whole run; labels are JSON text, as stored."""
    check_run_row(row)
    for kind, pairs, check in (
        ("parameter", parameters, check_parameter),
        ("tag", tags, check_tag),
    ):
        for name, value in pairs.items():
            if not isinstance(value, str):
                raise InvalidTypeError(
                    f"{kind} {repr(name)[:40]} is stored as {type(value).__name__}, not text"
                )
            check(name, value)
    for name, text in labels.items():
        key = check_name("label key", name)
        # Decoded and encoded again: the stored text must be what set_labels would store.
        check_label(key, decode_label(key, text))
    for name, rows in metrics.items():
        check_metric_rows(name, rows)
