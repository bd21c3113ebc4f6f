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
    "search_runs",
    "set_default_sdk",
    "set_labels",
    "set_tags",
    "start_run",
    "update_run_info",
]

_default = MLTrackingSDK()  # cheap: nothing is read or resolved until first used


def get_default_sdk() -> MLTrackingSDK:
    """The MLTrackingSDK that the module functions use.

    >>> tracking.get_default_sdk().db_path  # SAPDI_LOCAL_DB, else the per-user data folder
    PosixPath('/.../.local/share/sapdi-local/tracking.db')
    """
    return _default


def set_default_sdk(sdk: MLTrackingSDK) -> MLTrackingSDK:
    """Make ``sdk`` the one the module functions use; returns the previous one.

    >>> previous = tracking.set_default_sdk(MLTrackingSDK(db_path="other.db"))
    >>> tracking.get_default_sdk().db_path.name
    'other.db'
    >>> tracking.set_default_sdk(previous).close()  # the first one back, the other closed
    """
    global _default
    previous, _default = _default, sdk
    return previous


def start_run(run_collection_name: str | None = None, run_name: str | None = None) -> ActiveRun:
    """Start a run and make it the active one.

    Without ``run_collection_name`` the run goes to the default collection of its
    notebook or pipeline; without ``run_name`` it is named by its id.

    >>> run = tracking.start_run(run_collection_name="rc1", run_name="lr-0.01")
    """
    return _default.start_run(run_collection_name, run_name)


def end_run() -> None:
    """End the active run (FINISHED) and persist everything logged.

    >>> run = tracking.start_run(run_collection_name="rc1")
    >>> tracking.end_run()
    """
    return _default.end_run()


def log_metric(
    name: str,
    value: float,
    run: Run | str | None = None,
    step: int | None = None,
    timestamp: float | None = None,
) -> None:
    """Log one value of a metric to the active run (or to ``run``).

    >>> with tracking.start_run(run_collection_name="rc1"):
    ...     tracking.log_metric("loss", 0.25)
    ...     tracking.log_metric("loss", 0.21)  # step 1: steps count up from 0 by themselves
    >>> tracking.log_metric("test_loss", 0.23, run=run)  # a run that has ended
    """
    return _default.log_metric(name, value, run, step, timestamp)


def log_metrics(
    metrics: Mapping[str, float] | Iterable[Mapping[str, Any]], run: Run | str | None = None
) -> None:
    """Log several metrics: a dict of name to value, or a list of dicts with
    ``name``, ``value`` and optional ``step``, ``timestamp`` and ``run`` (an item's run
    wins over ``run=``); any other key is refused before anything is logged.

    >>> with tracking.start_run(run_collection_name="rc1"):
    ...     tracking.log_metrics({"accuracy": 0.89, "avg_loss": 0.59})
    ...     tracking.log_metrics([{"name": "loss", "value": 0.4, "step": 10}])
    """
    return _default.log_metrics(metrics, run)


def log_parameters(
    parameters: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None = None,
    name: str | None = None,
    value: Any = None,
    run: Run | str | None = None,
) -> None:
    """Log parameters: a dict of name to value, or ``name=`` and ``value=``.

    Values of any type are stored as strings; the last value of a name wins.

    >>> with tracking.start_run(run_collection_name="rc1"):
    ...     tracking.log_parameters({"learning_rate": 0.001, "epochs": 2})
    ...     tracking.log_parameters(name="optimizer", value="adam")
    """
    return _default.log_parameters(parameters, name, value, run)


def set_tags(
    tags: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None = None,
    name: str | None = None,
    value: Any = None,
    run: Run | str | None = None,
) -> None:
    """Set tags (string key and value pairs used to filter runs); the last value wins.

    >>> with tracking.start_run(run_collection_name="rc1"):
    ...     tracking.set_tags({"dataset": "v2"})
    """
    return _default.set_tags(tags, name, value, run)


def set_labels(
    labels: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None = None,
    name: str | None = None,
    value: Any = None,
    run: Run | str | None = None,
) -> None:
    """Set labels: keys with any JSON value, for meaning or display; the last value wins.

    >>> with tracking.start_run(run_collection_name="rc1"):
    ...     tracking.set_labels({"accuracy": {"format_string": "percentage"}})
    """
    return _default.set_labels(labels, name, value, run)


def persist_run() -> None:
    """Write everything logged so far to the database now, in one transaction.

    Raises StorageError (or LockTimeoutError) if the database refuses; the
    logged values stay in memory and the next persist writes them.

    >>> tracking.persist_run()
    """
    return _default.persist_run()


