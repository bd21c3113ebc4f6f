"""Stored runs as the API shows them: each field read by the rule the SDK keeps when it
writes it."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

from ..context import process_is_gone
from ..errors import (
    InvalidValueError,
)
from ..model import (
    KILLED,
    RUNNING,
    Run,
    Unreadable,
    UnreadableFieldWarning,
    utc_from_seconds,
    utc_from_seconds_each,
)
from ..validation import (
    decode_label,
)
from .checks import (
    MAX_PID,
    NAME_COLUMNS,
    OPTIONAL_NAME_COLUMNS,
    STORED_STATUSES,
    TIME_COLUMNS,
    columns_readable,
    described,
    label_value,
    metric_number,
    name_problem,
    names_readable,
    numbers_readable,
    text_value,
    texts_readable,
    time_problem,
)

if TYPE_CHECKING:
    from datetime import datetime

    from ..store import RunColumns, RunRecord


class StoredRun(NamedTuple):
    """A stored run as read: each field that cannot be read is None in ``row`` or left out
    of the maps, and named in ``unreadable``; labels are decoded."""

    row: dict[str, Any]
    parameters: dict[str, str]
    tags: dict[str, str]
    labels: dict[str, Any]
    metrics: dict[str, float]
    unreadable: tuple[Unreadable, ...]


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
    if all_readable is not None and names_readable(stored) and all_readable(stored.values()):
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
    """A stored run with every field read by the rule the SDK writes it by (see
    ``records/checks.py``)."""
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
    for column in NAME_COLUMNS:
        problem = name_problem(row[column])
        if problem is not None:
            refuse(column, problem)
    for column in OPTIONAL_NAME_COLUMNS:
        if row[column] is not None:
            problem = name_problem(row[column])
            if problem is not None:
                refuse(column, problem)
    if row["collection_is_default"] not in (0, 1):
        refuse("collection_is_default", f"{described(row['collection_is_default'])}, not 0 or 1", 0)
    if row["status"] not in STORED_STATUSES:
        refuse("status", f"{described(row['status'])}, not one of {', '.join(STORED_STATUSES)}")
    for column in TIME_COLUMNS:
        problem = time_problem(row[column])
        if problem is not None:
            refuse(column, problem)
    pid = row["pid"]
    if pid is not None and (pid.__class__ is not int or not 0 <= pid <= MAX_PID):
        refuse("pid", f"{described(pid)}, not a process id")
    return StoredRun(
        row=read,
        parameters=_read_entries(
            record.parameters, "parameter", text_value, texts_readable, unreadable
        ),
        tags=_read_entries(record.tags, "tag", text_value, texts_readable, unreadable),
        labels=_read_entries(record.labels, "label", label_value, None, unreadable),
        metrics=_read_entries(
            record.metrics, "metric", metric_number, numbers_readable, unreadable
        ),
        unreadable=tuple(unreadable),
    )


def read_records(records: Sequence[RunRecord]) -> list[StoredRun]:
    """``read_record`` of each record. The usual list, where nothing is left out, is checked
    in bulk (a column or a kind of entry of all the runs at once, without a Python call per
    field): a list of 10,000 runs costs little more than its labels' JSON."""
    if not records or not columns_readable(_columns_of(records)):
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
    if not columns_readable(runs):
        return None
    try:
        labels = list(map(_decoded_labels, runs.labels))
    except InvalidValueError:
        return None
    column = runs.column
    statuses = column("status")
    if RUNNING in statuses:  # as shown_status shows them, from the columns
        statuses = tuple(
            KILLED if status == RUNNING and process_is_gone(host, pid, started) else status
            for status, host, pid, started in zip(
                statuses, column("host"), column("pid"), column("pid_started"), strict=True
            )
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
