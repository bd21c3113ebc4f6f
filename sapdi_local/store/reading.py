"""The store that only reads, for the command line and the explorer: summaries of a file
and sorted pages of runs."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from ..errors import StorageError
from .copying import _export_copy
from .counts import METRIC_VALUES, RUN_COUNT_OUT_OF_RANGE, holds_run_counts
from .database import FILE_MODE, decoded_read
from .opening import open_read_only
from .queries import RunQueries
from .selection import RunFilter, _run_conditions

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path


class ReadOnlyStore(RunQueries):
    """A database opened only to read: never created, migrated or locked.

    Text that is not UTF-8 (a file edited by another tool) would stop every read of the
    row holding it: this store shows it with U+FFFD in its place instead.

    For tools that look at a file (the command line, the explorer): a missing path or a
    file that is not a tracking database is an error rather than a new empty database. It
    has the reads of every store and none of the writes.

    >>> store = ReadOnlyStore(sdk.db_path)
    >>> store.counts()["runs"]
    7
    >>> store.close()
    """

    shows_undecodable_text = True

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
        return connection

    # ---- summaries

    @decoded_read
    def counts(self) -> dict[str, int]:
        """How many scenarios, collections, runs and stored metric values the file holds,
        each from an index or a kept count: no read of every value."""
        with self._reading() as connection:
            # Read from the kept counts: one row per (scenario, collection), no run read.
            if _run_counts_usable(connection):
                scenarios, collections, runs = connection.execute(
                    "SELECT COUNT(DISTINCT scenario), COUNT(*), TOTAL(runs) FROM run_counts "
                    "WHERE runs > 0"
                ).fetchone()
            # Else one walk of the index on (scenario, collection), which groups in its order.
            else:
                scenarios, collections, runs = connection.execute(
                    "SELECT COUNT(DISTINCT scenario), COUNT(*), IFNULL(SUM(runs), 0) FROM ("
                    "SELECT scenario, COUNT(*) AS runs FROM runs GROUP BY scenario, collection)"
                ).fetchone()
            counted = (
                connection.execute(
                    "SELECT value FROM stored_counts WHERE name = ?", (METRIC_VALUES,)
                ).fetchone()
                if self._holds(connection, "table", "stored_counts")
                else None
            )
            # A file of a release before the stored counts (read, never migrated, here)
            # is counted the long way, and so is a count another tool made other than a
            # whole number.
            if counted is None or type(counted[0]) is not int or counted[0] < 0:
                counted = connection.execute("SELECT COUNT(*) FROM metrics").fetchone()
            (values,) = counted
        return {
            "scenarios": int(scenarios),
            "collections": int(collections),
            "runs": int(runs),
            "values": int(values),
        }

    @decoded_read
    def schema_version(self) -> int:
        """The schema version of the file as it is: a reader never migrates, so a file an
        older release wrote keeps its own."""
        with self._reading() as connection:
            (version,) = connection.execute("PRAGMA user_version").fetchone()
        return int(version)

    @staticmethod
    def _holds(connection: sqlite3.Connection, kind: str, name: str) -> bool:
        """Whether the file holds the table or index ``name`` (``kind``): a file of an earlier
        release, read without migrating, lacks those of later migrations."""
        row = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = ? AND name = ?", (kind, name)
        ).fetchone()
        return row is not None

    @decoded_read
    def collections(self) -> list[dict[str, Any]]:
        """Each (scenario, collection) with its run count and its newest run's start.

        Read from the runs, not from ``run_counts``: a list of where runs are must show
        every collection that holds one, in a file whose runs another tool changed too."""
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

    @decoded_read
    def column_names(self, selection: RunFilter) -> dict[str, list[str]]:
        """The parameter, metric and tag names the selected runs have, sorted, for choosing
        columns: ``{"parameters": [...], "metrics": [...], "tags": [...]}``.

        A few runs' names are read from their rows. Past that, each distinct name is found
        by stepping through the table's index of names (one lookup per name, however many
        runs have it) and kept if a selected run has it, which the first rows with that
        name tell when most runs are selected: neither reads every run's rows."""
        where, arguments = _run_conditions(selection)
        names: dict[str, list[str]] = {}
        with self._reading() as connection:
            (selected,) = connection.execute(
                f"SELECT COUNT(*) FROM runs WHERE {where}", arguments
            ).fetchone()
            indexed = self._holds(connection, "index", "idx_parameters_name")
            for kind, table in _NAME_TABLES:
                # Stepping through names needs the index of migration 0005: a file of an
                # earlier release, read where it is, has its rows read instead.
                if selected <= _FEW_RUNS or not indexed:
                    query = (
                        f"SELECT DISTINCT name FROM {table} "
                        f"WHERE run_key IN (SELECT key FROM runs WHERE {where}) ORDER BY name"
                    )
                else:
                    query = (
                        "WITH RECURSIVE names(name) AS ("
                        f"SELECT MIN(name) FROM {table} UNION ALL "
                        f"SELECT (SELECT MIN(name) FROM {table} WHERE name > names.name) "
                        "FROM names WHERE names.name IS NOT NULL) "
                        "SELECT names.name FROM names WHERE names.name IS NOT NULL AND EXISTS ("
                        f"SELECT 1 FROM {table} AS row WHERE row.name = names.name AND EXISTS ("
                        f"SELECT 1 FROM runs WHERE runs.key = row.run_key AND {where}))"
                    )
                names[kind] = [name for (name,) in connection.execute(query, arguments)]
        return names

    @decoded_read
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

    @decoded_read
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

    @decoded_read
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


def _run_counts_usable(connection: sqlite3.Connection) -> bool:
    """Whether the file's ``run_counts`` can be read in place of its runs: a file of a
    release before them (read, never migrated, here) is counted the long way, and so is
    one where another tool wrote counts other than whole numbers in range."""
    if not holds_run_counts(connection):
        return False
    (forged,) = connection.execute(
        f"SELECT EXISTS (SELECT 1 FROM run_counts WHERE {RUN_COUNT_OUT_OF_RANGE})"
    ).fetchone()
    return not forged


# The tables whose names become columns, each with an index on name (migration 0005).
_NAME_TABLES = (("parameters", "parameters"), ("metrics", "latest_metrics"), ("tags", "tags"))
# Up to this many selected runs, their rows are read for names; past it, the names' index.
_FEW_RUNS = 2_000
