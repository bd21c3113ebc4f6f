"""The only module that speaks SQL: schema, migrations, persists and queries.

One SQLite file in WAL mode. Writers take a ``filelock.FileLock`` beside the
file and then one short ``BEGIN IMMEDIATE`` transaction; SQLite's busy timeout
is a second guard. Readers never take the lock. The schema is created by
numbered migrations, recorded in the file and in ``PRAGMA user_version``, applied
under the lock. Bulk rows go through the connection with ``executemany``, built in C
by ``zip``: that is the fast path for a million values.
"""

from __future__ import annotations

import gc
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from itertools import chain, count, repeat
from operator import add
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import (
    LockTimeoutError,
    RunNotFoundError,
    SchemaVersionError,
    StorageError,
    TrackingError,
)
from .paths import lock_path_for
from .validation import HISTORY_WINDOW

if TYPE_CHECKING:
    from pathlib import Path

    from filelock import FileLock

MIGRATION_SET = "sapdi-local"
DEFAULT_LOCK_TIMEOUT = 60.0
BUSY_TIMEOUT_SECONDS = 60.0
FILE_MODE = 0o600
_IN_CHUNK = 500  # ids per "IN (...)" list, well under SQLite's variable limit

# Columns of ``runs`` that a persist may change.
RUN_UPDATE_COLUMNS = frozenset({"name", "collection", "status", "end_time"})
_inherited_connections: list[sqlite3.Connection] = []


# ---------------------------------------------------------------- migrations


