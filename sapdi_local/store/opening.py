"""Opening a database file: the connection every store uses, one place that closes a new
connection again when getting it ready fails, opening a file only to read it (as a fixed
snapshot where SQLite cannot share it with writers), checking that a file is ours without
writing to it, and how stored text that is not UTF-8 is read.

Nothing here locks or writes: ``database.py`` holds the ``Database`` that does.
"""

from __future__ import annotations

import sqlite3
import warnings
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import TypeVar

from ..errors import SchemaVersionError, SnapshotWarning, StorageError
from .schema import OLDEST_READABLE_VERSION, _schema_version

BUSY_TIMEOUT_SECONDS = 60.0

_Ready = TypeVar("_Ready")


def _is_read_only(error: sqlite3.Error) -> bool:
    """True for SQLite's "attempt to write a readonly database" and its kin."""
    text = str(error)
    return "readonly" in text or "read-only" in text


def lenient_text(data: bytes) -> str:
    """Stored text as readers show it: bytes that are not UTF-8 become U+FFFD."""
    return data.decode("utf-8", "replace")


def escaped_text(data: bytes) -> str:
    """Stored text with bytes that are not UTF-8 kept as lone surrogates, which the rules
    refuse (they have no UTF-8 form): how a merge sees text it must not let in."""
    return data.decode("utf-8", "surrogateescape")


# The SQL function behind the search language's ILIKE, on every connection: made once when
# the connection opens, since SQLite refuses to make it while a statement is under way.
CASEFOLD_FUNCTION = "sapdi_casefold"


def _connect(target: str, *, uri: bool = False) -> sqlite3.Connection:
    connection = sqlite3.connect(
        target,
        uri=uri,
        timeout=BUSY_TIMEOUT_SECONDS,
        isolation_level=None,
        check_same_thread=False,
    )
    connection.create_function(CASEFOLD_FUNCTION, 1, _casefold, deterministic=True)
    return connection


def _casefold(value: object) -> str | None:
    """Text (given as its bytes) in the case ILIKE compares: bytes that are not UTF-8, in
    a file edited by another tool, read as U+FFFD as readers show them. SQLite's driver
    would refuse to hand such text to a Python function at all."""
    return lenient_text(value).casefold() if isinstance(value, bytes) else None


def _connected(
    target: str, ready: Callable[[sqlite3.Connection], _Ready], *, uri: bool = False
) -> tuple[sqlite3.Connection, _Ready]:
    """A new connection to ``target`` and what ``ready(connection)`` returns (a check of the
    file, a migration); the connection closed again if ``ready`` raises anything, so that
    no failed open leaves a file handle behind."""
    connection = _connect(target, uri=uri)
    try:
        return connection, ready(connection)
    except BaseException:
        connection.close()
        raise


# SQLite's answers when a read-only connection cannot make or use the shared-memory index
# of a write-ahead log beside the file (a read-only folder or mount, another user's files).
_NO_SHARED_INDEX = (
    "SQLITE_READONLY_DIRECTORY",
    "SQLITE_READONLY_CANTINIT",
    "SQLITE_READONLY_RECOVERY",
    "SQLITE_READONLY_CANTLOCK",
    "SQLITE_CANTOPEN",
)


def open_read_only(path: Path) -> tuple[sqlite3.Connection, int, str | None]:
    """A connection that can only read ``path``, the file's schema version, and a note of
    what it cannot see, if anything. Never writes to the file or beside it.

    Where SQLite cannot share the write-ahead log's index (a read-only place), the file
    is read as a fixed snapshot (``immutable``): then writers elsewhere cannot be seen, and
    the note says so.
    """
    try:
        connection, version = _opened_read_only(path, "mode=ro")
        return connection, version, None
    except sqlite3.OperationalError as error:
        if getattr(error, "sqlite_errorname", "") not in _NO_SHARED_INDEX:
            raise _read_error(path, error) from error
    except sqlite3.DatabaseError as error:
        raise _read_error(path, error) from error
    try:
        connection, version = _opened_read_only(path, "mode=ro&immutable=1")
    except sqlite3.DatabaseError as error:
        raise _read_error(path, error) from error
    note = (
        f"{path} sits where SQLite cannot share it with writers (a read-only folder or "
        "mount): it is read as a snapshot, and runs that writers elsewhere add meanwhile "
        "are not seen"
    )
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        note += (
            f"; the last writes, still in {wal.name} ({wal.stat().st_size} bytes), are not "
            "read: ask its writer to close it or to `sapdi-local export` a copy"
        )
    warnings.warn(note, SnapshotWarning, stacklevel=2)
    return connection, version, note


def _opened_read_only(path: Path, options: str) -> tuple[sqlite3.Connection, int]:
    """A connection opened with the URI ``options`` and the file's readable version; the
    connection closed again if the file cannot be read."""
    return _connected(
        f"{path.absolute().as_uri()}?{options}",
        lambda connection: _readable_version(connection, path),
        uri=True,
    )


def _check_ours_without_writing(path: Path) -> None:
    """Raise unless the file at ``path`` can be read as one of ours without changing it."""
    try:
        with closing(_connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)) as connection:
            _schema_version(connection, path)
    except sqlite3.OperationalError as error:
        if getattr(error, "sqlite_errorname", "") in _NO_SHARED_INDEX:
            return  # a read-only place: the caller reads it as a snapshot
        raise StorageError(
            f"cannot check that {path} is a sapdi-local database without changing it ({error}): "
            "another program may be writing it, or crashed while writing it; nothing in it "
            "was changed: let that program finish, or choose another file"
        ) from error
    except sqlite3.DatabaseError as error:
        raise _read_error(path, error) from error


def _readable_version(connection: sqlite3.Connection, path: Path) -> int:
    version = _schema_version(connection, path)
    if version == 0:
        raise StorageError(
            f"{path} holds no sapdi-local database yet (it is empty); runs are written by the "
            "SDK (tracking.start_run) or `sapdi-local submit`, or choose another file with "
            "--db PATH or SAPDI_LOCAL_DB"
        )
    if version < OLDEST_READABLE_VERSION:
        raise SchemaVersionError(
            f"{path} has schema version {version}, older than this sapdi-local reads "
            f"({OLDEST_READABLE_VERSION} or newer); open it once with the SDK or "
            "`sapdi-local submit` where it may be written, which upgrades it, then read it"
        )
    return version


def _read_error(path: Path, error: sqlite3.Error) -> StorageError:
    text = str(error)
    if "not a database" in text or "malformed" in text:
        advice = "the file is damaged or not a database; ask for a new copy"
    elif "unable to open" in text:
        advice = "check that the file exists and that you may read it"
    elif "locked" in text:
        advice = (
            "another program holds a lock on it (a writer in rollback-journal mode, or one "
            "that crashed while writing); try again once it is done"
        )
    elif _is_read_only(error):
        advice = (
            "it needs recovery from a crash (a journal beside it), which only a process that "
            "may write the file can do; open it once where it may be written, or ask for a "
            "new copy"
        )
    else:
        advice = "check that the file is a complete sapdi-local database you may read"
    return StorageError(f"cannot read {path}: {text}; {advice}")
