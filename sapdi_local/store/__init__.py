"""The only package that speaks SQL: schema, migrations, persists and queries.

One SQLite file in WAL mode, written under a file lock in short transactions and read
without it. One concern per module:

- ``schema``: the numbered migrations and the checks that a file holds a usable database;
- ``selection``: which runs to read and in what order, and the SQL clauses they become;
- ``opening``: connecting to a file, reading one without writing, checking it is ours;
- ``database``: ``Database``, which opens, locks and migrates a file, its transactions
  and their errors;
- ``queries``: the reads every store offers;
- ``push_records``: what ``sapdi-local push`` sent to which target;
- ``writing``: ``Store``, which persists, deletes and vacuums;
- ``reading``: ``ReadOnlyStore``, which never creates, migrates or locks a file;
- ``copying``: a snapshot into a new file, and merging another file's runs;
- ``imported``: storing runs read from another tracker.

The rest of the package imports from here, never from the modules, and only when it needs
the database: ``import sapdi_local.tracking`` stays without sqlite3 and filelock.
"""

from .copying import MergeReport, merge_from
from .database import DEFAULT_LOCK_TIMEOUT, FILE_MODE
from .imported import ImportedRun, ImportReport, import_runs
from .opening import BUSY_TIMEOUT_SECONDS
from .push_records import PushState
from .reading import ReadOnlyStore
from .schema import (
    APPLICATION_ID,
    MIGRATION_SET,
    MIGRATIONS,
    MIGRATIONS_TABLE,
    RUN_CHILD_TABLES,
    SCHEMA_VERSION,
    apply_migrations,
)
from .selection import RunColumns, RunFilter, RunRecord
from .writing import RUN_UPDATE_COLUMNS, PersistBatch, Store

__all__ = [
    "APPLICATION_ID",
    "BUSY_TIMEOUT_SECONDS",
    "DEFAULT_LOCK_TIMEOUT",
    "FILE_MODE",
    "MIGRATIONS",
    "MIGRATIONS_TABLE",
    "MIGRATION_SET",
    "RUN_CHILD_TABLES",
    "RUN_UPDATE_COLUMNS",
    "SCHEMA_VERSION",
    "ImportReport",
    "ImportedRun",
    "MergeReport",
    "PersistBatch",
    "PushState",
    "ReadOnlyStore",
    "RunColumns",
    "RunFilter",
    "RunRecord",
    "Store",
    "apply_migrations",
    "import_runs",
    "merge_from",
]

# The search language's query (issue 14).
from .search import search_run_records  # noqa: E402

__all__ += ["search_run_records"]
