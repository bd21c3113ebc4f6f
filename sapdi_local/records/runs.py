"""Stored runs as the API shows them: each field read by the rule the SDK keeps when it
writes it."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from functools import partial
from itertools import chain
from operator import is_not
from typing import TYPE_CHECKING, Any, NamedTuple

from ..context import process_is_gone
from ..errors import (
    InvalidValueError,
)
from ..model import (
    KILLED,
    RUNNING,
    STATUSES,
    MetricValue,
    Run,
    Unreadable,
    UnreadableFieldWarning,
    utc_from_seconds,
    utc_from_seconds_each,
)
from ..validation import (
    MAX_METRIC_VALUE,
    MAX_NAME_LENGTH,
    MAX_TIMESTAMP,
    MAX_VALUE_LENGTH,
    MIN_TIMESTAMP,
    TIME_RANGE_TEXT,
    decode_label,
)

if TYPE_CHECKING:
    from datetime import datetime

    from ..store import RunColumns, RunRecord


# ------------------------------------------------------------ reading stored runs
#
# A file edited by hand or by another tool can hold what no sapdi-local writes: a label that
# is not JSON (or JSON nested thousands deep), a time or metric value that is text, a blob
# or out of range, a status of its own, a name megabytes long. Every reader (get_runs, the
# command line, the explorer) reads a stored field by the rule the SDK keeps when it writes
# that field; a field that breaks it is left out (None, or missing from the run's
# parameters, tags, labels or metrics), named in the run's ``unreadable``, and the run is
# read all the same. A metric history leaves out each stored value whose value, step or
# timestamp breaks its rule.

_MAX = MAX_METRIC_VALUE
_STEP_LIMIT = 2**63  # steps are stored as 64-bit integers
# Rows become MetricValues without a Python call each: a history has up to 1000 per metric.
_metric_value = partial(tuple.__new__, MetricValue)

_STORED_STATUSES = tuple(status for status in STATUSES if status != KILLED)
_NAME_COLUMNS = ("name", "collection")  # a run always has these
_OPTIONAL_NAME_COLUMNS = (
    "scenario",
    "scenario_version",
    "notebook",
    "pipeline",
    "execution",
    "host",
    "pid_started",
)
_TIME_COLUMNS = ("start_time", "end_time")
_MAX_PID = 2**31 - 1
_FLOAT_ONLY = frozenset((float,))
_TEXT_ONLY = frozenset((str,))
_INT_ONLY = frozenset((int,))
_DEFAULT_FLAGS = frozenset((0, 1))
_STATUS_SET = frozenset(_STORED_STATUSES)
_NOT_NONE = partial(is_not, None)
_STEP_TYPES = frozenset((int, type(None)))


class StoredRun(NamedTuple):
    """A stored run as read: each field that cannot be read is None in ``row`` or left out
    of the maps, and named in ``unreadable``; labels are decoded."""

    row: dict[str, Any]
    parameters: dict[str, str]
    tags: dict[str, str]
    labels: dict[str, Any]
    metrics: dict[str, float]
    unreadable: tuple[Unreadable, ...]


def described(value: object) -> str:
    """A stored value in a few words, for a message: its kind, and its start if it is text."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return f"a blob of {len(value):,} byte" + ("" if len(value) == 1 else "s")
    if isinstance(value, str):
        if len(value) <= 40:
            return f"text {value!r}"
        return f"text of {len(value):,} characters ({value[:20]!r}…)"
    return f"{type(value).__name__} {value!r}"[:60]


def name_problem(value: object) -> str | None:
    """Why a stored name (of a run, a collection, a parameter, tag, label or metric) is not
    one sapdi-local writes; None if it is."""
    if isinstance(value, str) and 0 < len(value) <= MAX_NAME_LENGTH:
        return None if "\x00" not in value else "text holding a NUL character"
    if not isinstance(value, str):
        return f"{described(value)}, not text"
    if not value:
        return "empty"
    return f"{len(value):,} characters long; names have at most {MAX_NAME_LENGTH}"


def readable_names(names: Sequence[object], left_out: Sequence[str] = ()) -> list[str]:
    """The names, of parameters, tags or metrics, that a run read through the API can show:
    text the SDK would have written, except ``left_out`` (a name that cannot be read is left
    out of the runs too, each run naming it in its ``unreadable``)."""
    return [
        name
        for name in names
        if isinstance(name, str) and name_problem(name) is None and name not in left_out
    ]


def number_problem(value: object) -> str | None:
    """Why a stored metric value is not one sapdi-local writes; None if it is."""
    if isinstance(value, (float, int)) and not isinstance(value, bool):
        if -_MAX <= value <= _MAX:
            return None
        return f"{value!r}, not a finite number"
    return f"{described(value)}, not a number"


