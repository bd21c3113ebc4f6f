"""Runs read from another tracker (MLflow, trackio), stored in ours."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ..collector import collector_paused
from ..validation import HISTORY_WINDOW
from .counts import METRIC_VALUES, RUN_PAIR_COLUMNS, add_to_count, keep_run_counts
from .schema import _RUN_COLUMNS, RUN_CHILD_TABLES

if TYPE_CHECKING:
    from .writing import Store


class ImportedRun(NamedTuple):
    """A run read from another tracker, ready to store: ``row`` holds ``runs`` columns
    (without ``key``); labels are JSON text; metrics are per name (seq, value, step,
    timestamp) rows, oldest first, at most the history window of them."""

    row: dict[str, Any]
    parameters: dict[str, str]
    tags: dict[str, str]
    labels: dict[str, str]
    metrics: dict[str, list[tuple[int, float, int | None, float]]]


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

    >>> from sapdi_local.interop.trackio import read_trackio
    >>> runs = read_trackio(Path("~/.cache/huggingface/trackio/demo.db").expanduser()).runs
    >>> len(import_runs(store, runs).added)
    2
    >>> import_runs(store, runs).added  # importing twice adds nothing
    []
    """
    added: list[str] = []
    unchanged: list[str] = []
    conflicts: list[str] = []
    replaced: list[str] = []
    with collector_paused(), store._write() as connection:
        for run in runs:
            run_id = run.row["id"]
            existing = connection.execute("SELECT key FROM runs WHERE id = ?", (run_id,))
            row = existing.fetchone()
            if row is not None:
                if _stored_content(connection, row[0]) == _imported_content(run):
                    unchanged.append(run_id)
                elif replace:
                    for table in RUN_CHILD_TABLES:
                        deleted = connection.execute(
                            f"DELETE FROM {table} WHERE run_key = ?", (row[0],)
                        ).rowcount
                        if table == "metrics":
                            add_to_count(connection, METRIC_VALUES, -deleted)
                    replaced_pair = connection.execute(
                        f"SELECT {RUN_PAIR_COLUMNS} FROM runs WHERE key = ?", (row[0],)
                    ).fetchone()
                    connection.execute("DELETE FROM runs WHERE key = ?", (row[0],))
                    keep_run_counts(connection, removed_pairs=[replaced_pair])
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
    assert key is not None  # an INSERT into a rowid table sets it
    keep_run_counts(connection, added_keys=[key])
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
        inserted = connection.executemany(
            "INSERT INTO metrics (run_key, name, seq, value, step, timestamp) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(key, name, *value) for value in values[-HISTORY_WINDOW:]],
        ).rowcount
        add_to_count(connection, METRIC_VALUES, inserted)
        seq, value, step, timestamp = values[-1]
        connection.execute(
            "INSERT INTO latest_metrics (run_key, name, seq, step, timestamp, value) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key, name, seq, step, timestamp, value),
        )
