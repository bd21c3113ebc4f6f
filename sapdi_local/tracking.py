"""The tracking API as module functions, each delegating to one process-wide MLTrackingSDK.

>>> from sapdi_local import tracking
>>> run = tracking.start_run(run_collection_name="rc1")
>>> tracking.log_metric("accuracy", 0.9)
>>> tracking.end_run()
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import TrackingError
from .model import HistoryList, MetricHistory, MetricValue, Notebook, Run, RunList, Scenario
from .sdk import ActiveRun, MLTrackingSDK

if TYPE_CHECKING:
    import pandas

__all__ = [
    "ActiveRun",
    "MLTrackingSDK",
    "MetricHistory",
    "MetricValue",
    "Notebook",
    "Run",
    "Scenario",
    "TrackingError",
    "delete_runs",
    "end_run",
    "get_default_sdk",
    "get_metrics_history",
    "get_runs",
    "log_metric",
    "log_metrics",
    "log_parameters",
    "metrics_frame",
    "persist_run",
    "runs_frame",
    "set_default_sdk",
    "set_labels",
    "set_tags",
    "start_run",
    "update_run_info",
]

_default = MLTrackingSDK()  # cheap: nothing is read or resolved until first used


def get_default_sdk() -> MLTrackingSDK:
    """The MLTrackingSDK that the module functions use."""
    return _default


def set_default_sdk(sdk: MLTrackingSDK) -> MLTrackingSDK:
    """Make ``sdk`` the one the module functions use; returns the previous one.

    >>> set_default_sdk(MLTrackingSDK(db_path="/tmp/other.db"))
    """
    global _default
    previous, _default = _default, sdk
    return previous


def start_run(run_collection_name: str | None = None, run_name: str | None = None) -> ActiveRun:
    """Start a run; see MLTrackingSDK.start_run. ``with start_run() as run:`` ends it."""
    return _default.start_run(run_collection_name, run_name)


def end_run() -> None:
    """End the active run and persist; see MLTrackingSDK.end_run."""
    return _default.end_run()


def log_metric(
    name: str,
    value: float,
    run: Run | str | None = None,
    step: int | None = None,
    timestamp: float | None = None,
) -> None:
    """Log one metric value; see MLTrackingSDK.log_metric."""
    return _default.log_metric(name, value, run, step, timestamp)


def log_metrics(
    metrics: Mapping[str, float] | Iterable[Mapping[str, Any]], run: Run | str | None = None
) -> None:
    """Log several metric values; see MLTrackingSDK.log_metrics."""
    return _default.log_metrics(metrics, run)


def log_parameters(
    parameters: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None = None,
    name: str | None = None,
    value: Any = None,
    run: Run | str | None = None,
) -> None:
    """Log parameters; see MLTrackingSDK.log_parameters."""
    return _default.log_parameters(parameters, name, value, run)


def set_tags(
    tags: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None = None,
    name: str | None = None,
    value: Any = None,
    run: Run | str | None = None,
) -> None:
    """Set tags; see MLTrackingSDK.set_tags."""
    return _default.set_tags(tags, name, value, run)


def set_labels(
    labels: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None = None,
    name: str | None = None,
    value: Any = None,
    run: Run | str | None = None,
) -> None:
    """Set labels; see MLTrackingSDK.set_labels."""
    return _default.set_labels(labels, name, value, run)


def persist_run() -> None:
    """Write everything logged so far; see MLTrackingSDK.persist_run."""
    return _default.persist_run()


def update_run_info(
    run: Run | str | None = None,
    run_name: str | None = None,
    run_collection_name: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> None:
    """Rename a run, move it, or tag it; see MLTrackingSDK.update_run_info."""
    return _default.update_run_info(run, run_name, run_collection_name, tags)


def get_runs(
    scenario: Any = None,
    scenario_version: Any = None,
    pipeline: Any = None,
    execution: Any = None,
    notebook: Any = None,
    run: Any = None,
    tags: Mapping[str, Any] | None = None,
) -> RunList:
    """Fetch runs; see MLTrackingSDK.get_runs."""
    return _default.get_runs(scenario, scenario_version, pipeline, execution, notebook, run, tags)


def runs_frame(
    scenario: Any = None,
    scenario_version: Any = None,
    pipeline: Any = None,
    execution: Any = None,
    notebook: Any = None,
    run: Any = None,
    tags: Mapping[str, Any] | None = None,
) -> pandas.DataFrame:
    """The selected runs as a pandas DataFrame; see MLTrackingSDK.runs_frame."""
    return _default.runs_frame(scenario, scenario_version, pipeline, execution, notebook, run, tags)


def metrics_frame(run: Any = None, metrics: str | Iterable[str] | None = None) -> pandas.DataFrame:
    """Metric histories of one or more runs in long format; see MLTrackingSDK.metrics_frame."""
    return _default.metrics_frame(run, metrics)


def delete_runs(
    scenario: Any = None,
    scenario_version: Any = None,
    pipeline: Any = None,
    execution: Any = None,
    notebook: Any = None,
    run: Any = None,
) -> int:
    """Delete runs; see MLTrackingSDK.delete_runs."""
    return _default.delete_runs(scenario, scenario_version, pipeline, execution, notebook, run)


def get_metrics_history(
    run: Run | str | None = None, metrics: str | Iterable[str] | None = None
) -> HistoryList:
    """Fetch metric histories; see MLTrackingSDK.get_metrics_history."""
    return _default.get_metrics_history(run, metrics)
