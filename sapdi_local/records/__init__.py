"""Stored runs and histories as the API shows them, below both the SDK and the explorer.

A file edited by hand or by another tool can hold what no sapdi-local writes. Every
reader (get_runs, the command line, the explorer) turns the store's records into ``Run``
objects and histories here, reading each field by the rule the SDK keeps when it writes it.
"""

from .checks import described, name_problem, number_problem, readable_names, time_problem
from .histories import histories_from_rows, read_collections, read_history, read_metric_stats
from .runs import (
    StoredRun,
    read_record,
    read_records,
    run_fields_from_columns,
    run_from_record,
    runs_from_columns,
    runs_from_records,
    shown_status,
    warn_unreadable,
)

__all__ = [
    "StoredRun",
    "described",
    "histories_from_rows",
    "name_problem",
    "number_problem",
    "read_collections",
    "read_history",
    "read_metric_stats",
    "read_record",
    "read_records",
    "readable_names",
    "run_fields_from_columns",
    "run_from_record",
    "runs_from_columns",
    "runs_from_records",
    "shown_status",
    "time_problem",
    "warn_unreadable",
]
