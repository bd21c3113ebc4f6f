"""Moving runs between trackers: reading the runs of other trackers (MLflow's SQLite files
and tracking servers, trackio's project databases) into ``store.ImportedRun``s that
``store.import_runs`` writes, and pushing our runs to an MLflow tracking server.

The SQL of our own database stays in ``sapdi_local.store`` (``imported.py`` writes imported
runs, ``push_records.py`` remembers what was pushed where); this package reads the foreign
side and talks to MLflow. It sits above the store and below the command line: it never
imports the command line, the SDK, ``tracking`` or the explorer.
"""

from .mlflow import (
    is_mlflow_file,
    mlflow_client,
    mlflow_file_path,
    read_mlflow_client,
    read_mlflow_file,
)
from .push_mapping import PushReport
from .pushing import push_runs
from .runs import ReadReport
from .trackio import read_trackio

__all__ = [
    "PushReport",
    "ReadReport",
    "is_mlflow_file",
    "mlflow_client",
    "mlflow_file_path",
    "push_runs",
    "read_mlflow_client",
    "read_mlflow_file",
    "read_trackio",
]