def update_run_info(
    run: Run | str | None = None,
    run_name: str | None = None,
    run_collection_name: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> None:
    """Rename a run, move it to another collection or set tags; during or after the run.

    >>> tracking.update_run_info(run_collection_name="LR", run_name="LR_6")
    """
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
    """Fetch runs with their parameters, tags, labels and last metric values.

    Selectors take objects, ids, comma-separated ids or lists; ``tags`` must all match.

    >>> runs = tracking.get_runs(scenario="churn", tags={"dataset": "v2"})
    >>> [run.name for run in runs]
    ['lr-0.01', 'lr-0.1']
    """
    return _default.get_runs(scenario, scenario_version, pipeline, execution, notebook, run, tags)


def search_runs(
    filter_string: str | None = None,
    order_by: str | Iterable[str] | None = None,
    max_results: int | None = None,
    *,
    scenario: Any = None,
    scenario_version: Any = None,
    pipeline: Any = None,
    execution: Any = None,
    notebook: Any = None,
    run: Any = None,
    tags: Mapping[str, Any] | None = None,
) -> RunList:
    """The runs a search expression selects, in ``order_by``'s order (keys with ASC or
    DESC; runs lacking a key last), at most ``max_results`` of them; the selectors of
    ``get_runs`` narrow the search further, none of them needed.

    MLflow's ``filter_string`` and ``order_by`` work as written, and more: OR, NOT,
    parentheses, IN, BETWEEN, IS NULL, LIKE and ILIKE, times and ages (see README,
    "Search"). A malformed expression raises ``InvalidFilterError`` naming the position.

    >>> tracking.search_runs("metrics.accuracy > 0.9 and params.optimizer = 'adam'",
    ...                      order_by=["metrics.accuracy DESC"], max_results=10)
    2 runs
    name      id         status    collection    started (UTC)        accuracy    loss
    --------  ---------  --------  ------------  -------------------  ----------  ------
    lr-0.001  4e705016…  FINISHED  baseline      2026-11-27 20:08:00  0.93        0.1075
    lr-0.01   1c43bb2b…  FINISHED  baseline      2026-11-27 20:07:00  0.91        0.1275
    """
    return _default.search_runs(
        filter_string,
        order_by,
        max_results,
        scenario=scenario,
        scenario_version=scenario_version,
        pipeline=pipeline,
        execution=execution,
        notebook=notebook,
        run=run,
        tags=tags,
    )


def runs_frame(
    scenario: Any = None,
    scenario_version: Any = None,
    pipeline: Any = None,
    execution: Any = None,
    notebook: Any = None,
    run: Any = None,
    tags: Mapping[str, Any] | None = None,
    filter_string: str | None = None,
    order_by: str | Iterable[str] | None = None,
) -> pandas.DataFrame:
    """The runs ``get_runs`` selects (or, with ``filter_string`` or ``order_by``,
    ``search_runs``) as a pandas DataFrame: one row per run, with ``params.*``,
    ``tags.*`` and ``metrics.*`` (last value) columns. Needs pandas.

    >>> frame = tracking.runs_frame(scenario=sapdi.get_current_scenario())
    >>> frame.nlargest(3, "metrics.accuracy")["name"].tolist()
    ['sgd-0.001', 'lr-0.001', 'lr-0.01']
    >>> tracking.runs_frame(filter_string="params.optimizer = 'adam'",
    ...                     order_by="metrics.accuracy DESC")[["name", "metrics.accuracy"]]
           name  metrics.accuracy
    0  lr-0.001              0.93
    1   lr-0.01              0.91
    2    lr-0.1              0.87
    3    lr-1.0               NaN
    """
    return _default.runs_frame(
        scenario,
        scenario_version,
        pipeline,
        execution,
        notebook,
        run,
        tags,
        filter_string,
        order_by,
    )


def metrics_frame(run: Any = None, metrics: str | Iterable[str] | None = None) -> pandas.DataFrame:
    """Metric histories of one run or several (a list of runs or ids) as a pandas
    DataFrame in long format: run_id, metric, step, timestamp (UTC), value. Without
    ``run``, the active run; without ``metrics``, every metric. Needs pandas.

    >>> frame = tracking.metrics_frame(run=[first, second], metrics="loss")
    >>> frame.pivot(index="step", columns="run_id", values="value")
    run_id  1c43bb2be5009776314a7c6df0b48f5d  63f50d5733e7d20f54b2e5ef5eb00aeb
    step
    0                                 0.6900                            0.7300
    1                                 0.3150                            0.3550
    2                                 0.1900                            0.2300
    3                                 0.1275                            0.1675
    """
    return _default.metrics_frame(run, metrics)


def delete_runs(
    scenario: Any = None,
    scenario_version: Any = None,
    pipeline: Any = None,
    execution: Any = None,
    notebook: Any = None,
    run: Any = None,
) -> int:
    """Delete the selected runs with everything logged to them; returns how many.

    >>> tracking.delete_runs(run=run)
    1
    """
    return _default.delete_runs(scenario, scenario_version, pipeline, execution, notebook, run)


def get_metrics_history(
    run: Run | str | None = None, metrics: str | Iterable[str] | None = None
) -> HistoryList:
    """The stored values of a run's metrics (at most 1000 each, oldest first).

    Without ``run``, the active run; without ``metrics``, every metric.

    >>> history = tracking.get_metrics_history(run=run, metrics=["loss"])
    >>> [value.value for value in history[0].values]
    [0.69, 0.315, 0.19, 0.1275]
    """
    return _default.get_metrics_history(run, metrics)
