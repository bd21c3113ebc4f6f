"""pandas DataFrames of runs and of metric histories, for analysis in a notebook.

pandas is an optional extra (``pip install "sapdi-local[pandas]"``), imported only here and
only when a frame is made. Column names follow MLflow's ``search_runs``: ``params.NAME``,
``tags.NAME`` and ``metrics.NAME``, so they never clash with each other or with the run's
own columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .errors import MissingExtraError

if TYPE_CHECKING:
    from .model import MetricHistory, Run

PANDAS_HINT = 'pip install "sapdi-local[pandas]"'
RUN_COLUMNS = (
    "run_id",
    "name",
    "scenario",
    "scenario_version",
    "collection",
    "notebook",
    "pipeline",
    "execution",
    "status",
    "start_time",
    "end_time",
    "duration_seconds",
)
HISTORY_COLUMNS = ("run_id", "metric", "step", "timestamp", "value")


def pandas() -> Any:
    """The pandas module, or an error that names the extra to install."""
    try:
        import pandas
    except ImportError:
        raise MissingExtraError(
            f"DataFrames need pandas, which is not installed; {PANDAS_HINT}"
        ) from None
    return pandas


def runs_frame(runs: Sequence[Run]) -> Any:
    """One row per run: its fields, then ``params.*``, ``tags.*`` and ``metrics.*`` (last
    values). A parameter column whose every value is a number holds numbers; others hold the
    stored text. Times are timezone-aware (UTC); one pandas cannot hold is NaT."""
    pd = pandas()
    rows: list[dict[str, Any]] = []
    for run in runs:
        row: dict[str, Any] = {
            "run_id": run.id,
            "name": run.name,
            "scenario": run.scenario,
            "scenario_version": run.scenario_version,
            "collection": run.collection,
            "notebook": run.notebook,
            "pipeline": run.pipeline,
            "execution": run.execution,
            "status": run.status,
            "start_time": run.start_time,
            "end_time": run.end_time,
            "duration_seconds": (
                None
                if run.start_time is None or run.end_time is None
                else (run.end_time - run.start_time).total_seconds()
            ),
        }
        # start and end are the SDK's own parameters, runName its own tag: columns already.
        row.update(
            (f"params.{k}", v) for k, v in run.parameters.items() if k not in ("start", "end")
        )
        row.update((f"tags.{k}", v) for k, v in run.tags.items() if k != "runName")
        row.update((f"metrics.{k}", v) for k, v in run.metrics.items())
        rows.append(row)
    frame = pd.DataFrame(rows, columns=_columns(RUN_COLUMNS, rows))
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True, errors="coerce")
    for column in frame.columns:
        if column.startswith("params."):
            frame[column] = _numbers_if_all_are(pd, frame[column])
    return frame


def _columns(first: Sequence[str], rows: list[dict[str, Any]]) -> list[str]:
    """The fixed columns, then params, tags and metrics, each group sorted by name."""
    names = {name for row in rows for name in row} - set(first)
    grouped = sorted(
        names, key=lambda n: (("params.", "tags.", "metrics.").index(n.split(".")[0] + "."), n)
    )
    return [*first, *grouped]


def _numbers_if_all_are(pd: Any, column: Any) -> Any:
    try:
        return pd.to_numeric(column)
    except (ValueError, TypeError):
        return column


def histories_frame(histories: Iterable[MetricHistory]) -> Any:
    """Long format: one row per stored value, with run_id, metric, step, timestamp (UTC)
    and value, oldest first within each run and metric; a timestamp pandas cannot hold is
    NaT."""
    pd = pandas()
    rows = [
        (history.run_id, history.name, value.step, value.timestamp, value.value)
        for history in histories
        for value in history.values
    ]
    frame = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    frame["step"] = frame["step"].astype("Int64")  # nullable: old values may have no step
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="s", utc=True, errors="coerce")
    frame["value"] = frame["value"].astype(float)
    return frame
