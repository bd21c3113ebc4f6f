"""The counts a file keeps as its rows change, so that summaries and page totals read a
few rows instead of every run or value: ``stored_counts`` (the stored metric values) and
``run_counts`` (the runs of each scenario and collection), both made by the migrations in
``schema``. Every write that changes what they count changes them in its own transaction."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable
from typing import Any

from .schema import COUNT_EVERY_RUN, TABLES_SINCE

# The counts kept in ``stored_counts`` as rows change: every statement that inserts or
# deletes metric values adds what it changed (``cursor.rowcount``) with ``add_to_count``.
METRIC_VALUES = "metric_values"


def add_to_count(connection: sqlite3.Connection, name: str, change: int) -> None:
    """Add ``change`` to the stored count ``name`` inside the caller's transaction.

    A file at a schema before ``stored_counts`` is migrated before any write, so the table
    is there whenever this runs."""
    if change:
        connection.execute(
            "UPDATE stored_counts SET value = value + ? WHERE name = ?", (change, name)
        )


# The schema version that made ``run_counts``: a file of an earlier one, read where it is
# (a reader never migrates), has its runs counted one by one.
RUN_COUNTS_SINCE = TABLES_SINCE["run_counts"]
# What ``keep_run_counts`` needs of each run that leaves its (scenario, collection): read
# from ``runs`` before the run is deleted or re-filed.
RUN_PAIR_COLUMNS = "scenario, collection"


def keep_run_counts(
    connection: sqlite3.Connection,
    *,
    added_keys: Iterable[int] = (),
    removed_pairs: Iterable[tuple[Any, Any]] = (),
) -> None:
    """Keep ``run_counts`` exact inside the caller's transaction, once ``runs`` has changed:
    ``added_keys`` are the keys of runs now in their (scenario, collection), inserted or
    re-filed into it; ``removed_pairs`` the ``RUN_PAIR_COLUMNS`` of runs that left theirs,
    deleted or re-filed out of it.

    Each added run is one update of its pair's row (or an insert of it); each pair runs left
    is one update, and the pair's row goes once it holds no run. A file at a schema before
    ``run_counts`` is migrated before any write, so the table is there whenever this runs."""
    left = Counter((scenario, collection) for scenario, collection in removed_pairs)
    if left:
        changes = [(scenario, collection, runs) for (scenario, collection), runs in left.items()]
        connection.executemany(
            "UPDATE run_counts SET runs = runs - ?3 WHERE collection = ?2 AND scenario IS ?1",
            changes,
        )
        connection.executemany(
            "DELETE FROM run_counts WHERE collection = ?2 AND scenario IS ?1 AND runs <= 0",
            [(scenario, collection) for scenario, collection, _ in changes],
        )
    for key in added_keys:
        # An update, else an insert, rather than an upsert: an upsert needs the unique
        # index, and a file whose index another tool dropped must still take new runs.
        changed = connection.execute(
            "UPDATE run_counts SET runs = runs + 1 "
            "WHERE collection = (SELECT collection FROM runs WHERE key = ?1) "
            "AND scenario IS (SELECT scenario FROM runs WHERE key = ?1)",
            (key,),
        ).rowcount
        if not changed:
            connection.execute(
                "INSERT INTO run_counts (scenario, collection, runs) "
                "SELECT scenario, collection, 1 FROM runs WHERE key = ?",
                (key,),
            )


# A kept count no sapdi-local writes (another tool's): not a whole number, negative, or
# past what a float holds exactly (sums of counts are read as floats). Readers count the
# runs themselves where a selected count is one.
RUN_COUNT_OUT_OF_RANGE = "typeof(runs) <> 'integer' OR runs < 0 OR runs > 9007199254740992"


def recount_runs(connection: sqlite3.Connection) -> None:
    """Count every run again into ``run_counts``, inside the caller's transaction: after a
    change to many runs at once, where one scan costs less than a change per run."""
    connection.execute("DELETE FROM run_counts")
    connection.execute(COUNT_EVERY_RUN)


def holds_run_counts(connection: sqlite3.Connection) -> bool:
    """Whether the file holds ``run_counts``: a file of an earlier schema, read without
    migrating, does not (and a table of that name there is not ours)."""
    (held,) = connection.execute(
        "SELECT (SELECT user_version FROM pragma_user_version) >= ? AND EXISTS ("
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'run_counts')",
        (RUN_COUNTS_SINCE,),
    ).fetchone()
    return bool(held)
