"""The objects the API hands out: Run, Notebook, Scenario and metric histories.

Immutable named tuples with typed fields; ``to_dict()`` gives JSON-ready data (times as
ISO 8601 strings in UTC, metric timestamps as Unix seconds). Named tuples rather than
frozen dataclasses: the dataclasses module and what it imports would be most of the time
``import sapdi_local.tracking`` takes, and a history makes up to 1000 values per metric.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from datetime import datetime, tzinfo

RUNNING = "RUNNING"
FINISHED = "FINISHED"
FAILED = "FAILED"  # the program died of an uncaught exception
KILLED = "KILLED"  # its process is gone without ending it (never stored: seen when reading)
INTERRUPTED = "INTERRUPTED"  # the program ended on Ctrl-C (KeyboardInterrupt)
TERMINATED = "TERMINATED"  # the program ended on SIGTERM
STATUSES = (RUNNING, FINISHED, FAILED, INTERRUPTED, TERMINATED, KILLED)


def iso_time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def utc_from_seconds(seconds: float | None) -> datetime | None:
    if seconds is None:
        return None
    moment, utc = _datetime_and_utc()
    return moment.fromtimestamp(seconds, tz=utc)


def utc_from_seconds_each(seconds: Iterable[float | None]) -> list[datetime | None]:
    """``utc_from_seconds`` of each of many times (a column of a whole read)."""
    moment, utc = _datetime_and_utc()
    from_seconds = moment.fromtimestamp
    return [None if value is None else from_seconds(value, utc) for value in seconds]


@cache
def _datetime_and_utc() -> tuple[type[datetime], tzinfo]:
    # Imported when first needed, then kept: an import statement in utc_from_seconds
    # itself was half of its cost, twice per run of a 100,000-run read.
    from datetime import datetime, timezone

    return datetime, timezone.utc


_NOTHING: Mapping[str, Any] = MappingProxyType({})  # the shared, read-only empty default


class UnreadableFieldWarning(UserWarning):
    """A stored run holds a field no sapdi-local writes (a label that is not JSON, a time
    that is text or out of range, a metric value that is a blob...): it is read without it."""


class Unreadable(NamedTuple):
    """A field of a stored run that cannot be read, and so is left out of what is shown.

    ``field`` is a column of the run (``"start_time"``, ``"status"``, ``"name"`` ...) or
    ``"parameter"``, ``"tag"``, ``"label"`` or ``"metric"``, then with ``name`` (None when
    the name itself cannot be read); ``reason`` is a sentence that names the field.

    >>> run.unreadable  # empty: every field of this run could be read
    ()
    """

    field: str
    name: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "name": self.name, "reason": self.reason}


class Run(NamedTuple):
    """A run. ``Run(id="...")`` refers to a stored run; ``get_runs`` fills in the rest.

    >>> tracking.get_runs(run=Run(id="1c43bb2be5009776314a7c6df0b48f5d"))[0].name
    'lr-0.01'
    """

    id: str
    name: str | None = None
    collection: str | None = None
    collection_is_default: bool = False
    scenario: str | None = None
    scenario_version: str | None = None
    notebook: str | None = None
    pipeline: str | None = None
    execution: str | None = None
    status: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    parameters: Mapping[str, str] = _NOTHING
    tags: Mapping[str, str] = _NOTHING
    labels: Mapping[str, Any] = _NOTHING
    metrics: Mapping[str, float] = _NOTHING
    # Stored fields that could not be read: left out above (None, or missing from the maps).
    unreadable: tuple[Unreadable, ...] = ()

    @property
    def collection_display_name(self) -> str | None:
        """The collection's name as lists show it: default collections end in " (Default)"."""
        if self.collection is None:
            return None
        return f"{self.collection} (Default)" if self.collection_is_default else self.collection

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "collection": self.collection,
            "collection_is_default": self.collection_is_default,
            "collection_display_name": self.collection_display_name,
            "scenario": self.scenario,
            "scenario_version": self.scenario_version,
            "notebook": self.notebook,
            "pipeline": self.pipeline,
            "execution": self.execution,
            "status": self.status,
            "start_time": iso_time(self.start_time),
            "end_time": iso_time(self.end_time),
            "parameters": dict(self.parameters),
            "tags": dict(self.tags),
            "labels": dict(self.labels),
            "metrics": dict(self.metrics),
            "unreadable": [item.to_dict() for item in self.unreadable],
        }

    def __repr__(self) -> str:
        from .display import run_text

        return run_text(self)

    def _repr_html_(self) -> str:
        from .display import run_html

        return run_html(self)


