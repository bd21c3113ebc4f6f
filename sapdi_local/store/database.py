"""One database file, shared by every store: ``Database``, which opens it (with
``opening.py``), brings it to the current schema, locks it, and runs its transactions and
says their errors.

One SQLite file in WAL mode. Writers take a ``filelock.FileLock`` beside the
file and then one short ``BEGIN IMMEDIATE`` transaction; SQLite's busy timeout
is a second guard. Readers never take the lock. A file opened for writing is brought
to the current schema under the lock.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import update_wrapper
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Concatenate, ParamSpec, TypeVar

from ..errors import (
    LockTimeoutError,
    RunNotFoundError,
    SnapshotWarning,
    StorageError,
    TrackingError,
)
from ..paths import lock_path_for
from .opening import (
    _check_ours_without_writing,
    _connected,
    _is_read_only,
    lenient_text,
    open_read_only,
)
from .places import network_write_refusal, on_read_only_filesystem, read_only_reason
from .schema import SCHEMA_VERSION, _schema_version, apply_migrations

if TYPE_CHECKING:
    from filelock import FileLock

    from .writing import PersistBatch

DEFAULT_LOCK_TIMEOUT = 60.0
FILE_MODE = 0o600
_IN_CHUNK = 500  # ids per "IN (...)" list, well under SQLite's variable limit
_inherited_connections: list[sqlite3.Connection] = []


_Result = TypeVar("_Result")
_Arguments = ParamSpec("_Arguments")
_Store = TypeVar("_Store", bound="Database")


def decoded_read(
    method: Callable[Concatenate[_Store, _Arguments], _Result],
) -> Callable[Concatenate[_Store, _Arguments], _Result]:
    """A read of a store, made again with U+FFFD for text that is not UTF-8 when a store
    that shows such text (``Database.shows_undecodable_text``) fails to decode it."""

    def read(self: _Store, /, *args: _Arguments.args, **kwargs: _Arguments.kwargs) -> _Result:
        return self.decoded(lambda: method(self, *args, **kwargs))

    update_wrapper(read, method)
    return read


class Database:
    """One database file: opened on first use, and read or written in short transactions;
    the stores add what they read and write."""

    # Whether reads show text that is not UTF-8 with U+FFFD in its place (readers of any
    # file) rather than fail on it (the SDK's own store, which reads what it wrote).
    shows_undecodable_text: ClassVar[bool] = False

    def __init__(self, path: Path, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.path = path
        self.lock_path = lock_path_for(path)
        self.lock_timeout = lock_timeout
        self._connection: sqlite3.Connection | None = None
        self._file_lock: FileLock | None = None
        self._opened_in_pid = -1
        self._thread_lock = threading.RLock()
        # Why this process may only read the file (a read-only place, a network
        # filesystem), said by every write; None where it may write.
        self._write_refusal: str | None = None
        # Set when the file could only be opened as a fixed snapshot: what a reader misses.
        self.snapshot_note: str | None = None
        self._lock_started = 0.0
        self._opened_identity: tuple[int, int] | None = None
        # Set once a read met text that is not UTF-8: reads decode leniently from then on.
        # Until then text is decoded by SQLite's driver in C, twice as fast for text-heavy
        # reads as any decoding function called from Python.
        self.decoding_leniently = False

    # ---- opening

    def connection(self) -> sqlite3.Connection:
        """The open connection, made (and the schema made ready) on first use in this process,
        and made again when the file at the path is no longer the one it has open."""
        if self._connection is not None and self._opened_in_pid == os.getpid():
            if self._file_identity() == self._opened_identity:
                return self._connection
            # Replaced (a new copy moved over it) or removed: the old connection would go on
            # reading, or writing into, a file nobody sees any more.
            self.close()
        if self._connection is not None and self._opened_in_pid != os.getpid():
            # Inherited through fork: never used nor closed here (closing it could
            # disturb the parent's locks), only kept from being garbage-collected.
            _inherited_connections.append(self._connection)
        self._connection = self._open()
        self._opened_in_pid = os.getpid()
        self._opened_identity = self._file_identity()
        return self._connection

    def _file_identity(self) -> tuple[int, int] | None:
        try:
            status = os.stat(self.path)
        except OSError:
            return None
        return status.st_dev, status.st_ino

    def _open(self) -> sqlite3.Connection:
        self._write_refusal = None
        self.snapshot_note = None
        refusal = network_write_refusal(self.path)
        if self.path.exists() and not self.path.is_file():
            raise StorageError(
                f"{self.path} is not a regular file (a folder, a device or a pipe); choose a "
                "database file with SAPDI_LOCAL_DB, --db or db_path="
            )
        if self.path.is_file() and self.path.stat().st_size > 0:
            # Checked over a read-only connection first: opened for writing, SQLite would
            # checkpoint another application's write-ahead log or roll back its hot journal
            # before we could see whose file it is.
            _check_ours_without_writing(self.path)
        if self.path.is_file():
            reason = read_only_reason(self.path)
            if refusal is None and reason is not None:
                refusal = f"this process may not write it here; {self._read_only_advice()}"
            if refusal is not None:
                # Read without writing anything; a write says why it cannot be made.
                reading, _, self.snapshot_note = open_read_only(self.path)
                self._write_refusal = refusal
                return reading
        elif refusal is not None:
            raise StorageError(f"cannot create a database at {self.path}: {refusal}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as error:
            raise StorageError(
                f"cannot create the folder {self.path.parent} for the database: {error.strerror}; "
                "choose a writable location with SAPDI_LOCAL_DB or db_path="
            ) from error
        self._file_lock = None  # made when first needed: a process that only reads never locks
        try:
            if not self.path.exists():
                with self._locked():
                    # Created here, not by sqlite3, so that only the owner can read it.
                    os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, FILE_MODE))
            connection, _ = _connected(str(self.path), self._made_ready)
            return connection
        except sqlite3.DatabaseError as error:
            raise self._storage_error("open", error) from error
        except TrackingError:
            raise
        except OSError as error:
            raise StorageError(
                f"cannot create or open {self.path}: {error.strerror or error}; choose a "
                "writable location with SAPDI_LOCAL_DB or db_path="
            ) from error

    def _made_ready(self, connection: sqlite3.Connection) -> None:
        """The file of a new connection brought to the current schema (under the lock)."""
        version = _schema_version(connection, self.path)
        if version != SCHEMA_VERSION:
            with self._locked():
                self._bound_busy_wait(connection, self._lock_started)
                self._migrate(connection)
        connection.execute("PRAGMA synchronous=NORMAL")

    def _lock(self) -> FileLock:
        if self._file_lock is None:
            from filelock import FileLock

            self._file_lock = FileLock(self.lock_path, timeout=self.lock_timeout, mode=FILE_MODE)
        return self._file_lock

    def _migrate(self, connection: sqlite3.Connection) -> None:
        # Re-read under the lock: another process may have migrated while we waited.
        if _schema_version(connection, self.path) == SCHEMA_VERSION:
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

    def file_size(self) -> int:
        """Bytes the database takes on disk: the file and its write-ahead log."""
        wal = self.path.with_name(self.path.name + "-wal")
        return sum(part.stat().st_size for part in (self.path, wal) if part.exists())

    def close(self) -> None:
        if self._connection is not None and self._opened_in_pid == os.getpid():
            self._connection.close()
        self._connection = None

    # ---- transactions

    @contextmanager
    def _locked(self) -> Iterator[None]:
        lock = self._lock()
        from filelock import Timeout

        self._lock_started = time.monotonic()
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
            connection = self.writable_connection()
            with self._locked():
                try:
                    self._bound_busy_wait(connection, self._lock_started)
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

    def writable_connection(self) -> sqlite3.Connection:
        """The connection, once this process may write the file; else the reason it may
        not, as a StorageError, before any lock is taken."""
        connection = self.connection()
        if self._write_refusal is not None:
            self.close()  # the place may have become writable since it was opened
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SnapshotWarning)  # said once, at first open
                connection = self.connection()
            if self._write_refusal is not None:
                raise StorageError(f"cannot write to {self.path}: {self._write_refusal}")
        return connection

    def _bound_busy_wait(self, connection: sqlite3.Connection, since: float) -> None:
        """Let SQLite wait for its own write lock (held by a process that ignores our lock
        file) only for what is left of ``lock_timeout``, so that one bound covers both."""
        left = self.lock_timeout - (time.monotonic() - since)
        connection.execute(f"PRAGMA busy_timeout = {max(int(left * 1000), 0)}")

    @contextmanager
    def _reading(self, *, streamed: bool = False) -> Iterator[sqlite3.Connection]:
        """One read transaction without the file lock: every query in it sees one snapshot,
        so a read never shows half of a persist that commits meanwhile.

        A ``streamed`` read, whose rows are written out as they come and so cannot be read
        again, decodes leniently from the start where this store shows text that is not
        UTF-8 (see ``decoded``)."""
        lenient = self.decoding_leniently or (streamed and self.shows_undecodable_text)
        with self._thread_lock:
            try:
                connection = self.connection()
                connection.text_factory = lenient_text if lenient else str
                connection.execute("BEGIN")
                try:
                    yield connection
                finally:
                    if connection.in_transaction:
                        connection.execute("COMMIT")
            except sqlite3.Error as error:
                raise self._storage_error("read", error) from error

    def decoded(self, read: Callable[[], _Result]) -> _Result:
        """``read()``, and read again leniently if it met text that is not UTF-8 and this
        store shows such text (reads repeat safely: each is one snapshot of its own)."""
        try:
            return read()
        except StorageError as error:
            cause = error.__cause__
            if (
                not self.shows_undecodable_text
                or self.decoding_leniently
                or not isinstance(cause, sqlite3.OperationalError)
                or "decode" not in str(cause)
            ):
                raise
        self.decoding_leniently = True
        return read()

    def _storage_error(self, action: str, error: sqlite3.Error) -> StorageError:
        text = str(error)
        reading = action == "read"
        if "not a database" in text or "malformed" in text:
            advice = "the file is damaged or not a database: move it away and start a new one"
        elif "locked" in text and not reading:
            return LockTimeoutError(
                f"cannot {action} {self.path}: another process held SQLite's write lock for "
                f"the whole {self.lock_timeout:g} s of lock_timeout; nothing logged is lost: "
                "persist again later, or raise lock_timeout"
            )
        elif reading:
            advice = "check that the file is a complete sapdi-local database you may read"
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
        if on_read_only_filesystem(self.path):
            return (
                f"{self.path.parent} is on a filesystem mounted read-only; write to a "
                "database elsewhere (SAPDI_LOCAL_DB or db_path=) and merge it later, or "
                "remount it writable"
            )
        return self._file_mode_advice()

    def _file_mode_advice(self) -> str:
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

    # ---- helpers

    def _run_key(self, connection: sqlite3.Connection, run_id: str) -> int:
        row = connection.execute("SELECT key FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFoundError(
                f"no run with id {run_id!r} in {self.path}; check the id with get_runs"
            )
        return int(row[0])

    @staticmethod
    def _run_keys(connection: sqlite3.Connection, run_ids: Iterable[str]) -> dict[str, int]:
        keys: dict[str, int] = {}
        for chunk in _chunks(list(run_ids)):
            marks = ", ".join("?" for _ in chunk)
            keys.update(
                connection.execute(f"SELECT id, key FROM runs WHERE id IN ({marks})", chunk)
            )
        return keys


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]