def time_problem(value: object) -> str | None:
    """Why a stored time (Unix seconds, or NULL) is not one every reader can show; None if
    it is."""
    if value is None:
        return None
    if isinstance(value, (float, int)) and not isinstance(value, bool):
        if MIN_TIMESTAMP <= value <= MAX_TIMESTAMP:
            return None
        return f"{value!r} Unix seconds, outside {TIME_RANGE_TEXT}"
    return f"{described(value)}, not Unix seconds"


def _text_value(kind: str, name: str, value: object) -> str:
    if isinstance(value, str):
        if len(value) <= MAX_VALUE_LENGTH:
            return value
        raise InvalidValueError(
            f"{kind} {name!r} has a value of {len(value):,} characters; values have at most "
            f"{MAX_VALUE_LENGTH}"
        )
    raise InvalidValueError(f"{kind} {name!r} is {described(value)}, not text")


def _metric_number(kind: str, name: str, value: object) -> float:
    problem = number_problem(value)
    if problem is not None:
        raise InvalidValueError(f"{kind} {name!r} is {problem}")
    return float(value)  # type: ignore[arg-type]  # a number: number_problem said so


def _label_value(kind: str, name: str, value: object) -> object:
    return decode_label(name, value)


# Checks of many stored names or values at once, without a Python call per item: a list
# of 10,000 runs reads 100,000 of them.
def _names_readable(names: Collection[Any]) -> bool:
    return (
        _TEXT_ONLY.issuperset(map(type, names))
        and all(names)  # none empty
        and max(map(len, names), default=0) <= MAX_NAME_LENGTH
        and "\x00" not in "".join(names)
    )


def _texts_readable(values: Collection[Any]) -> bool:
    return (
        _TEXT_ONLY.issuperset(map(type, values))
        and max(map(len, values), default=0) <= MAX_VALUE_LENGTH
    )


def _numbers_readable(values: Collection[Any]) -> bool:
    return _FLOAT_ONLY.issuperset(map(type, values)) and (
        not values or (min(values) >= -_MAX and max(values) <= _MAX)
    )


def _times_readable(values: Collection[Any]) -> bool:
    return _FLOAT_ONLY.issuperset(map(type, values)) and (
        not values or (min(values) >= MIN_TIMESTAMP and max(values) <= MAX_TIMESTAMP)
    )


def _read_entries(
    stored: dict[Any, Any],
    kind: str,
    read: Callable[[str, str, Any], Any],
    all_readable: Callable[[Collection[Any]], bool] | None,
    unreadable: list[Unreadable],
) -> dict[str, Any]:
    """The entries of ``stored`` (parameters, tags, labels or metrics) whose name and value
    can be read (``read`` gives the value or raises); each other one is left out and named
    in ``unreadable``. When ``all_readable`` says every value is, they are taken as they are."""
    if all_readable is not None and _names_readable(stored) and all_readable(stored.values()):
        return stored
    entries: dict[str, Any] = {}
    for name, value in stored.items():
        problem = name_problem(name)
        if problem is not None:
            reason = f"a {kind} name is {problem}"
            unreadable.append(Unreadable(kind, None, reason))
            continue
        try:
            entries[name] = read(kind, name, value)
        except InvalidValueError as error:
            unreadable.append(Unreadable(kind, name, str(error)))
    return entries


def read_record(record: RunRecord) -> StoredRun:
    """A stored run with every field read by the rule the SDK writes it by (see above)."""
    row = record.row
    unreadable: list[Unreadable] = []
    read = row

    def refuse(column: str, problem: str, replacement: object = None) -> None:
        nonlocal read
        if read is row:
            read = dict(row)
        read[column] = replacement
        unreadable.append(Unreadable(column, None, f"{column} is {problem}"))

    run_id = row["id"]
    if run_id.__class__ is not str:
        # Kept, as text, rather than left out: a run is known by its id.
        refuse("id", f"{described(run_id)}, not text", repr(run_id))
    for column in _NAME_COLUMNS:
        problem = name_problem(row[column])
        if problem is not None:
            refuse(column, problem)
    for column in _OPTIONAL_NAME_COLUMNS:
        if row[column] is not None:
            problem = name_problem(row[column])
            if problem is not None:
                refuse(column, problem)
    if row["collection_is_default"] not in (0, 1):
        refuse("collection_is_default", f"{described(row['collection_is_default'])}, not 0 or 1", 0)
    if row["status"] not in _STORED_STATUSES:
        refuse("status", f"{described(row['status'])}, not one of {', '.join(_STORED_STATUSES)}")
    for column in _TIME_COLUMNS:
        problem = time_problem(row[column])
        if problem is not None:
            refuse(column, problem)
    pid = row["pid"]
    if pid is not None and (pid.__class__ is not int or not 0 <= pid <= _MAX_PID):
        refuse("pid", f"{described(pid)}, not a process id")
    return StoredRun(
        row=read,
        parameters=_read_entries(
            record.parameters, "parameter", _text_value, _texts_readable, unreadable
        ),
        tags=_read_entries(record.tags, "tag", _text_value, _texts_readable, unreadable),
        labels=_read_entries(record.labels, "label", _label_value, None, unreadable),
        metrics=_read_entries(
            record.metrics, "metric", _metric_number, _numbers_readable, unreadable
        ),
        unreadable=tuple(unreadable),
    )