class RunList(list[Run]):
    """The runs ``get_runs`` returns: a list, shown as a table in a terminal and in Jupyter.

    >>> runs = tracking.get_runs(scenario=scenario)
    >>> runs.to_frame()[["name", "status"]]  # needs pandas: pip install "sapdi-local[pandas]"
                                   name    status
    0                            lr-1.0    FAILED
    1                         sgd-0.001  FINISHED
    2                          lr-0.001  FINISHED
    3                           lr-0.01  FINISHED
    4                            lr-0.1  FINISHED
    5  ac9d2f4763a020fbdf830f4644d28154  FINISHED
    """

    def __repr__(self) -> str:
        from .display import runs_text

        return runs_text(self)

    def _repr_html_(self) -> str:
        from .display import runs_html

        return runs_html(self)

    def to_frame(self) -> Any:
        """A pandas DataFrame, one row per run (see ``tracking.runs_frame``)."""
        from .frames import runs_frame

        return runs_frame(self)


class Notebook(NamedTuple):
    """A notebook, named by its id (its file name), as a selector for get_runs and delete_runs."""

    id: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id}


class Scenario(NamedTuple):
    """A scenario: the project a run belongs to. Its id is its name."""

    id: str
    version: str | None = None

    @property
    def name(self) -> str:
        return self.id

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.id, "version": self.version}


class MetricValue(NamedTuple):
    """One stored value of a metric.

    A named tuple rather than a dataclass: a history holds up to 1000 of these per metric,
    and a tuple is made several times faster than a frozen dataclass.
    """

    value: float
    step: int | None
    timestamp: float

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "step": self.step, "timestamp": self.timestamp}


class MetricHistory(NamedTuple):
    """The stored values of one metric of one run, oldest first (at most 1000)."""

    run_id: str
    name: str
    values: tuple[MetricValue, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "name": self.name,
            "values": [value.to_dict() for value in self.values],
        }

    def to_frame(self) -> Any:
        """A pandas DataFrame: run_id, metric, step, timestamp (UTC), value per stored value."""
        from .frames import histories_frame

        return histories_frame([self])

    def __repr__(self) -> str:
        from .display import history_text

        return history_text(self)

    def _repr_html_(self) -> str:
        from .display import history_html

        return history_html(self)


class HistoryList(list[MetricHistory]):
    """The histories ``get_metrics_history`` returns: a list, shown as a summary table.

    >>> history = tracking.get_metrics_history(run=run)
    >>> history
    metric    run        values    steps    last    min     max
    --------  ---------  --------  -------  ------  ------  -----
    accuracy  1c43bb2b…  1         0–0      0.91    0.91    0.91
    loss      1c43bb2b…  4         0–3      0.1275  0.1275  0.69
    >>> history.to_frame()[["metric", "step", "value"]]  # long format; needs pandas
         metric  step   value
    0  accuracy     0  0.9100
    1      loss     0  0.6900
    2      loss     1  0.3150
    3      loss     2  0.1900
    4      loss     3  0.1275
    """

    def __repr__(self) -> str:
        from .display import histories_text

        return histories_text(self)

    def _repr_html_(self) -> str:
        from .display import histories_html

        return histories_html(self)

    def to_frame(self) -> Any:
        """A pandas DataFrame in long format: run_id, metric, step, timestamp, value."""
        from .frames import histories_frame

        return histories_frame(self)
