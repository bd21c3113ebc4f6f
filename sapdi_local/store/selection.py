"""Which runs to read and in what order: the selectors, the sort, a page of runs, a run as
stored, and the SQL they become (a WHERE clause on ``runs``, a sort expression).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple


class RunFilter(NamedTuple):
    """Selectors for runs; each is None (no condition) or a tuple of accepted values."""

    scenarios: tuple[str, ...] | None = None
    scenario_versions: tuple[str, ...] | None = None
    pipelines: tuple[str, ...] | None = None
    executions: tuple[str, ...] | None = None
    notebooks: tuple[str, ...] | None = None
    runs: tuple[str, ...] | None = None
    names: tuple[str, ...] | None = None
    tags: tuple[tuple[str, str], ...] = ()
    collections: tuple[str, ...] | None = None
    name_contains: str | None = None  # a case-insensitive text search on run names
    # Stored statuses to accept, and runs to accept whatever theirs: how a caller that
    # tells live RUNNING runs from KILLED ones (by their process) selects either.
    statuses: tuple[str, ...] | None = None
    status_or_runs: tuple[str, ...] = ()
    started_after: float | None = None  # Unix seconds


class RunOrder(NamedTuple):
    """How a list of runs is sorted: by ``name``, ``status``, ``start``, ``duration``, or a
    ``parameter``, ``metric`` or ``tag`` named ``name``; runs without a value come last."""

    by: str = "start"
    name: str | None = None
    descending: bool = True


class RunPage(NamedTuple):
    """One page of a sorted list of runs, the count of all selected, and the parameter,
    metric and tag names found among all of them (for choosing columns)."""

    total: int
    records: list[RunRecord]
    parameters: list[str]
    metrics: list[str]
    tags: list[str]


class RunRecord(NamedTuple):
    """A run as stored, with its parameters, tags, labels (JSON text) and last metric values."""

    row: dict[str, Any]
    parameters: dict[str, str]
    tags: dict[str, str]
    labels: dict[str, str]
    metrics: dict[str, float]


def _run_conditions(selection: RunFilter) -> tuple[str, list[Any]]:
    """The WHERE clause (on ``runs``) and its arguments for a selection."""
    conditions: list[str] = []
    arguments: list[Any] = []
    for column, accepted in (
        ("scenario", selection.scenarios),
        ("scenario_version", selection.scenario_versions),
        ("pipeline", selection.pipelines),
        ("execution", selection.executions),
        ("notebook", selection.notebooks),
        ("id", selection.runs),
        ("name", selection.names),
        ("collection", selection.collections),
    ):
        if accepted is not None:
            # json_each: one argument however many values (SQLite limits arguments).
            conditions.append(f"{column} IN (SELECT value FROM json_each(?))")
            arguments.append(json.dumps(accepted))
    for name, value in selection.tags:
        conditions.append("key IN (SELECT run_key FROM tags WHERE name = ? AND value = ?)")
        arguments.extend((name, value))
    if selection.name_contains:
        # instr() rather than LIKE: the text is matched as typed, % and _ included.
        conditions.append("instr(lower(name), lower(?)) > 0")
        arguments.append(selection.name_contains)
    if selection.started_after is not None:
        conditions.append("start_time >= ?")
        arguments.append(selection.started_after)
    if selection.statuses is not None:
        conditions.append(
            "(status IN (SELECT value FROM json_each(?)) OR id IN (SELECT value FROM json_each(?)))"
        )
        arguments.extend((json.dumps(selection.statuses), json.dumps(selection.status_or_runs)))
    return " AND ".join(conditions) or "1", arguments


# What a list of runs can be sorted by: a SQL expression on a row of ``runs``.
_ORDER_EXPRESSIONS = {
    "name": "name COLLATE NOCASE",
    "status": "status",
    "start": "start_time",
    "duration": "end_time - start_time",
    "parameter": "(SELECT value FROM parameters WHERE run_key = runs.key AND name = ?)",
    "metric": "(SELECT value FROM latest_metrics WHERE run_key = runs.key AND name = ?)",
    "tag": "(SELECT value FROM tags WHERE run_key = runs.key AND name = ?)",
}
ORDER_KINDS = tuple(_ORDER_EXPRESSIONS)
