"""Runs copied between files: a snapshot of the database into a new file (all its runs or
some), and the runs of another file merged into ours."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import StorageError, TrackingError
from ..files import publish, refuse_existing, temporary_beside
from ..run_rules import check_run_content, shown
from .counts import METRIC_VALUES, add_to_count, holds_run_counts, recount_runs
from .imported import ImportedRun, import_runs
from .opening import escaped_text
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
    mode: int,
    replace: bool,
) -> None:
    """The copy ``ReadOnlyStore.export_copy`` makes: a backup of ``store`` made beside
    ``target``, self-contained (no write-ahead log, so it opens read-only anywhere), checked
    whole, then put in place with ``mode``."""
    refuse_existing(target, replace=replace)
    temporary = temporary_beside(target)
    copy = sqlite3.connect(temporary, isolation_level=None)
    try:
        with store._thread_lock:
            store.connection().backup(copy, pages=256, progress=_page_progress(progress))
        if keep_runs is not None:
            _keep_only(copy, keep_runs)
        # A rollback journal instead of the source's write-ahead log: a reader on a
        # read-only folder or mount needs no -wal or -shm file beside the copy.
        copy.execute("PRAGMA journal_mode=DELETE")
        problems = [row[0] for row in copy.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise StorageError(
                f"the copy of {store.path} failed SQLite's integrity check "
                f"({'; '.join(problems[:3])}) and was not written; check the database with "
                f"`sqlite3 {store.path} 'PRAGMA integrity_check'`"
            )
    except sqlite3.Error as error:
        copy.close()
        temporary.unlink(missing_ok=True)
        raise StorageError(f"cannot copy {store.path} to {target}: {error}") from error
    except BaseException:
        copy.close()
        temporary.unlink(missing_ok=True)
        raise
    copy.close()
    publish(temporary, target, mode=mode, replace=replace)


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
    # A copy of a file from a release before the stored counts has none to keep up.
    counted = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'stored_counts'"
    ).fetchone()
    for table in RUN_CHILD_TABLES:
        deleted = connection.execute(f"DELETE FROM {table} WHERE run_key IN {dropped}").rowcount
        if table == "metrics" and counted:
            add_to_count(connection, METRIC_VALUES, -deleted)
    connection.execute("DELETE FROM runs WHERE id NOT IN (SELECT id FROM temp.kept)")
    # Few runs are kept or many dropped: one count of those kept is the cheaper change.
    if holds_run_counts(connection):
        recount_runs(connection)
    connection.execute("COMMIT")
    connection.execute("VACUUM")


# ---------------------------------------------------------------- merging


class MergeReport(NamedTuple):
    """What a merge did: runs added, runs already present unchanged, conflicting ids, and
    runs refused by the rules (``{"run": id, "reason": ...}``), none of whose rows entered."""

    added: list[str]
    unchanged: list[str]
    conflicts: list[str]
    skipped: list[dict[str, str]]


def merge_from(
    store: Store,
    other: ReadOnlyStore,
    *,
    progress: Callable[[int], None] | None = None,
) -> MergeReport:
    """Bring into ``store`` the runs of ``other`` whose ids it lacks, with all their rows.

    ``other`` is read whole and every run checked by the rules of the SDK's own calls
    first, without the lock; then the runs that pass are written in one short transaction
    under the lock: all or nothing. A run that breaks a rule is skipped whole and reported.
    A run present in both with the same content is left alone (so merging twice adds
    nothing); with different content it is reported as a conflict and never overwritten.
    ``progress(runs)`` is called as runs are written.

    >>> from sapdi_local.store import ReadOnlyStore, Store
    >>> mine, theirs = Store(Path("mine.db")), ReadOnlyStore(sdk.db_path)
    >>> len(merge_from(mine, theirs).added)
    7
    >>> merge_from(mine, theirs).added  # merging twice adds nothing
    []
    >>> mine.close(); theirs.close()
    """
    if _same_file(store.path, other.path):
        raise StorageError(
            f"{other.path} is the database being merged into ({store.path}); merge another file"
        )
    runs, skipped = read_checked_runs(other)
    report = import_runs(store, runs, progress=progress)
    return MergeReport(report.added, report.unchanged, report.conflicts, skipped)


def _same_file(first: Path, second: Path) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them does not exist yet: they cannot be one file
        return False


def read_checked_runs(other: ReadOnlyStore) -> tuple[list[ImportedRun], list[dict[str, str]]]:
    """Every run of ``other`` with all its rows, read in one snapshot, and the runs that
    break a rule (``{"run": id, "reason": ...}``), left out whole."""
    with other._reading() as connection, _text_read_as(connection, escaped_text):
        rows = connection.execute(f"SELECT key, {_RUN_COLUMNS} FROM runs ORDER BY key")
        columns = [description[0] for description in rows.description][1:]
        by_key = {row[0]: dict(zip(columns, row[1:], strict=True)) for row in rows.fetchall()}
        pairs: dict[str, dict[Any, dict[Any, Any]]] = {}
        for table in ("parameters", "tags", "labels"):
            pairs[table] = {}
            for key, name, value in connection.execute(
                f"SELECT run_key, name, value FROM {table} ORDER BY run_key, name"
            ):
                pairs[table].setdefault(key, {})[name] = value
        metrics: dict[Any, dict[Any, list[tuple[Any, Any, Any, Any]]]] = {}
        for key, name, seq, value, step, timestamp in connection.execute(
            "SELECT run_key, name, seq, value, step, timestamp FROM metrics "
            "ORDER BY run_key, name, seq"
        ):
            metrics.setdefault(key, {}).setdefault(name, []).append((seq, value, step, timestamp))
    runs: list[ImportedRun] = []
    skipped: list[dict[str, str]] = []
    for key, row in by_key.items():
        run = ImportedRun(
            row=row,
            parameters=pairs["parameters"].get(key, {}),
            tags=pairs["tags"].get(key, {}),
            labels=pairs["labels"].get(key, {}),
            metrics=metrics.get(key, {}),
        )
        try:
            check_run_content(run.row, run.parameters, run.tags, run.labels, run.metrics)
        except TrackingError as error:
            skipped.append({"run": shown(row.get("id")), "reason": str(error)})
        else:
            runs.append(run)
    return runs, skipped


@contextmanager
def _text_read_as(
    connection: sqlite3.Connection, factory: Callable[[bytes], str]
) -> Iterator[None]:
    previous = connection.text_factory
    connection.text_factory = factory
    try:
        yield
    finally:
        connection.text_factory = previous
