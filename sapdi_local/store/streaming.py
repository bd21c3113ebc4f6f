"""Runs read a batch at a time inside one read snapshot, for commands that write out more
runs than they should hold (exports, ``runs --json``): memory is a batch and the names
of the selection's columns, whatever the number of runs.

``streamed_runs`` holds one read transaction open while the caller writes what it
reads, so that every pass over the selection (its count, its column names, its runs, its
metric histories) sees the same runs, even while other processes write to the file.

>>> with streamed_runs(store, "metrics.accuracy > 0.9", batch_size=2) as selection:
...     selection.count(), [len(records) for records in selection.record_batches()]
(3, [2, 1])
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple

from ..search_language import OrderKey
from .queries import RunQueries
from .search import compiled_search, parsed_search
from .search_sql import (
    _listed,
    _Sql,
    _sql,
)
from .selection import RunFilter, RunRecord

BATCH_RUNS = 500  # runs read at once: one "IN (...)" list per detail table

StoredHistories = dict[Any, list[tuple[Any, Any, Any]]]
"""A run's metric histories as stored: name to (value, step, timestamp), oldest first."""


class ColumnNames(NamedTuple):
    """The names of the parameters, tags and metrics the selected runs have, each sorted
    as SQLite sorts them, without duplicates: what a table of the runs needs as columns."""

    parameters: list[Any]
    tags: list[Any]
    metrics: list[Any]


