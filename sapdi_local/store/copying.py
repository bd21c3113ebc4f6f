"""Runs copied between files: a snapshot of the database into a new file (all its runs or
some), and the runs of another file merged into ours."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import StorageError
from .database import FILE_MODE
from .schema import _RUN_COLUMNS, RUN_CHILD_TABLES

if TYPE_CHECKING:
    from pathlib import Path

    from .reading import ReadOnlyStore
    from .writing import Store

# ---------------------------------------------------------------- exporting


def _export_copy(
    store: ReadOnlyStore,
    target: Path,
    *,
    keep_runs: Sequence[str] | None,
    progress: Callable[[int, int], None] | None,
) -> None:
    """The copy ``ReadOnlyStore.export_copy`` makes: a backup of ``store`` into ``target``."""
    if target.exists():
        raise StorageError(f"{target} already exists; remove it or choose another file")
    os.close(os.open(target, os.O_CREAT | os.O_RDWR | os.O_EXCL, FILE_MODE))
    copy = sqlite3.connect(target, isolation_level=None)
    try:
        with store._thread_lock:
            store.connection().backup(copy, pages=256, progress=_page_progress(progress))
        if keep_runs is not None:
            _keep_only(copy, keep_runs)
    except sqlite3.Error as error:
        copy.close()
        target.unlink()
        raise StorageError(f"cannot copy {store.path} to {target}: {error}") from error
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