# The numbered schema migrations, each a list of SQL statements, applied in order under
# the lock and in one transaction, and recorded both in PRAGMA user_version (their count)
# and in _sqlite_migrations (the table and layout of sqlite-utils' migrations, so its
# tools can read them). Plain SQL rather than sqlite-utils' Migrations: importing
# sqlite-utils costs 0.15 s in a small environment and over 0.6 s in one with many
# packages (it scans every package for plugins), which every new database would pay.
MIGRATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "0001_initial",
        (
            """CREATE TABLE "runs" (
               "key" INTEGER PRIMARY KEY,
               "id" TEXT NOT NULL,
               "name" TEXT NOT NULL,
               "collection" TEXT NOT NULL,
               "collection_is_default" INTEGER NOT NULL,
               "scenario" TEXT,
               "scenario_version" TEXT,
               "notebook" TEXT,
               "pipeline" TEXT,
               "execution" TEXT,
               "status" TEXT NOT NULL,
               "start_time" REAL,
               "end_time" REAL,
               "host" TEXT,
               "pid" INTEGER,
               "pid_started" TEXT
            )""",
            'CREATE UNIQUE INDEX "idx_runs_id" ON "runs" ("id")',
            'CREATE INDEX "idx_runs_scenario_collection" ON "runs" ("scenario", "collection")',
            'CREATE INDEX "idx_runs_start_time" ON "runs" ("start_time")',
            *(
                f"""CREATE TABLE "{table}" (
                   "run_key" INTEGER REFERENCES "runs"("key"),
                   "name" TEXT,
                   "value" TEXT,
                   PRIMARY KEY ("run_key", "name")
                )"""
                for table in ("parameters", "tags", "labels")
            ),
            'CREATE INDEX "idx_tags_name_value" ON "tags" ("name", "value")',
            # One row per stored value, and per metric its latest value and sequence number.
            """CREATE TABLE "metrics" (
               "run_key" INTEGER NOT NULL REFERENCES "runs"("key"),
               "name" TEXT NOT NULL,
               "seq" INTEGER NOT NULL,
               "step" INTEGER,
               "timestamp" REAL NOT NULL,
               "value" REAL NOT NULL
            )""",
            'CREATE UNIQUE INDEX "idx_metrics_run_key_name_seq" '
            'ON "metrics" ("run_key", "name", "seq")',
            """CREATE TABLE "latest_metrics" (
               "run_key" INTEGER REFERENCES "runs"("key"),
               "name" TEXT,
               "seq" INTEGER,
               "step" INTEGER,
               "timestamp" REAL,
               "value" REAL,
               PRIMARY KEY ("run_key", "name")
            )""",
        ),
    ),
    (
        # Metric values stored in (run, metric, seq) order, in the primary key's own
        # b-tree: one tree to write instead of a table and an index (persists about 1.4
        # times faster, files about a third smaller), and a history read is one range.
        "0002_metrics_clustered",
        (
            """CREATE TABLE "metrics_clustered" (
               "run_key" INTEGER NOT NULL REFERENCES "runs"("key"),
               "name" TEXT NOT NULL,
               "seq" INTEGER NOT NULL,
               "step" INTEGER,
               "timestamp" REAL NOT NULL,
               "value" REAL NOT NULL,
               PRIMARY KEY ("run_key", "name", "seq")
            ) WITHOUT ROWID""",
            'INSERT INTO "metrics_clustered" (run_key, name, seq, step, timestamp, value) '
            'SELECT run_key, name, seq, step, timestamp, value FROM "metrics"',
            'DROP TABLE "metrics"',
            'ALTER TABLE "metrics_clustered" RENAME TO "metrics"',
        ),
    ),
    (
        # What `sapdi-local push` sent where: per target and run, the remote run and a hash
        # of the fields sent, and per metric up to which local seq values went out. A run
        # stays "in_flight" while a send is outstanding, so that a push killed halfway
        # checks the server for that run before sending it again.
        "0003_push_records",
        (
            """CREATE TABLE "pushed_runs" (
               "target" TEXT NOT NULL,
               "run_key" INTEGER NOT NULL REFERENCES "runs"("key"),
               "remote_id" TEXT NOT NULL,
               "content_hash" TEXT,
               "in_flight" INTEGER NOT NULL,
               "pushed_at" REAL,
               PRIMARY KEY ("target", "run_key")
            )""",
            """CREATE TABLE "pushed_metrics" (
               "target" TEXT NOT NULL,
               "run_key" INTEGER NOT NULL REFERENCES "runs"("key"),
               "name" TEXT NOT NULL,
               "seq" INTEGER NOT NULL,
               "count" INTEGER NOT NULL,
               PRIMARY KEY ("target", "run_key", "name")
            )""",
        ),
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
# Tables holding rows of a run, besides ``runs`` itself: deleting a run deletes from each.
RUN_CHILD_TABLES = (
    "metrics",
    "latest_metrics",
    "parameters",
    "tags",
    "labels",
    "pushed_runs",
    "pushed_metrics",
)
MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS "_sqlite_migrations" (
   "id" INTEGER PRIMARY KEY,
   "migration_set" TEXT,
   "name" TEXT,
   "applied_at" TEXT
)"""


def apply_migrations(connection: sqlite3.Connection, *, up_to: int = SCHEMA_VERSION) -> None:
    """Bring a database inside an open transaction from its user_version to ``up_to``."""
    from datetime import datetime, timezone

    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    connection.execute(MIGRATIONS_TABLE)
    for number, (name, statements) in enumerate(MIGRATIONS[version:up_to], start=version + 1):
        for statement in statements:
            connection.execute(statement)
        connection.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES (?, ?, ?)",
            (MIGRATION_SET, name, str(datetime.now(timezone.utc))),
        )
        connection.execute(f"PRAGMA user_version = {number}")


# ---------------------------------------------------------------- data passed in and out


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


class PushState(NamedTuple):
    """What a target holds of a run: its remote id, the hash of the fields last sent (None:
    not confirmed), whether a send may be outstanding, and per metric (local seq up to
    which values were sent, how many were sent)."""

    remote_id: str
    content_hash: str | None
    in_flight: bool
    metrics: dict[str, tuple[int, int]]


class ImportedRun(NamedTuple):
    """A run read from another tracker, ready to store: ``row`` holds ``runs`` columns
    (without ``key``); labels are JSON text; metrics are per name (seq, value, step,
    timestamp) rows, oldest first, at most the history window of them."""

    row: dict[str, Any]
    parameters: dict[str, str]
    tags: dict[str, str]
    labels: dict[str, str]
    metrics: dict[str, list[tuple[int, float, int | None, float]]]


class RunRecord(NamedTuple):
    """A run as stored, with its parameters, tags, labels (JSON text) and last metric values."""

    row: dict[str, Any]
    parameters: dict[str, str]
    tags: dict[str, str]
    labels: dict[str, str]
    metrics: dict[str, float]


# ---------------------------------------------------------------- the store


class Store:
    """One database file: opened on first use, schema checked and migrated under the lock."""

    def __init__(self, path: Path, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.path = path
        self.lock_path = lock_path_for(path)
        self.lock_timeout = lock_timeout
        self._connection: sqlite3.Connection | None = None
        self._file_lock: FileLock | None = None
        self._opened_in_pid = -1
        self._thread_lock = threading.RLock()

    # ---- opening

    def connection(self) -> sqlite3.Connection:
        """The open connection, made (and the schema made ready) on first use in this process."""
        if self._connection is None or self._opened_in_pid != os.getpid():
            if self._connection is not None:
                # Inherited through fork: never used nor closed here (closing it could
                # disturb the parent's locks), only kept from being garbage-collected.
                _inherited_connections.append(self._connection)
            self._connection = self._open()
            self._opened_in_pid = os.getpid()
        return self._connection

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as error:
            raise StorageError(
                f"cannot create the folder {self.path.parent} for the database: {error.strerror}; "
                "choose a writable location with SAPDI_LOCAL_DB or db_path="
            ) from error
        self._file_lock = None  # made when first needed: a process that only reads never locks
        connection: sqlite3.Connection | None = None
        try:
            if not self.path.exists():
                with self._locked():
                    # Created here, not by sqlite3, so that only the owner can read it.
                    os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, FILE_MODE))
            connection = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
            )
            version = self._schema_version(connection)
            if version != SCHEMA_VERSION:
                with self._locked():
                    self._migrate(connection)
            connection.execute("PRAGMA synchronous=NORMAL")
            return connection
        except sqlite3.DatabaseError as error:
            if connection is not None:
                connection.close()
            raise self._storage_error("open", error) from error
        except TrackingError:
            if connection is not None:
                connection.close()
            raise
        except OSError as error:
            if connection is not None:
                connection.close()
            raise StorageError(
                f"cannot create or open {self.path}: {error.strerror or error}; choose a "
                "writable location with SAPDI_LOCAL_DB or db_path="
            ) from error
        except BaseException:
            if connection is not None:
                connection.close()
            raise

    def _lock(self) -> FileLock:
        if self._file_lock is None:
            from filelock import FileLock

            self._file_lock = FileLock(self.lock_path, timeout=self.lock_timeout, mode=FILE_MODE)
        return self._file_lock

    def _schema_version(self, connection: sqlite3.Connection) -> int:
        version = int(connection.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{self.path} has schema version {version}, written by a newer sapdi-local; "
                f"this one reads up to version {SCHEMA_VERSION}: upgrade sapdi-local "
                "(pip install -U sapdi-local)"
            )
        if version == 0:
            tables = {
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if tables - {"_sqlite_migrations"}:
                raise StorageError(
                    f"{self.path} is an SQLite file but not a sapdi-local database (it has tables "
                    f"{', '.join(sorted(tables))}); choose another file with SAPDI_LOCAL_DB or "
                    "db_path="
                )
        return version

    def _migrate(self, connection: sqlite3.Connection) -> None:
        # Re-read under the lock: another process may have migrated while we waited.
        if self._schema_version(connection) == SCHEMA_VERSION:
            return
        connection.execute("PRAGMA journal_mode=WAL")  # cannot change inside a transaction
        connection.execute("BEGIN IMMEDIATE")
        try:
            apply_migrations(connection)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self._connection is not None and self._opened_in_pid == os.getpid():
            self._connection.close()
        self._connection = None

    # ---- transactions

    @contextmanager
    def _locked(self) -> Iterator[None]:
        lock = self._lock()
        from filelock import Timeout

        try:
            lock.acquire()
        except Timeout:
            raise LockTimeoutError(
                f"could not lock {self.lock_path} within {self.lock_timeout:g} s: another process "
                "is writing to the database. Nothing logged is lost; persist again later or raise "
                "lock_timeout"
            ) from None
        except OSError as error:
            raise StorageError(
                f"cannot create or open the lock file {self.lock_path}: {error.strerror}; "
                "make its folder writable, or choose another file with SAPDI_LOCAL_DB"
            ) from error
        try:
            yield
        finally:
            lock.release()

    @contextmanager
    def _write(self, batch: PersistBatch | None = None) -> Iterator[sqlite3.Connection]:
        """One short transaction under the file lock; rolled back whole on any error.
        A ``batch`` is marked committed the moment it is, so that an interruption after
        the commit never has it written twice."""
        with self._thread_lock:
            connection = self.connection()
            with self._locked():
                try:
                    connection.execute("BEGIN IMMEDIATE")
                    yield connection
                    connection.execute("COMMIT")
                    if batch is not None:
                        batch.committed = True
                except sqlite3.Error as error:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    if _is_read_only(error):
                        # A connection opened while the file could not be written stays
                        # read-only for good: the next write opens a new one, which works
                        # once the files are writable again.
                        self.close()
                    raise self._storage_error("write to", error) from error
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """One read transaction without the file lock: every query in it sees one snapshot,
        so a read never shows half of a persist that commits meanwhile."""
        with self._thread_lock:
            try:
                connection = self.connection()
                connection.execute("BEGIN")
                try:
                    yield connection
                finally:
                    if connection.in_transaction:
                        connection.execute("COMMIT")
            except sqlite3.Error as error:
                raise self._storage_error("read", error) from error

    def _storage_error(self, action: str, error: sqlite3.Error) -> StorageError:
        text = str(error)
        if "not a database" in text or "malformed" in text:
            advice = "the file is damaged or not a database: move it away and start a new one"
        elif _is_read_only(error):
            advice = self._read_only_advice()
        elif "full" in text:
            advice = "free some disk space, then persist again: logged values are kept until then"
        elif "disk I/O error" in text:
            advice = (
                "the disk may be full or failing, or the file over a size limit: free some "
                "space or check the disk, then persist again: logged values are kept until then"
            )
        else:
            advice = "check the file, then persist again: logged values are kept until then"
        return StorageError(f"cannot {action} {self.path}: {text}; {advice}")

    def _read_only_advice(self) -> str:
        # SQLite writes through the file and its -wal and -shm files beside it; those two are
        # made with the database file's mode, so a read-only database leaves them read-only too.
        beside = [self.path.with_name(self.path.name + end) for end in ("-wal", "-shm")]
        blocked = [
            str(part)
            for part in (self.path, *beside, self.path.parent)
            if part.exists() and not os.access(part, os.W_OK)
        ]
        what = ", ".join(blocked) if blocked else "the file, its -wal and -shm files and its folder"
        return (
            f"make {what} writable (chmod u+w), then persist again: logged values are kept "
            "until then; or choose another file with SAPDI_LOCAL_DB"
        )

    # ---- writes

    def insert_run(self, row: dict[str, Any]) -> None:
        """Add a run (a dict of ``runs`` columns without ``key``)."""
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._write() as connection:
            connection.execute(
                f"INSERT INTO runs ({columns}) VALUES ({marks})", tuple(row.values())
            )

    def persist(self, batch: PersistBatch) -> set[str]:
        """Write a batch in one transaction; returns the ids of runs that no longer exist."""
        with _collector_paused(), self._write(batch) as connection:
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
            # A collection named after the run's own notebook or pipeline is its default one.
            assignments.append("collection_is_default = (? = COALESCE(notebook, pipeline))")
        arguments = [
            *changes.values(),
            *([changes["collection"]] if "collection" in changes else []),
        ]
        connection.execute(
            f"UPDATE runs SET {', '.join(assignments)} WHERE key = ?", (*arguments, key)
        )

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
        connection.executemany(
            "INSERT INTO metrics (run_key, name, seq, value, step, timestamp) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            chain.from_iterable(rows),
        )
        connection.executemany(
            "INSERT INTO latest_metrics (run_key, name, seq, step, timestamp, value) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_key, name) DO UPDATE SET "
            "seq = excluded.seq, step = excluded.step, timestamp = excluded.timestamp, "
            "value = excluded.value",
            latest,
        )
        connection.executemany(
            "DELETE FROM metrics WHERE run_key = ? AND name = ? AND seq <= ?", trims
        )

    def file_size(self) -> int:
        """Bytes the database takes on disk: the file and its write-ahead log."""
        wal = self.path.with_name(self.path.name + "-wal")
        return sum(part.stat().st_size for part in (self.path, wal) if part.exists())

    def vacuum(self) -> tuple[int, int]:
        """Rebuild the file without its free pages, under the lock; returns the size in
        bytes before and after."""
        before = self.file_size()
        with self._thread_lock:
            connection = self.connection()
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
            rows = self._select_run_rows(connection, selection, "key, id").fetchall()
            keys = [key for key, _ in rows]
            for chunk in _chunks(keys):
                marks = ", ".join("?" for _ in chunk)
                for table in (*RUN_CHILD_TABLES, "runs"):
                    column = "key" if table == "runs" else "run_key"
                    connection.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", chunk)
        return [run_id for _, run_id in rows]

    # ---- reads

    def run_exists(self, run_id: str) -> bool:
        with self._reading() as connection:
            row = connection.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row is not None

    def select_runs(self, selection: RunFilter) -> list[RunRecord]:
        """The selected runs, newest first, with parameters, tags, labels and last metrics."""
        with self._reading() as connection:
            cursor = self._select_run_rows(connection, selection, "*")
            columns = [description[0] for description in cursor.description]
            records = {
                row[0]: RunRecord(dict(zip(columns, row, strict=True)), {}, {}, {}, {})
                for row in cursor.fetchall()
            }
            self._attach_details(connection, records)
        return list(records.values())

    def metric_history(
        self, run_id: str, names: Sequence[str] | None
    ) -> dict[str, list[tuple[float, int | None, float]]]:
        """The stored values of a run's metrics (all, or the named ones), oldest first."""
        with self._reading() as connection:
            row = connection.execute("SELECT key FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFoundError(
                    f"no run with id {run_id!r} in {self.path}; check the id with get_runs"
                )
            key = row[0]
            if names is None:
                names = [
                    name
                    for (name,) in connection.execute(
                        "SELECT name FROM latest_metrics WHERE run_key = ? ORDER BY name", (key,)
                    )
                ]
            history: dict[str, list[tuple[float, int | None, float]]] = {}
            for name in names:
                history[name] = connection.execute(
                    "SELECT value, step, timestamp FROM metrics WHERE run_key = ? AND name = ? "
                    "ORDER BY seq",
                    (key, name),
                ).fetchall()
        return history

    def next_steps(self, run_id: str) -> dict[str, int]:
        """Per metric of a run, the step its next value gets when none is given: one more
        than its latest value's step (its count of stored values if that has no step)."""
        with self._reading() as connection:
            rows = connection.execute(
                "SELECT l.name, COALESCE(l.step + 1, l.seq) FROM latest_metrics AS l "
                "JOIN runs AS r ON r.key = l.run_key WHERE r.id = ?",
                (run_id,),
            ).fetchall()
        return dict(rows)

    def metric_histories(
        self, run_ids: Sequence[str], names: Sequence[str] | None
    ) -> dict[str, dict[str, list[tuple[float, int | None, float]]]]:
        """The stored values of several runs' metrics (all, or the named ones), oldest first,
        read in one snapshot; runs that do not exist are left out."""
        histories: dict[str, dict[str, list[tuple[float, int | None, float]]]] = {}
        with self._reading() as connection:
            keys = self._run_keys(connection, run_ids)
            for run_id in run_ids:
                if run_id not in keys or run_id in histories:
                    continue
                chosen = "" if names is None else f" AND name IN ({', '.join('?' for _ in names)})"
                rows = connection.execute(
                    "SELECT name, value, step, timestamp FROM metrics "
                    f"WHERE run_key = ?{chosen} ORDER BY name, seq",
                    (keys[run_id], *(names or ())),
                )
                history: dict[str, list[tuple[float, int | None, float]]] = {}
                for name, value, step, timestamp in rows:
                    history.setdefault(name, []).append((value, step, timestamp))
                histories[run_id] = history
        return histories

    def scenarios(self) -> list[tuple[str, str | None]]:
        """Each stored scenario with the version of its newest run."""
        with self._reading() as connection:
            rows = connection.execute(
                "SELECT scenario, scenario_version FROM runs AS outer_runs WHERE start_time = "
                "(SELECT MAX(start_time) FROM runs WHERE scenario = outer_runs.scenario) "
                "GROUP BY scenario ORDER BY scenario"
            ).fetchall()
        return [(scenario, version) for scenario, version in rows]

    # ---- push records (what `sapdi-local push` sent to which target)

    def push_states(self, target: str, run_ids: Sequence[str]) -> dict[str, PushState]:
        """What was pushed to ``target`` for each of ``run_ids`` that has a record.

        >>> store.push_states("http://127.0.0.1:5000", ["3f2a..."])["3f2a..."].remote_id
        '9c1e...'
        """
        states: dict[str, PushState] = {}
        with self._reading() as connection:
            keys = self._run_keys(connection, run_ids)
            by_key = {key: run_id for run_id, key in keys.items()}
            for chunk in _chunks(list(by_key)):
                marks = ", ".join("?" for _ in chunk)
                for key, remote_id, content_hash, in_flight in connection.execute(
                    "SELECT run_key, remote_id, content_hash, in_flight FROM pushed_runs "
                    f"WHERE target = ? AND run_key IN ({marks})",
                    (target, *chunk),
                ):
                    states[by_key[key]] = PushState(remote_id, content_hash, bool(in_flight), {})
                for key, name, seq, pushed in connection.execute(
                    "SELECT run_key, name, seq, count FROM pushed_metrics "
                    f"WHERE target = ? AND run_key IN ({marks})",
                    (target, *chunk),
                ):
                    if by_key[key] in states:
                        states[by_key[key]].metrics[name] = (seq, pushed)
        return states

    def record_remote_run(self, target: str, run_id: str, remote_id: str) -> None:
        """Remember that ``run_id`` is ``remote_id`` on ``target``, with nothing confirmed
        sent yet (in flight): any older record of the run for that target is replaced.

        >>> store.record_remote_run("http://127.0.0.1:5000", "3f2a...", "9c1e...")
        """
        with self._write() as connection:
            key = self._run_key(connection, run_id)
            connection.execute(
                "DELETE FROM pushed_metrics WHERE target = ? AND run_key = ?", (target, key)
            )
            connection.execute(
                "INSERT INTO pushed_runs (target, run_key, remote_id, content_hash, in_flight, "
                "pushed_at) VALUES (?, ?, ?, NULL, 1, ?) ON CONFLICT (target, run_key) DO UPDATE "
                "SET remote_id = excluded.remote_id, content_hash = NULL, in_flight = 1, "
                "pushed_at = excluded.pushed_at",
                (target, key, remote_id, _now()),
            )

    def record_pushed_content(self, target: str, run_id: str, content_hash: str) -> None:
        """Remember the hash of the run fields, parameters, tags and labels now on ``target``.

        >>> store.record_pushed_content("http://127.0.0.1:5000", "3f2a...", "5be1...")
        """
        with self._write() as connection:
            connection.execute(
                "UPDATE pushed_runs SET content_hash = ?, pushed_at = ? "
                "WHERE target = ? AND run_key = ?",
                (content_hash, _now(), target, self._run_key(connection, run_id)),
            )

    def record_pushed_metrics(
        self,
        target: str,
        run_id: str,
        advanced: Mapping[str, tuple[int, int]],
        *,
        in_flight: bool,
    ) -> None:
        """Per metric, (seq, n): values up to local ``seq`` are on ``target``, ``n`` more of
        them than before. ``in_flight`` says whether more sends of the run are to come.

        >>> store.record_pushed_metrics(target, "3f2a...", {"loss": (1000, 1000)}, in_flight=False)
        """
        with self._write() as connection:
            key = self._run_key(connection, run_id)
            connection.executemany(
                "INSERT INTO pushed_metrics (target, run_key, name, seq, count) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (target, run_key, name) DO UPDATE SET "
                "seq = excluded.seq, count = count + excluded.count",
                [(target, key, name, seq, added) for name, (seq, added) in advanced.items()],
            )
            connection.execute(
                "UPDATE pushed_runs SET in_flight = ?, pushed_at = ? "
                "WHERE target = ? AND run_key = ?",
                (int(in_flight), _now(), target, key),
            )

    def mark_push_in_flight(self, target: str, run_id: str) -> None:
        """Note that sends of the run to ``target`` start: if the push dies before it records
        them, the next push checks the server first.

        >>> store.mark_push_in_flight("http://127.0.0.1:5000", "3f2a...")
        """
        with self._write() as connection:
            connection.execute(
                "UPDATE pushed_runs SET in_flight = 1 WHERE target = ? AND run_key = ?",
                (target, self._run_key(connection, run_id)),
            )

    def metric_values_after(
        self, run_id: str, after: Mapping[str, int]
    ) -> dict[str, list[tuple[int, float, int | None, float]]]:
        """Per metric of a run, the stored (seq, value, step, timestamp) with a seq above
        ``after[name]`` (all of them for a metric not named), oldest first.

        >>> store.metric_values_after("3f2a...", {"loss": 998})["loss"]
        [(999, 0.31, 998, 1795889626.1), (1000, 0.3, 999, 1795889627.0)]
        """
        values: dict[str, list[tuple[int, float, int | None, float]]] = {}
        with self._reading() as connection:
            key = self._run_key(connection, run_id)
            rows = connection.execute(
                "SELECT name, seq, value, step, timestamp FROM metrics WHERE run_key = ? "
                "ORDER BY name, seq",
                (key,),
            )
            for name, seq, value, step, timestamp in rows:
                if seq > after.get(name, 0):
                    values.setdefault(name, []).append((seq, value, step, timestamp))
        return values

    def _run_key(self, connection: sqlite3.Connection, run_id: str) -> int:
        row = connection.execute("SELECT key FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFoundError(
                f"no run with id {run_id!r} in {self.path}; check the id with get_runs"
            )
        return int(row[0])

    # ---- helpers

    @staticmethod
    def _run_keys(connection: sqlite3.Connection, run_ids: Iterable[str]) -> dict[str, int]:
        keys: dict[str, int] = {}
        for chunk in _chunks(list(run_ids)):
            marks = ", ".join("?" for _ in chunk)
            keys.update(
                connection.execute(f"SELECT id, key FROM runs WHERE id IN ({marks})", chunk)
            )
        return keys

    @staticmethod
    def _select_run_rows(
        connection: sqlite3.Connection, selection: RunFilter, columns: str
    ) -> sqlite3.Cursor:
        where, arguments = _run_conditions(selection)
        return connection.execute(
            f"SELECT {columns} FROM runs WHERE {where} ORDER BY start_time DESC, key DESC",
            arguments,
        )

    @staticmethod
    def _attach_details(connection: sqlite3.Connection, records: dict[int, RunRecord]) -> None:
        """Fill in the parameters, tags, labels and last metrics of runs keyed by run key."""
        keys = list(records)
        for chunk in _chunks(keys):
            marks = ", ".join("?" for _ in chunk)
            for table, attribute in _DETAIL_TABLES:
                query = f"SELECT run_key, name, value FROM {table} WHERE run_key IN ({marks})"
                for key, name, value in connection.execute(query, chunk):
                    getattr(records[key], attribute)[name] = value


_DETAIL_TABLES = (
    ("parameters", "parameters"),
    ("tags", "tags"),
    ("labels", "labels"),
    ("latest_metrics", "metrics"),
)


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


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector during a bulk write.

    Turning a million cached values into rows allocates as it goes, and each collection
    it sets off walks every cached value again: a third of the persist time, for cycles
    that a persist never makes.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _is_read_only(error: sqlite3.Error) -> bool:
    """True for SQLite's "attempt to write a readonly database" and its kin."""
    text = str(error)
    return "readonly" in text or "read-only" in text


def _now() -> float:
    from time import time

    return time()


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


# ---------------------------------------------------------------- reading without writing


class ReadOnlyStore(Store):
    """A database opened only to read: never created, migrated or locked.

    For tools that look at a file (the command line, the explorer): a missing path or a
    file that is not a tracking database is an error rather than a new empty database.

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
        connection: sqlite3.Connection | None = None
        try:
            # mode=ro: SQLite itself refuses any write through this connection.
            connection = sqlite3.connect(
                f"{self.path.as_uri()}?mode=ro",
                uri=True,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
            )
            version = self._schema_version(connection)
        except sqlite3.DatabaseError as error:
            if connection is not None:
                connection.close()
            raise self._storage_error("open", error) from error
        except BaseException:
            if connection is not None:
                connection.close()
            raise
        if version != SCHEMA_VERSION:
            connection.close()
            raise self._old_schema_error(version)
        return connection

    def _old_schema_error(self, version: int) -> StorageError:
        if version == 0:
            return StorageError(
                f"{self.path} is not a sapdi-local database (it holds no runs table); choose "
                "another file with --db PATH or SAPDI_LOCAL_DB"
            )
        return SchemaVersionError(
            f"{self.path} has schema version {version}, older than this sapdi-local's "
            f"{SCHEMA_VERSION}; open it once for writing (any SDK write, or `sapdi-local "
            "submit`) to upgrade it, then read it again"
        )

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
    ) -> None:
        """Copy the database to a new file ``target`` with SQLite's backup API: one consistent
        snapshot, safe while writers run. With ``keep_runs``, the copy holds only those runs.
        ``progress(done, total)`` is called with pages copied."""
        if target.exists():
            raise StorageError(f"{target} already exists; remove it or choose another file")
        os.close(os.open(target, os.O_CREAT | os.O_RDWR | os.O_EXCL, FILE_MODE))
        copy = sqlite3.connect(target, isolation_level=None)
        try:
            with self._thread_lock:
                self.connection().backup(copy, pages=256, progress=_page_progress(progress))
            if keep_runs is not None:
                _keep_only(copy, keep_runs)
        except sqlite3.Error as error:
            copy.close()
            target.unlink()
            raise StorageError(f"cannot copy {self.path} to {target}: {error}") from error
        except BaseException:
            copy.close()
            target.unlink()
            raise
        copy.close()


def _page_progress(
    progress: Callable[[int, int], None] | None,
) -> Callable[[int, int, int], object] | None:
    if progress is None:
        return None

    def report(status: int, remaining: int, total: int) -> None:
        progress(total - remaining, total)

    return report


def _keep_only(connection: sqlite3.Connection, run_ids: Sequence[str]) -> None:
    """Delete from a copy every run not in ``run_ids``, then give the space back."""
    connection.execute("CREATE TEMP TABLE kept (id TEXT PRIMARY KEY)")
    connection.executemany("INSERT OR IGNORE INTO kept (id) VALUES (?)", ((i,) for i in run_ids))
    connection.execute("BEGIN IMMEDIATE")
    dropped = "(SELECT key FROM runs WHERE id NOT IN (SELECT id FROM temp.kept))"
    for table in RUN_CHILD_TABLES:
        connection.execute(f"DELETE FROM {table} WHERE run_key IN {dropped}")
    connection.execute("DELETE FROM runs WHERE id NOT IN (SELECT id FROM temp.kept)")
    connection.execute("COMMIT")
    connection.execute("VACUUM")


# ---------------------------------------------------------------- merging


class MergeReport(NamedTuple):
    """What a merge did: runs added, runs already present unchanged, and conflicting ids."""

    added: list[str]
    unchanged: list[str]
    conflicts: list[str]


_RUN_COLUMNS = (
    "id, name, collection, collection_is_default, scenario, scenario_version, notebook, "
    "pipeline, execution, status, start_time, end_time, host, pid, pid_started"
)
_CHILD_TABLES = {
    "parameters": "name, value",
    "tags": "name, value",
    "labels": "name, value",
    "latest_metrics": "name, seq, step, timestamp, value",
    "metrics": "name, seq, step, timestamp, value",
}
_MERGE_CHUNK = 50  # runs per step: small enough for a progress bar to move


def merge_from(
    store: Store,
    other: ReadOnlyStore,
    *,
    progress: Callable[[int], None] | None = None,
) -> MergeReport:
    """Bring into ``store`` the runs of ``other`` whose ids it lacks, with all their rows.

    One transaction under the lock: all or nothing. A run present in both with the same
    content is left alone (so merging twice adds nothing); with different content it is
    reported as a conflict and never overwritten. ``progress(runs)`` is called per step.

    >>> merge_from(Store(Path("mine.db")), ReadOnlyStore(Path("theirs.db"))).added
    ['3f2a...']
    """
    other.connection()  # checks the other file: it exists and is a current tracking database
    with store._thread_lock:
        connection = store.connection()
        with store._locked():
            # ATTACH is refused inside a transaction: attach first, then begin.
            connection.execute("ATTACH DATABASE ? AS other", (str(other.path),))
            try:
                return _merge_attached(store, connection, progress)
            except sqlite3.Error as error:
                raise store._storage_error("merge into", error) from error
            finally:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                connection.execute("DETACH DATABASE other")


def _merge_attached(
    store: Store, connection: sqlite3.Connection, progress: Callable[[int], None] | None
) -> MergeReport:
    connection.execute("BEGIN IMMEDIATE")
    theirs = [row[0] for row in connection.execute("SELECT id FROM other.runs ORDER BY key")]
    ours = set(store._run_keys(connection, theirs))
    added = [run_id for run_id in theirs if run_id not in ours]
    unchanged: list[str] = []
    conflicts: list[str] = []
    for run_id in theirs:
        if run_id in ours:
            same = _run_content(connection, "main", run_id) == _run_content(
                connection, "other", run_id
            )
            (unchanged if same else conflicts).append(run_id)
    if progress is not None and ours:
        progress(len(ours))
    for start in range(0, len(added), _MERGE_CHUNK):
        chunk = added[start : start + _MERGE_CHUNK]
        _copy_runs(connection, chunk)
        if progress is not None:
            progress(len(chunk))
    connection.execute("COMMIT")
    return MergeReport(added, unchanged, conflicts)


def _copy_runs(connection: sqlite3.Connection, run_ids: list[str]) -> None:
    marks = ", ".join("?" for _ in run_ids)
    connection.execute(
        f"INSERT INTO main.runs ({_RUN_COLUMNS}) SELECT {_RUN_COLUMNS} FROM other.runs "
        f"WHERE id IN ({marks}) ORDER BY key",
        run_ids,
    )
    for table, columns in _CHILD_TABLES.items():
        selected = ", ".join(f"t.{column.strip()}" for column in columns.split(","))
        connection.execute(
            f"INSERT INTO main.{table} (run_key, {columns}) "
            f"SELECT mine.key, {selected} FROM other.{table} AS t "
            "JOIN other.runs AS theirs ON theirs.key = t.run_key "
            f"JOIN main.runs AS mine ON mine.id = theirs.id WHERE theirs.id IN ({marks})",
            run_ids,
        )


def _run_content(connection: sqlite3.Connection, schema: str, run_id: str) -> list[Any]:
    """Everything stored for one run in ``schema`` (main or other), keys left out."""
    (key, *row) = connection.execute(
        f"SELECT key, {_RUN_COLUMNS} FROM {schema}.runs WHERE id = ?", (run_id,)
    ).fetchone()
    content: list[Any] = [row]
    for table, columns in _CHILD_TABLES.items():
        content.append(
            connection.execute(
                f"SELECT {columns} FROM {schema}.{table} WHERE run_key = ? ORDER BY {columns}",
                (key,),
            ).fetchall()
        )
    return content


# ---------------------------------------------------------------- importing


class ImportReport(NamedTuple):
    """What an import did: runs added, runs already present and unchanged, runs present
    with other content (replaced when asked to, else left as they are)."""

    added: list[str]
    unchanged: list[str]
    conflicts: list[str]
    replaced: list[str]


def import_runs(
    store: Store,
    runs: Sequence[ImportedRun],
    *,
    replace: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Store runs read from another tracker, in one transaction under the lock.

    A run whose id is new is added. One already here with the same content is left alone
    (so importing twice adds nothing); one with other content is a conflict, left as it
    is unless ``replace``, which swaps its content for the imported one.
    ``progress(runs)`` is called per run.

    >>> import_runs(Store(Path("tracking.db")), runs).added
    ['9d3c...']
    """
    added: list[str] = []
    unchanged: list[str] = []
    conflicts: list[str] = []
    replaced: list[str] = []
    with _collector_paused(), store._write() as connection:
        for run in runs:
            run_id = run.row["id"]
            existing = connection.execute("SELECT key FROM runs WHERE id = ?", (run_id,))
            row = existing.fetchone()
            if row is not None:
                if _stored_content(connection, row[0]) == _imported_content(run):
                    unchanged.append(run_id)
                elif replace:
                    for table in RUN_CHILD_TABLES:
                        connection.execute(f"DELETE FROM {table} WHERE run_key = ?", (row[0],))
                    connection.execute("DELETE FROM runs WHERE key = ?", (row[0],))
                    _insert_imported(connection, run)
                    replaced.append(run_id)
                else:
                    conflicts.append(run_id)
            else:
                _insert_imported(connection, run)
                added.append(run_id)
            if progress is not None:
                progress(1)
    return ImportReport(added, unchanged, conflicts, replaced)


_IMPORTED_COLUMNS = tuple(column.strip() for column in _RUN_COLUMNS.split(","))


def _imported_content(run: ImportedRun) -> list[Any]:
    return [
        tuple(run.row.get(column) for column in _IMPORTED_COLUMNS),
        sorted(run.parameters.items()),
        sorted(run.tags.items()),
        sorted(run.labels.items()),
        sorted((name, *value) for name, values in run.metrics.items() for value in values),
    ]


def _stored_content(connection: sqlite3.Connection, key: int) -> list[Any]:
    content: list[Any] = [
        connection.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE key = ?", (key,)).fetchone()
    ]
    for table in ("parameters", "tags", "labels"):
        content.append(
            connection.execute(
                f"SELECT name, value FROM {table} WHERE run_key = ? ORDER BY name", (key,)
            ).fetchall()
        )
    content.append(
        connection.execute(
            "SELECT name, seq, value, step, timestamp FROM metrics WHERE run_key = ? "
            "ORDER BY name, seq",
            (key,),
        ).fetchall()
    )
    return content


def _insert_imported(connection: sqlite3.Connection, run: ImportedRun) -> None:
    columns = [column for column in _IMPORTED_COLUMNS if column in run.row]
    cursor = connection.execute(
        f"INSERT INTO runs ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
        [run.row[column] for column in columns],
    )
    key = cursor.lastrowid
    for table, pairs in (
        ("parameters", run.parameters),
        ("tags", run.tags),
        ("labels", run.labels),
    ):
        connection.executemany(
            f"INSERT INTO {table} (run_key, name, value) VALUES (?, ?, ?)",
            [(key, name, value) for name, value in pairs.items()],
        )
    for name, values in run.metrics.items():
        if not values:
            continue
        connection.executemany(
            "INSERT INTO metrics (run_key, name, seq, value, step, timestamp) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(key, name, *value) for value in values[-HISTORY_WINDOW:]],
        )
        seq, value, step, timestamp = values[-1]
        connection.execute(
            "INSERT INTO latest_metrics (run_key, name, seq, step, timestamp, value) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key, name, seq, step, timestamp, value),
        )
