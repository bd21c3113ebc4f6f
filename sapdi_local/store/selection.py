"""Which runs to read and in what order: the selectors, the sort, a page of runs, a run as
stored, and the SQL they become (a WHERE clause on ``runs``, a sort expression).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from operator import itemgetter
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


class RunColumns(NamedTuple):
    """Runs read whole, for a list or a frame of every selected run: the columns of
    ``runs`` (``names``), each as a tuple of the runs' values in the list's order, and each
    run's parameters, tags, labels (JSON text) and last metric values, in the same order.

    Read column by column, a whole read makes no dict per run row: a list of 100,000 runs
    is checked and turned into Runs or a frame a column at a time."""

    names: tuple[str, ...]
    columns: tuple[tuple[Any, ...], ...]
    parameters: list[dict[str, str]]
    tags: list[dict[str, str]]
    labels: list[dict[str, str]]
    metrics: list[dict[str, float]]

    @classmethod
    def from_records(cls, records: Sequence[RunRecord]) -> RunColumns:
        """The columns of runs read a record at a time (a page, a search)."""
        if not records:
            return cls((), (), [], [], [], [])
        names = tuple(records[0].row)
        values_of = itemgetter(*names)  # runs has many columns: each row gives a tuple
        return cls(
            names,
            tuple(zip(*(values_of(record.row) for record in records), strict=True)),
            [record.parameters for record in records],
            [record.tags for record in records],
            [record.labels for record in records],
            [record.metrics for record in records],
        )

    @property
    def run_count(self) -> int:
        """How many runs."""
        return len(self.parameters)

    def column(self, name: str) -> tuple[Any, ...]:
        """The values of the ``runs`` column ``name``, one per run."""
        if name not in self.names:
            raise KeyError(f"runs has no column {name!r}; its columns: {', '.join(self.names)}")
        return self.columns[self.names.index(name)]

    def records(self) -> list[RunRecord]:
        """The runs a record each, as ``select_runs`` gives them."""
        rows = [
            dict(zip(self.names, values, strict=True)) for values in zip(*self.columns, strict=True)
        ]
        return list(map(RunRecord, rows, self.parameters, self.tags, self.labels, self.metrics))


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
