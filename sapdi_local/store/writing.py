"""The store that writes: runs added, persists, deletes and vacuum.

A persist is one transaction under the lock. Bulk rows go through the connection with
``executemany``, built in C by ``zip``: that is the fast path for a million values.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from itertools import chain, count, repeat
from operator import add
from typing import Any

from ..collector import collector_paused
from ..validation import HISTORY_WINDOW
from .counts import METRIC_VALUES, RUN_PAIR_COLUMNS, add_to_count, keep_run_counts
from .database import _chunks
from .push_records import PushRecords
from .queries import RunQueries
from .schema import RUN_CHILD_TABLES
from .selection import RunFilter

# Columns of ``runs`` that a persist may change.
RUN_UPDATE_COLUMNS = frozenset({"name", "collection", "status", "end_time"})


class PersistBatch:
    """Everything one persist writes, keyed by run id; written in one transaction."""

    def __init__(
        self,
        *,
        run_updates: dict[str, dict[str, Any]] | None = None,
        parameters: dict[str, dict[str, str]] | None = None,
        tags: dict[str, dict[str, str]] | None = None,
        labels: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.run_updates = run_updates if run_updates is not None else {}
        self.parameters = parameters if parameters is not None else {}
        self.tags = tags if tags is not None else {}
        self.labels = labels if labels is not None else {}
        # run id -> metric name -> [(value, step, timestamp), ...], oldest first
        self.metrics: dict[str, Mapping[str, Sequence[tuple[float, int | None, float]]]] = {}
        self.committed = False  # set the moment the transaction commits

    def run_ids(self) -> set[str]:
        return {
            *self.run_updates,
            *self.parameters,
            *self.tags,
            *self.labels,
            *self.metrics,
        }


class Store(RunQueries, PushRecords):
    """One database file: opened on first use, schema checked and migrated under the lock.

    The writes are here; the reads come from RunQueries, the push records from PushRecords,
    and opening, locking and transactions from Database.
    """

    # ---- writes

    def insert_run(self, row: dict[str, Any]) -> None:
        """Add a run (a dict of ``runs`` columns without ``key``)."""
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._write() as connection:
            cursor = connection.execute(
                f"INSERT INTO runs ({columns}) VALUES ({marks})", tuple(row.values())
            )
            assert cursor.lastrowid is not None  # an INSERT into a rowid table sets it
            keep_run_counts(connection, added_keys=[cursor.lastrowid])

    def persist(self, batch: PersistBatch) -> set[str]:
        """Write a batch in one transaction; returns the ids of runs that no longer exist."""
        with collector_paused(), self._write(batch) as connection:
            keys = self._run_keys(connection, batch.run_ids())
            missing = batch.run_ids() - keys.keys()
            for run_id, changes in batch.run_updates.items():
                if run_id in keys:
                    self._update_run(connection, keys[run_id], changes)
            for table, values in (
                ("parameters", batch.parameters),
                ("tags", batch.tags),
                ("labels", batch.labels),
            ):
                connection.executemany(
                    f"INSERT INTO {table} (run_key, name, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (run_key, name) DO UPDATE SET value = excluded.value",
                    [
                        (keys[run_id], name, value)
                        for run_id, pairs in values.items()
                        if run_id in keys
                        for name, value in pairs.items()
                    ],
                )
            for run_id, windows in batch.metrics.items():
                if run_id in keys:
                    self._append_metrics(connection, keys[run_id], windows)
        if any("end_time" in changes for changes in batch.run_updates.values()):
            self._checkpoint()
        return missing

    def _checkpoint(self) -> None:
        """Fold the WAL into the database file, so that the .db file alone, copied to share,
        holds every ended run even while this process keeps the database open."""
        # Best effort: the batch is already committed, and the WAL still holds it if this fails.
        with self._thread_lock, suppress(sqlite3.Error):
            self.connection().execute("PRAGMA wal_checkpoint(PASSIVE)")

    @staticmethod
    def _update_run(connection: sqlite3.Connection, key: int, changes: dict[str, Any]) -> None:
        unknown = changes.keys() - RUN_UPDATE_COLUMNS
        if unknown:
            raise ValueError(f"not a changeable run column: {sorted(unknown)}")
        assignments = [f"{column} = ?" for column in changes]
        if "collection" in changes:
            # A collection named after the run's own notebook or pipeline is its default one;
            # a run with neither (an imported one) has no default collection.
            assignments.append(
                "collection_is_default = IFNULL(? = COALESCE(notebook, pipeline), 0)"
            )
        arguments = [
            *changes.values(),
            *([changes["collection"]] if "collection" in changes else []),
        ]
        # A run re-filed into another collection moves between the kept counts.
        refiled = "collection" in changes
        before = (
            connection.execute(
                f"SELECT {RUN_PAIR_COLUMNS} FROM runs WHERE key = ?", (key,)
            ).fetchone()
            if refiled
            else None
        )
        connection.execute(
            f"UPDATE runs SET {', '.join(assignments)} WHERE key = ?", (*arguments, key)
        )
        # The scenario stays; the collection is the one just written.
        if before is not None and before[1] != changes["collection"]:
            keep_run_counts(connection, added_keys=[key], removed_pairs=[before])

    @staticmethod
    def _append_metrics(
        connection: sqlite3.Connection,
        key: int,
        windows: Mapping[str, Sequence[tuple[float, int | None, float]]],
    ) -> None:
        last_seq = dict(
            connection.execute("SELECT name, seq FROM latest_metrics WHERE run_key = ?", (key,))
        )
        rows: list[Iterator[tuple[Any, ...]]] = []
        latest: list[tuple[int, str, int, int | None, float, float]] = []
        trims: list[tuple[int, str, int]] = []
        for name, window in windows.items():
            if not window:
                continue
            first = last_seq.get(name, 0) + 1
            # (key, name, seq) + (value, step, timestamp), joined in C: no Python code runs
            # per value, which matters for a million of them.
            rows.append(map(add, zip(repeat(key), repeat(name), count(first)), window))
            end = first + len(window) - 1
            value, step, timestamp = window[-1]
            latest.append((key, name, end, step, timestamp, value))
            if end > HISTORY_WINDOW:
                trims.append((key, name, end - HISTORY_WINDOW))
        inserted = connection.executemany(
            "INSERT INTO metrics (run_key, name, seq, value, step, timestamp) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            chain.from_iterable(rows),
        ).rowcount
        connection.executemany(
            "INSERT INTO latest_metrics (run_key, name, seq, step, timestamp, value) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_key, name) DO UPDATE SET "
            "seq = excluded.seq, step = excluded.step, timestamp = excluded.timestamp, "
            "value = excluded.value",
            latest,
        )
        trimmed = connection.executemany(
            "DELETE FROM metrics WHERE run_key = ? AND name = ? AND seq <= ?", trims
        ).rowcount
        add_to_count(connection, METRIC_VALUES, inserted - trimmed)

    def vacuum(self) -> tuple[int, int]:
        """Rebuild the file without its free pages, under the lock; returns the size in
        bytes before and after."""
        before = self.file_size()
        with self._thread_lock:
            connection = self.writable_connection()
            with self._locked():
                try:
                    connection.execute("VACUUM")  # cannot run inside a transaction
                    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.Error as error:
                    raise self._storage_error("vacuum", error) from error
        return before, self.file_size()

    def delete_runs(self, selection: RunFilter) -> list[str]:
        """Delete the selected runs and everything logged to them; returns their ids."""
        with self._write() as connection:
            rows = self._select_run_rows(
                connection, selection, f"key, id, {RUN_PAIR_COLUMNS}"
            ).fetchall()
            keys = [row[0] for row in rows]
            for chunk in _chunks(keys):
                marks = ", ".join("?" for _ in chunk)
                for table in (*RUN_CHILD_TABLES, "runs"):
                    column = "key" if table == "runs" else "run_key"
                    deleted = connection.execute(
                        f"DELETE FROM {table} WHERE {column} IN ({marks})", chunk
                    ).rowcount
                    if table == "metrics":
                        add_to_count(connection, METRIC_VALUES, -deleted)
            keep_run_counts(connection, removed_pairs=[row[2:] for row in rows])
        return [row[1] for row in rows]