def read_records(records: Sequence[RunRecord]) -> list[StoredRun]:
    """``read_record`` of each record. The usual list, where nothing is left out, is checked
    in bulk (a column or a kind of entry of all the runs at once, without a Python call per
    field): a list of 10,000 runs costs little more than its labels' JSON."""
    if not records or not _columns_readable(_columns_of(records)):
        return [read_record(record) for record in records]
    stored: list[StoredRun] = []
    for record in records:
        try:
            labels = _decoded_labels(record.labels)
        except InvalidValueError:
            stored.append(read_record(record))
            continue
        row = record.row
        stored.append(StoredRun(row, record.parameters, record.tags, labels, record.metrics, ()))
    return stored


def _columns_of(records: Sequence[RunRecord]) -> RunColumns:
    from ..store import RunColumns  # the store is imported where a read needs it

    return RunColumns.from_records(records)


def _decoded_labels(labels: dict[str, str]) -> dict[str, Any]:
    # Most runs have no labels: their empty dict is kept, not copied.
    return {name: decode_label(name, text) for name, text in labels.items()} if labels else labels


def _columns_readable(runs: RunColumns) -> bool:
    """Whether every field of ``runs`` but their labels' JSON can be read as it is.

    Names repeat from run to run (a collection, a scenario, a parameter's name), so each
    distinct one is checked once."""
    column = runs.column

    def present(name: str) -> list[Any]:
        return list(filter(_NOT_NONE, column(name)))

    pids = present("pid")
    if not (
        _TEXT_ONLY.issuperset(map(type, column("id")))
        and all(None not in column(name) for name in _NAME_COLUMNS)
        and _names_readable(
            set(chain.from_iterable(map(column, _NAME_COLUMNS + _OPTIONAL_NAME_COLUMNS))) - {None}
        )
        and _DEFAULT_FLAGS.issuperset(column("collection_is_default"))
        and _STATUS_SET.issuperset(column("status"))
        and all(_times_readable(present(name)) for name in _TIME_COLUMNS)
        and _INT_ONLY.issuperset(map(type, pids))
        and (not pids or (min(pids) >= 0 and max(pids) <= _MAX_PID))
    ):
        return False
    for maps, values_readable in (
        (runs.parameters, _texts_readable),
        (runs.tags, _texts_readable),
        (runs.labels, _texts_readable),  # JSON text: decoded run by run
        (runs.metrics, _numbers_readable),
    ):
        if not (
            _names_readable(set(chain.from_iterable(maps)))
            and values_readable(list(chain.from_iterable(map(dict.values, maps))))
        ):
            return False
    return True


def shown_status(row: Mapping[str, Any]) -> str | None:
    """A run's status as readers see it, from its row as ``read_record`` gives it: RUNNING
    is KILLED once its process is gone; None when the stored status cannot be read."""
    status: str | None = row["status"]
    if status == RUNNING and process_is_gone(row["host"], row["pid"], row["pid_started"]):
        return KILLED
    return status


def run_from_record(record: RunRecord, *, warn: bool = True) -> Run:
    """A stored run as the API shows it: system parameters and tag added, labels decoded,
    and a run whose process is gone shown as KILLED. Fields that cannot be read are left
    out and named in ``Run.unreadable``, with an ``UnreadableFieldWarning`` for each
    unless ``warn`` is false."""
    return _run_from_stored(read_record(record), warn=warn)


def runs_from_records(records: Sequence[RunRecord], *, warn: bool = True) -> list[Run]:
    """``run_from_record`` of each record, read in bulk (``read_records``)."""
    return [_run_from_stored(stored, warn=warn) for stored in read_records(records)]


