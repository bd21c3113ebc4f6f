"""The SDK's read path: stored runs, searches, frames, histories and scenarios, each read
after the cache is persisted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import (
    InvalidTypeError,
)
from ..model import (
    HistoryList,
    Run,
    RunList,
    Scenario,
)
from ..selectors import delete_filter, run_filter, search_filter
from ..validation import (
    check_name,
)

if TYPE_CHECKING:
    import pandas


from ..records import (
    histories_from_rows,
    run_fields_from_columns,
    runs_from_columns,
    runs_from_records,
)
from .base import SdkBase


class RunReading(SdkBase):
    """Reading and deleting stored runs: lists, searches, frames, histories, scenarios."""

    # ------------------------------------------------------------ reading and deleting

    def get_runs(
        self,
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
        selection = run_filter(
            "get_runs", scenario, scenario_version, pipeline, execution, notebook, run, tags
        )
        self._flush_before_read()
        from ..collector import collector_paused

        # A whole read makes millions of objects and no cycles among them: the collector
        # would walk them all again and again (a third of the read at 100,000 runs).
        with collector_paused():
            return RunList(runs_from_columns(self.store.select_run_columns(selection)))

    def search_runs(
        self,
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
        from ..store import search_run_records

        selection = search_filter(
            scenario, scenario_version, pipeline, execution, notebook, run, tags
        )
        order = [order_by] if isinstance(order_by, str) else list(order_by or ())
        self._flush_before_read()
        _, records = search_run_records(self.store, filter_string, order, max_results, 0, selection)
        return RunList(runs_from_records(records))

    def runs_frame(
        self,
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
        from ..collector import collector_paused
        from ..frames import fields_frame, pandas, runs_frame

        pandas()  # a missing extra is said before anything is read
        if filter_string is not None or order_by is not None:
            selected = self.search_runs(
                filter_string,
                order_by,
                scenario=scenario,
                scenario_version=scenario_version,
                pipeline=pipeline,
                execution=execution,
                notebook=notebook,
                run=run,
                tags=tags,
            )
            with collector_paused():
                return runs_frame(selected)
        selection = run_filter(
            "runs_frame", scenario, scenario_version, pipeline, execution, notebook, run, tags
        )
        self._flush_before_read()
        with collector_paused():  # as in get_runs
            columns = self.store.select_run_columns(selection)
            # Straight from the columns, without a Run per run, unless some field cannot
            # be read as stored: then as get_runs reads it, leaving it out with a warning.
            fields = run_fields_from_columns(columns)
            if fields is None:
                return runs_frame(runs_from_records(columns.records()))
            return fields_frame(fields)

    def delete_runs(
        self,
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
        selection = delete_filter(scenario, scenario_version, pipeline, execution, notebook, run)
        deleted = self.store.delete_runs(selection)
        for run_id in deleted:
            self._forget_run(run_id)
        return len(deleted)

    def _forget_run(self, run_id: str) -> None:
        self._cache.forget(run_id)
        self._known_runs.discard(run_id)
        if self._active is not None and self._active.id == run_id:
            self._active = None
            self._windows = {}
            self._next_steps = {}

    def get_metrics_history(
        self, run: Run | str | None = None, metrics: str | Iterable[str] | None = None
    ) -> HistoryList:
        """The stored values of a run's metrics (at most 1000 each, oldest first).

        Without ``run``, the active run; without ``metrics``, every metric.

        >>> history = tracking.get_metrics_history(run=run, metrics=["loss"])
        >>> [value.value for value in history[0].values]
        [0.69, 0.315, 0.19, 0.1275]
        """
        run_id = self._run_id(run)
        names = _metric_names("get_metrics_history", metrics)
        self._flush_before_read()
        return HistoryList(histories_from_rows(run_id, self.store.metric_history(run_id, names)))

    def metrics_frame(
        self, run: Any = None, metrics: str | Iterable[str] | None = None
    ) -> pandas.DataFrame:
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
        if run is None or isinstance(run, (Run, str)):
            run_ids = [self._run_id(run)]
        elif isinstance(run, Iterable):
            run_ids = list(dict.fromkeys(self._run_id(one) for one in run))
        else:
            raise InvalidTypeError(
                "metrics_frame(): run must be a Run, a run id or a list of them, "
                f"got {type(run).__name__}"
            )
        names = _metric_names("metrics_frame", metrics)
        from ..frames import histories_frame, pandas

        pandas()  # before reading: a missing pandas is reported without work done
        self._flush_before_read()
        stored = self.store.metric_histories(run_ids, names)
        return histories_frame(
            history
            for run_id in run_ids
            for history in histories_from_rows(run_id, stored.get(run_id, {}))
        )

    def list_scenarios(self) -> list[Scenario]:
        """The scenarios in the database, and the current one.

        >>> [scenario.id for scenario in sdk.list_scenarios()]
        ['churn', 'forecast']
        """
        stored = {name: version for name, version in self.store.scenarios()}
        current = self.context
        stored.setdefault(current.scenario, current.scenario_version)
        return [Scenario(id=name, version=version) for name, version in sorted(stored.items())]

    def current_scenario(self) -> Scenario:
        """The scenario this SDK records its runs under.

        >>> sdk.current_scenario().id
        'churn'
        """
        return Scenario(id=self.context.scenario, version=self.context.scenario_version)


def _metric_names(function: str, metrics: str | Iterable[str] | None) -> list[str] | None:
    """The metric names a history read asks for (None: all), each checked."""
    if metrics is None:
        return None
    if not isinstance(metrics, (str, Iterable)) or isinstance(metrics, Mapping):
        raise InvalidTypeError(
            f"{function}(): metrics must be a metric name or a list of names, "
            f"got {type(metrics).__name__} {metrics!r}"
        )
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    for name in names:
        check_name("metric name", name)
    return names
