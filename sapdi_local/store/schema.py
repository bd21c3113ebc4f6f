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
    """The schema version of the file at ``path``; an error if a newer sapdi-local wrote it or
    if it holds tables but is not a sapdi-local database."""
    # One statement, so one snapshot: read in two, the version could predate and the tables
    # follow a migration that another process commits in between, and a new database being
    # made by a second process would look like another application's file.
    version_number, table_names = connection.execute(
        "SELECT (SELECT user_version FROM pragma_user_version), "
        "(SELECT json_group_array(name) FROM sqlite_master WHERE type = 'table')"
    ).fetchone()
    version = int(version_number)
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{path} has schema version {version}, written by a newer sapdi-local; "
            f"this one reads up to version {SCHEMA_VERSION}: upgrade sapdi-local "
            "(pip install -U sapdi-local)"
        )
    if version == 0:
        tables = set(json.loads(table_names))
        if tables - {"_sqlite_migrations"}:
            raise StorageError(
                f"{path} is an SQLite file but not a sapdi-local database (it has tables "
                f"{', '.join(sorted(tables))}); choose another file with SAPDI_LOCAL_DB or "
                "db_path="
            )
    return version
