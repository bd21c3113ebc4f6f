"""The schema: its numbered migrations, and the checks that a file holds a database this
version can use.

The schema is created by numbered migrations, recorded in the file and in ``PRAGMA
user_version``; the store applies them under the lock.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

from ..errors import SchemaVersionError, StorageError

if TYPE_CHECKING:
    from pathlib import Path

MIGRATION_SET = "sapdi-local"
# PRAGMA application_id of our files ("SAPD" in ASCII): a file without it is not ours,
# unless its migration records show an older release of ours wrote it.
APPLICATION_ID = 0x53415044


# Fills an empty ``run_counts`` from ``runs``: by migration 0006, and by a bulk change.
COUNT_EVERY_RUN = (
    'INSERT INTO "run_counts" (scenario, collection, runs) '
    'SELECT scenario, collection, COUNT(*) FROM "runs" GROUP BY scenario, collection'
)

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
    (
        # The mark that tells our files from any other SQLite file, checked before anything
        # is written to a file.
        "0004_application_id",
        (f"PRAGMA application_id = {APPLICATION_ID}",),
    ),
    (
        # Pages of a large file cost their own rows: the run list's order (newest first)
        # within a scenario and collection, or within a collection, and a metric's last
        # value, each walked in an index, so that the first page of 100,000 runs stops
        # after its rows instead of sorting them all. The stored values are counted as
        # they are written (one row, see STORED_COUNTS), not by a scan of every value.
        "0005_page_indexes",
        (
            'DROP INDEX "idx_runs_scenario_collection"',
            'CREATE INDEX "idx_runs_scenario_collection_start" '
            'ON "runs" ("scenario", "collection", "start_time")',
            'CREATE INDEX "idx_runs_collection_start" ON "runs" ("collection", "start_time")',
            'CREATE INDEX "idx_latest_metrics_name_value" ON "latest_metrics" ("name", "value")',
            'CREATE INDEX "idx_parameters_name" ON "parameters" ("name")',
            """CREATE TABLE "stored_counts" (
               "name" TEXT PRIMARY KEY,
               "value" INTEGER NOT NULL
            )""",
            'INSERT INTO "stored_counts" (name, value) '
            "SELECT 'metric_values', COUNT(*) FROM \"metrics\"",
        ),
    ),
    (
        # The runs of each (scenario, collection) counted as they are written: the file's
        # summary and a collection page's total read these rows, not every run.
        "0006_run_counts",
        (
            """CREATE TABLE "run_counts" (
               "scenario" TEXT,
               "collection" TEXT NOT NULL,
               "runs" INTEGER NOT NULL
            )""",
            # One row per pair, a NULL scenario included (a UNIQUE on the plain columns
            # would take every NULL as distinct), found by its collection when counting.
            'CREATE UNIQUE INDEX "idx_run_counts_pair" ON "run_counts" '
            '("collection", "scenario" IS NULL, IFNULL("scenario", \'\'))',
            COUNT_EVERY_RUN,
        ),
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
# Files of schema version 3 differ from 4 only by the application_id mark, which reads never
# need: a reader (who may not write, and so cannot migrate) opens them as they are.
OLDEST_READABLE_VERSION = 3
# The tables each schema version holds, by the version that made them.
TABLES_SINCE = {
    "_sqlite_migrations": 1,
    "runs": 1,
    "parameters": 1,
    "tags": 1,
    "labels": 1,
    "metrics": 1,
    "latest_metrics": 1,
    "pushed_runs": 3,
    "pushed_metrics": 3,
    "stored_counts": 5,
    "run_counts": 6,
}
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
# The columns of ``runs`` besides ``key``, which is local to each file: what a run merged or
# imported from elsewhere carries.
_RUN_COLUMNS = (
    "id, name, collection, collection_is_default, scenario, scenario_version, notebook, "
    "pipeline, execution, status, start_time, end_time, host, pid, pid_started"
)


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


def _schema_version(connection: sqlite3.Connection, path: Path) -> int:
    """The schema version of the file at ``path``, once it is known to be ours: an error
    if a newer sapdi-local wrote it, or if it is any other application's SQLite file.

    Reads only, so a file that is not ours is refused before a byte of it changes. A file
    is ours when it carries our ``application_id``; files of releases before that mark are
    recognised by their migration records, which only our migrations write. An empty file
    (no tables, no marks) is a new database."""
    # One read transaction, so one snapshot: read apart, the version could predate and the
    # tables follow a migration that another process commits in between, and a database
    # being made by a second process would look like another application's file.
    began = not connection.in_transaction
    if began:
        connection.execute("BEGIN")
    try:
        version, application_id, objects, columns, keyed = connection.execute(
            "SELECT (SELECT user_version FROM pragma_user_version), "
            "(SELECT application_id FROM pragma_application_id), "
            "(SELECT json_group_object(name, type) FROM sqlite_master "
            " WHERE type IN ('table', 'view', 'trigger') AND name NOT LIKE 'sqlite_%'), "
            "(SELECT json_group_array(m.name || '.' || c.name) "
            " FROM sqlite_master AS m, pragma_table_info(m.name) AS c "
            " WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'), "
            # runs.key is the rowid (INTEGER PRIMARY KEY, alone): one key per run.
            "(SELECT COUNT(*) = 1 AND MAX(name = 'key' AND upper(type) = 'INTEGER') "
            " FROM pragma_table_info('runs') WHERE pk > 0)"
        ).fetchone()
        kinds: dict[str, str] = json.loads(objects)
        present_columns = set(json.loads(columns))
        records: list[tuple[str, str]] = []
        if kinds.get("_sqlite_migrations") == "table":
            records = connection.execute(
                "SELECT migration_set, name FROM _sqlite_migrations ORDER BY id"
            ).fetchall()
    finally:
        if began and connection.in_transaction:
            connection.execute("COMMIT")
    version = int(version)
    ours = [name for migration_set, name in records if migration_set == MIGRATION_SET]
    if application_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{path} has schema version {version}, written by a newer sapdi-local; "
                f"this one reads up to version {SCHEMA_VERSION}: upgrade sapdi-local "
                "(pip install -U sapdi-local)"
            )
        _require_tables(path, kinds, present_columns, version, runs_keyed=bool(keyed))
        return version
    if application_id == 0 and version == 0 and not set(kinds) - {"_sqlite_migrations"}:
        if len(ours) == len(records):
            return 0  # a new, empty database
    elif (
        application_id == 0
        and 0 < version <= SCHEMA_VERSION
        and records == [(MIGRATION_SET, name) for name, _ in MIGRATIONS[:version]]
    ):
        _require_tables(path, kinds, present_columns, version, runs_keyed=bool(keyed))
        return version  # written by a release before the application_id mark
    found = _describe(application_id, version, kinds)
    raise StorageError(
        f"{path} is an SQLite file but not a sapdi-local database ({found}); nothing in it was "
        "changed; choose another file with SAPDI_LOCAL_DB, --db or db_path="
    )


def _describe(application_id: int, version: int, kinds: dict[str, str]) -> str:
    parts = []
    if application_id:
        parts.append(f"application_id {application_id}")
    if version:
        parts.append(f"user_version {version}")
    if kinds:
        names = sorted(kinds)
        shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        parts.append(f"tables {shown}")
    return "; ".join(parts) or "unmarked"


def _require_tables(
    path: Path, kinds: dict[str, str], columns: set[str], version: int, *, runs_keyed: bool
) -> None:
    """The tables a file at ``version`` must hold, as tables (never views) with every column
    we read, ``runs`` keyed by its rowid (``runs_keyed``: each run's key its own), and no
    triggers: a file marked as ours that differs was damaged or changed by another tool,
    and reading or writing it could run anything it holds."""
    needed = [name for name, since in TABLES_SINCE.items() if since <= version]
    missing = [name for name in needed if kinds.get(name) != "table"]
    if missing:
        raise StorageError(
            f"{path} is marked as a sapdi-local database but lacks the tables "
            f"{', '.join(missing)}; the file is damaged: move it away and start a new one, or "
            "restore it from a copy"
        )
    lacking = [
        f"{table}.{column}"
        for table in needed
        for column in _COLUMNS.get(table, ())
        if f"{table}.{column}" not in columns
    ]
    if lacking:
        raise StorageError(
            f"{path} is marked as a sapdi-local database but lacks the columns "
            f"{', '.join(lacking[:8])}; the file was changed by another tool: restore it from "
            "a copy, or ask for a new export"
        )
    if not runs_keyed:
        raise StorageError(
            f"{path} is marked as a sapdi-local database but its runs table is not keyed by "
            "runs.key (INTEGER PRIMARY KEY), so two runs could share a key: the file was changed "
            "by another tool: restore it from a copy, or ask for a new export"
        )
    triggers = sorted(name for name, kind in kinds.items() if kind == "trigger")
    if triggers:
        raise StorageError(
            f"{path} is marked as a sapdi-local database but holds triggers "
            f"({', '.join(triggers[:8])}), which sapdi-local never writes: the file was changed "
            "by another tool and is not opened; drop them with sqlite3 if you made them, or ask "
            "for a new export"
        )


_METRIC_COLUMNS = ("run_key", "name", "seq", "step", "timestamp", "value")
_PAIR_COLUMNS = ("run_key", "name", "value")
# The columns each table must have for our queries to read it.
_COLUMNS: dict[str, tuple[str, ...]] = {
    "runs": ("key", *(column.strip() for column in _RUN_COLUMNS.split(","))),
    "parameters": _PAIR_COLUMNS,
    "tags": _PAIR_COLUMNS,
    "labels": _PAIR_COLUMNS,
    "metrics": _METRIC_COLUMNS,
    "latest_metrics": _METRIC_COLUMNS,
    "pushed_runs": ("target", "run_key", "remote_id", "content_hash", "in_flight", "pushed_at"),
    "pushed_metrics": ("target", "run_key", "name", "seq", "count"),
    "_sqlite_migrations": ("id", "migration_set", "name", "applied_at"),
    "stored_counts": ("name", "value"),
    "run_counts": ("scenario", "collection", "runs"),
}
