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
