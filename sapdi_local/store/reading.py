"""The store that only reads, for the command line and the explorer: summaries of a file
and sorted pages of runs."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from ..errors import StorageError
from .copying import _export_copy
from .database import FILE_MODE, lenient_text, open_read_only
from .queries import RunQueries
from .selection import (
    _ORDER_EXPRESSIONS,
    ORDER_KINDS,
    RunFilter,
    RunOrder,
    RunPage,
    RunRecord,
    _run_conditions,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path


class ReadOnlyStore(RunQueries):
    """A database opened only to read: never created, migrated or locked.

    For tools that look at a file (the command line, the explorer): a missing path or a
    file that is not a tracking database is an error rather than a new empty database. It
    has the reads of every store and none of the writes.

    >>> store = ReadOnlyStore(Path("tracking.db"))
    >>> store.counts()["runs"]
    3
    """

    def _open(self) -> sqlite3.Connection:
        if not self.path.exists():
            raise StorageError(
                f"no database at {self.path}; runs are written there by the SDK "
                "(tracking.start_run) or `sapdi-local submit`, or choose another file with "
                "--db PATH or SAPDI_LOCAL_DB"
            )
        if not self.path.is_file():
            raise StorageError(f"{self.path} is not a file; choose a database file with --db PATH")
        connection, _, self.snapshot_note = open_read_only(self.path)
        # Text that is not UTF-8 (a file edited by another tool) would stop every read of
        # the row holding it: readers show it with U+FFFD in its place instead.
        connection.text_factory = lenient_text
        return connection

    # ---- summaries

    def counts(self) -> dict[str, int]:
        """How many scenarios, collections, runs and stored metric values the file holds."""
        with self._reading() as connection:
            scenarios, collections, runs = connection.execute(
                "SELECT COUNT(DISTINCT scenario), "
                "(SELECT COUNT(*) FROM (SELECT DISTINCT scenario, collection FROM runs)), "
                "COUNT(*) FROM runs"
            ).fetchone()
            (values,) = connection.execute("SELECT COUNT(*) FROM metrics").fetchone()
        return {
            "scenarios": int(scenarios),
            "collections": int(collections),
            "runs": int(runs),
            "values": int(values),
        }

    def collections(self) -> list[dict[str, Any]]:
        """Each (scenario, collection) with its run count and its newest run's start."""
        with self._reading() as connection:
            rows = connection.execute(
                "SELECT scenario, collection, MAX(collection_is_default), COUNT(*), "
                "MAX(start_time) FROM runs GROUP BY scenario, collection "
                "ORDER BY scenario, collection"
            ).fetchall()
        return [
            {
                "scenario": scenario,
                "collection": collection,
                "is_default": bool(is_default),
                "runs": runs,
                "last_start": last_start,
            }
            for scenario, collection, is_default, runs, last_start in rows
        ]

    def list_runs(
        self, selection: RunFilter, order: RunOrder, *, limit: int | None, offset: int = 0
    ) -> RunPage:
        """A page of the selected runs sorted in SQL, so that a long list costs only the
        rows shown. Text parameters and tags sort as numbers when they are numbers."""
        if order.by not in _ORDER_EXPRESSIONS:
            raise ValueError(f"cannot sort runs by {order.by!r}; choose one of {ORDER_KINDS}")
        where, arguments = _run_conditions(selection)
        expression = _ORDER_EXPRESSIONS[order.by]
        sort_arguments = [order.name] if "?" in expression else []
        direction = "DESC" if order.descending else "ASC"
        numeric = (
            f"CAST(sort_value AS REAL) {direction}, " if order.by in ("parameter", "tag") else ""
        )
        with self._reading() as connection:
            (total,) = connection.execute(
                f"SELECT COUNT(*) FROM runs WHERE {where}", arguments
            ).fetchone()
            cursor = connection.execute(
                f"SELECT * FROM (SELECT runs.*, {expression} AS sort_value FROM runs "
                f"WHERE {where}) ORDER BY sort_value IS NULL, {numeric}sort_value {direction}, "
                "start_time DESC, key DESC LIMIT ? OFFSET ?",
                [*sort_arguments, *arguments, -1 if limit is None else limit, offset],
            )
            columns = [description[0] for description in cursor.description][:-1]
            records = {
                row[0]: RunRecord(dict(zip(columns, row[:-1], strict=True)), {}, {}, {}, {})
                for row in cursor.fetchall()
            }
            self._attach_details(connection, records)
            names = {
                table: [
                    name
                    for (name,) in connection.execute(
                        f"SELECT DISTINCT name FROM {table} "
                        f"WHERE run_key IN (SELECT key FROM runs WHERE {where}) ORDER BY name",
                        arguments,
                    )
                ]
                for table in ("parameters", "latest_metrics", "tags")
            }
        return RunPage(
            total=total,
            records=list(records.values()),
            parameters=names["parameters"],
            metrics=names["latest_metrics"],
            tags=names["tags"],
        )

    def running_processes(
        self, selection: RunFilter
    ) -> list[tuple[str, str | None, int | None, str | None]]:
        """(id, host, pid, process start) of the selected runs stored as RUNNING: the caller
        tells those still running from those whose process is gone."""
        where, arguments = _run_conditions(selection)
        with self._reading() as connection:
            rows = connection.execute(
                f"SELECT id, host, pid, pid_started FROM runs WHERE {where} AND status = 'RUNNING'",
                arguments,
            ).fetchall()
        return [tuple(row) for row in rows]

    def run_candidates(self, text: str) -> list[tuple[str, str, str]]:
        """Runs that ``text`` may name: (id, name, collection) of the run with that id, or
        else of runs with that name or an id starting with it, newest first."""
        with self._reading() as connection:
            exact = connection.execute(
                "SELECT id, name, collection FROM runs WHERE id = ?", (text,)
            ).fetchall()
            if exact:
                return [tuple(row) for row in exact]
            rows = connection.execute(
                "SELECT id, name, collection FROM runs WHERE name = ? "
                "OR substr(id, 1, length(?)) = ? ORDER BY start_time DESC, key DESC",
                (text, text, text),
            ).fetchall()
        return [tuple(row) for row in rows]

    def metric_stats(self, run_id: str) -> dict[str, dict[str, Any]]:
        """Per metric of a run: last value, and count, min and max of the stored values."""
        with self._reading() as connection:
            rows = connection.execute(
                "SELECT l.name, l.value, COUNT(m.seq), MIN(m.value), MAX(m.value) "
                "FROM latest_metrics AS l JOIN runs AS r ON r.key = l.run_key "
                "LEFT JOIN metrics AS m ON m.run_key = l.run_key AND m.name = l.name "
                "WHERE r.id = ? GROUP BY l.name ORDER BY l.name",
                (run_id,),
            ).fetchall()
        return {
            name: {"last": last, "count": count, "min": low, "max": high}
            for name, last, count, low, high in rows
        }

    # ---- copying

    def export_copy(
        self,
        target: Path,
        *,
        keep_runs: Sequence[str] | None = None,
        progress: Callable[[int, int], None] | None = None,
        mode: int = FILE_MODE,
        replace: bool = False,
    ) -> None:
        """Copy the database to a new file ``target`` with SQLite's backup API: one consistent
        snapshot, safe while writers run, in one self-contained file (no -wal or -shm needed)
        that passed SQLite's integrity check. With ``keep_runs``, the copy holds only those
        runs. ``progress(done, total)`` is called with pages copied. The copy is private
        (``mode`` 0600) unless another mode is given; an existing ``target`` is an error
        unless ``replace``, and a symbolic link there is replaced, never written through."""
        _export_copy(
            self, target, keep_runs=keep_runs, progress=progress, mode=mode, replace=replace
        )