def runs_from_columns(runs: RunColumns, *, warn: bool = True) -> list[Run]:
    """The runs of a whole read as the API shows them, as ``runs_from_records`` gives them.

    Where every field can be read, as in a file only sapdi-local wrote, each field is made
    for all the runs at once, a column at a time; otherwise the runs are read one by one."""
    fields = run_fields_from_columns(runs)
    if fields is None:
        return runs_from_records(runs.records(), warn=warn)
    if not fields:
        return []
    starts, ends, names = fields["start_time"], fields["end_time"], fields["name"]
    fields["parameters"] = list(map(_with_times, fields["parameters"], starts, ends))
    fields["tags"] = list(map(_with_name, fields["tags"], names))
    return list(map(_new_run, zip(*(fields[name] for name in Run._fields), strict=True)))


def run_fields_from_columns(runs: RunColumns) -> dict[str, Sequence[Any]] | None:
    """The fields of the runs of a whole read, by ``Run``'s field names, each with a value
    per run, as their Runs hold them but for the SDK's own ``start`` and ``end`` parameters
    and ``runName`` tag (a frame has those as columns of their own); empty for no runs;
    None if some field cannot be read as it is stored, when the runs are read one by one
    instead."""
    if not runs.run_count:
        return {}
    if not _columns_readable(runs):
        return None
    try:
        labels = list(map(_decoded_labels, runs.labels))
    except InvalidValueError:
        return None
    column = runs.column
    statuses = column("status")
    if RUNNING in statuses:
        statuses = tuple(
            shown_status(record.row) if status == RUNNING else status
            for status, record in zip(statuses, runs.records(), strict=True)
        )
    return {
        "id": column("id"),
        "name": column("name"),
        "collection": column("collection"),
        "collection_is_default": list(map(bool, column("collection_is_default"))),
        "scenario": column("scenario"),
        "scenario_version": column("scenario_version"),
        "notebook": column("notebook"),
        "pipeline": column("pipeline"),
        "execution": column("execution"),
        "status": statuses,
        "start_time": utc_from_seconds_each(column("start_time")),
        "end_time": utc_from_seconds_each(column("end_time")),
        "parameters": runs.parameters,
        "tags": runs.tags,
        "labels": labels,
        "metrics": runs.metrics,
        "unreadable": [()] * runs.run_count,
    }


def _with_times(
    parameters: dict[str, str], start: datetime | None, end: datetime | None
) -> dict[str, str]:
    """A run's parameters with the SDK's own ``start`` and ``end`` (ISO times)."""
    if end is None:
        return {**parameters, "start": "" if start is None else start.isoformat()}
    return {
        **parameters,
        "start": "" if start is None else start.isoformat(),
        "end": end.isoformat(),
    }


def _with_name(tags: dict[str, str], name: str) -> dict[str, str]:
    """A run's tags with the SDK's own ``runName``."""
    return {**tags, "runName": name}


def _run_from_stored(stored: StoredRun, *, warn: bool) -> Run:
    row = stored.row
    start, end = utc_from_seconds(row["start_time"]), utc_from_seconds(row["end_time"])
    name = row["name"]
    status = row["status"]
    if status == RUNNING:
        status = shown_status(row)
    # Positional, in Run's field order, as runs_from_columns makes them.
    run = _new_run(
        (
            row["id"],
            name,
            row["collection"],
            bool(row["collection_is_default"]),
            row["scenario"],
            row["scenario_version"],
            row["notebook"],
            row["pipeline"],
            row["execution"],
            status,
            start,
            end,
            _with_times(stored.parameters, start, end),
            dict(stored.tags) if name is None else _with_name(stored.tags, name),
            stored.labels,
            stored.metrics,
            stored.unreadable,
        )
    )
    if warn and run.unreadable:
        warn_unreadable(run.id, run.name, run.unreadable)
    return run


# Builds a Run from its fields in Run's order (tests/test_large_reads.py checks each).
_new_run = partial(tuple.__new__, Run)


def warn_unreadable(run_id: str, name: str | None, unreadable: Iterable[Unreadable]) -> None:
    """An ``UnreadableFieldWarning`` for each field of a run that cannot be read, pointing
    at the first caller outside this package."""
    items = list(unreadable)
    if not items:
        return
    import sys  # imported when first needed, as the warnings are rare

    level, frame = 1, sys._getframe(0)
    package = os.path.dirname(os.path.dirname(__file__))  # sapdi_local, not records
    while frame is not None and frame.f_code.co_filename.startswith(package):
        level, frame = level + 1, frame.f_back  # type: ignore[assignment]
    run = f"run {run_id}" + ("" if name is None else f" ({name!r})")
    for item in items:
        warnings.warn(f"{run}: {item.reason}; left out", UnreadableFieldWarning, stacklevel=level)