class RunStream:
    """The runs one search selects, in its order, read batch by batch on one connection
    inside the read transaction of ``streamed_runs``. Each method is a new pass over the
    selection: the statement runs again in the same snapshot and finds the same runs."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        tables: _Sql,
        where: _Sql,
        order: Sequence[_Sql],
        limit: int | None,
        offset: int,
        batch_size: int,
    ) -> None:
        self._connection = connection
        self._tables = tables
        self._where = where
        self._order = order
        self._limit = limit
        self._offset = offset
        self._batch_size = batch_size
        self._count: int | None = None

    def _selected(self, columns: str, *, ordered: bool) -> _Sql:
        """The statement selecting ``columns`` of the chosen runs; in the search's order
        when asked, or when a limit or offset makes the order choose which runs."""
        paged = self._limit is not None or self._offset > 0
        pieces: list[_Sql | str] = [f"SELECT {columns} FROM ", self._tables, " WHERE ", self._where]
        if ordered or paged:
            pieces += [" ORDER BY ", _listed(", ", self._order)]
        if paged:
            limit = -1 if self._limit is None else self._limit
            pieces += [" LIMIT ", _Sql("?", (limit,)), " OFFSET ", _Sql("?", (self._offset,))]
        return _sql(*pieces)

    def count(self) -> int:
        """How many runs the selection holds (counted once: the snapshot does not change)."""
        if self._count is None:
            inner = self._selected("runs.key", ordered=False)
            statement = _sql("SELECT COUNT(*) FROM (", inner, ")")
            (total,) = self._connection.execute(statement.text, statement.arguments).fetchone()
            self._count = int(total)
        return self._count

    def column_names(self) -> ColumnNames:
        """The distinct parameter, tag and metric names of the selected runs, one SQL pass
        per table: memory holds the names, never the runs."""
        inner = self._selected("runs.key", ordered=False)
        found: list[list[Any]] = []
        for table in ("parameters", "tags", "latest_metrics"):
            statement = _sql(
                f"SELECT DISTINCT name FROM {table} WHERE run_key IN (", inner, ") ORDER BY name"
            )
            rows = self._connection.execute(statement.text, statement.arguments)
            found.append([name for (name,) in rows])
        return ColumnNames(*found)

    def _batches(self, columns: str) -> Iterator[list[Any]]:
        statement = self._selected(columns, ordered=True)
        cursor = self._connection.execute(statement.text, statement.arguments)
        try:
            while rows := cursor.fetchmany(self._batch_size):
                yield rows
        finally:
            _close_quietly(cursor)

    def record_batches(self) -> Iterator[list[RunRecord]]:
        """The selected runs in order, a batch at a time, each with its parameters, tags,
        labels and last metrics (as ``select_runs`` gives them)."""
        statement = self._selected("runs.*", ordered=True)
        cursor = self._connection.execute(statement.text, statement.arguments)
        columns = [description[0] for description in cursor.description]
        try:
            while rows := cursor.fetchmany(self._batch_size):
                records = {
                    row[0]: RunRecord(dict(zip(columns, row, strict=True)), {}, {}, {}, {})
                    for row in rows
                }
                RunQueries._attach_details(self._connection, records)
                yield list(records.values())
        finally:
            _close_quietly(cursor)

    def ids(self) -> Iterator[Any]:
        """The stored ids of the selected runs, in order."""
        for rows in self._batches("runs.id"):
            yield from (run_id for (run_id,) in rows)

    def histories(self) -> Iterator[tuple[Any, StoredHistories]]:
        """Per selected run, in order: its stored id and its metric histories, the metrics
        named as ``metric_history`` names them (its last values' names, sorted), each with
        its stored values oldest first. One run's values are held at a time: a run of many
        long histories costs its own values, not a batch of such runs."""
        # Names are read once per metric, not once per value: each text read is a Python
        # call (the connection's text factory), and a run holds thousands of values.
        names_statement = "SELECT rowid, name FROM latest_metrics WHERE run_key = ?"
        values_statement = (
            "SELECT l.rowid, m.seq, m.value, m.step, m.timestamp FROM latest_metrics AS l "
            "LEFT JOIN metrics AS m ON m.run_key = l.run_key AND m.name = l.name "
            "WHERE l.run_key = ? ORDER BY l.name, m.seq"
        )
        for rows in self._batches("runs.key, runs.id"):
            for key, run_id in rows:
                names = dict(self._connection.execute(names_statement, (key,)).fetchall())
                found = self._connection.execute(values_statement, (key,)).fetchall()
                stored: StoredHistories = {}
                for name_row, group in groupby(found, key=itemgetter(0)):
                    values = list(group)
                    # No seq: a last value whose history holds nothing.
                    stored[names[name_row]] = (
                        [] if values[0][1] is None else list(map(_STORED_VALUE, values))
                    )
                yield run_id, stored


_STORED_VALUE = itemgetter(2, 3, 4)  # (value, step, timestamp) of a row read above


@contextmanager
def streamed_runs(
    store: RunQueries,
    expression: Any = None,
    order_by: Sequence[OrderKey | str] | str | None = (),
    limit: int | None = None,
    offset: int = 0,
    base_selection: RunFilter | None = None,
    *,
    now: float | None = None,
    batch_size: int = BATCH_RUNS,
) -> Iterator[RunStream]:
    """The runs ``search_run_records`` selects with the same arguments (an expression, its
    text or None for all; an order, newest first without one; a page), to be read in
    batches while one read transaction stays open: the block sees one snapshot however
    long the caller takes to write what it reads.

    >>> with streamed_runs(store, "params.optimizer = 'adam'") as selection:
    ...     total = selection.count()
    ...     names = [record.row["name"] for batch in selection.record_batches() for record in batch]
    >>> total, names
    (4, ['lr-1.0', 'lr-0.001', 'lr-0.01', 'lr-0.1'])
    """
    if batch_size < 1:
        raise ValueError(f"batch_size is {batch_size}; read at least 1 run at a time")
    tree, order, limit, offset = parsed_search(expression, order_by, limit, offset)
    with store._reading(streamed=True) as connection:
        search = compiled_search(connection, tree, order, base_selection, now)
        tables, where, terms = search.tables(), search.where, search.terms
        yield RunStream(connection, tables, where, terms, limit, offset, batch_size)


def _close_quietly(cursor: sqlite3.Cursor) -> None:
    """Close a cursor a generator read from. A generator stopped by Ctrl-C may be closed
    after the connection it read from (the read transaction ended first): its cursor is
    closed with it, and closing it again would print a traceback on the way out."""
    with suppress(sqlite3.ProgrammingError):
        cursor.close()
