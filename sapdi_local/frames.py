"""pandas DataFrames of runs and of metric histories, for analysis in a notebook.

pandas is an optional extra (``pip install "sapdi-local[pandas]"``), imported only here and
only when a frame is made. Column names follow MLflow's ``search_runs``: ``params.NAME``,
``tags.NAME`` and ``metrics.NAME``, so they never clash with each other or with the run's
own columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from operator import methodcaller
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
# The SDK's own parameters and tag, columns of their own already (start_time, end_time, name).
_OWN_PARAMETERS = frozenset(("start", "end"))
_OWN_TAGS = frozenset(("runName",))
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
    if not runs:
        return fields_frame({})
    # The runs' fields transposed: a column per field.
    return fields_frame(dict(zip(type(runs[0])._fields, zip(*runs, strict=True), strict=True)))


def fields_frame(fields: Mapping[str, Sequence[Any]]) -> Any:
    """``runs_frame`` of runs given as their fields (``Run``'s field names, each with a value
    per run; empty for no runs). Their maps may hold the SDK's own ``start`` and ``end``
    parameters and ``runName`` tag or not: the frame leaves them out either way, as it has
    columns of their own for them.

    Made a column at a time, not a dict per run: pandas turns a dict of lists into a frame
    far faster than a list of dicts."""
    pd = pandas()
    if not fields:
        return _typed_times(pd, pd.DataFrame(columns=list(RUN_COLUMNS)))
    starts, ends = fields["start_time"], fields["end_time"]
    columns: dict[str, Sequence[Any]] = {
        "run_id": fields["id"],
        **{name: fields[name] for name in RUN_COLUMNS[1:-3]},
        "start_time": pd.to_datetime(list(starts), utc=True, errors="coerce"),
        "end_time": pd.to_datetime(list(ends), utc=True, errors="coerce"),
        "duration_seconds": [
            None if start is None or end is None else (end - start).total_seconds()
            for start, end in zip(starts, ends, strict=True)
        ],
    }
    for prefix, field, own in (
        ("params.", "parameters", _OWN_PARAMETERS),
        ("tags.", "tags", _OWN_TAGS),
        ("metrics.", "metrics", frozenset()),
    ):
        maps: Sequence[Mapping[str, Any]] = fields[field]
        for name in sorted(set(chain.from_iterable(maps)) - own):
            columns[prefix + name] = list(map(methodcaller("get", name), maps))
    frame = pd.DataFrame(columns)
    for column in frame.columns:
        if column.startswith("params."):
            frame[column] = _numbers_if_all_are(pd, frame[column])
    return frame


def _typed_times(pd: Any, frame: Any) -> Any:
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True, errors="coerce")
    return frame


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
