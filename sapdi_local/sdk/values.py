"""Logging values: each validated and cached in its (run, metric) window, never written here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from time import time
from typing import TYPE_CHECKING, Any

from ..errors import (
    InvalidTypeError,
)
from ..model import (
    Run,
)
from ..validation import (
    check_label,
    check_metric_value,
    check_name,
    check_parameter,
    check_step,
    check_tag,
    check_timestamp,
    name_value_pairs,
)
from . import lifecycle
from .cache import (
    BYTES_PER_CACHED_VALUE,
    BYTES_PER_METRIC_NAME,
    BYTES_PER_WINDOW,
    MetricEntry,
    text_cost,
)

if TYPE_CHECKING:
    pass

from .base import (
    _BYTES_PER_NEW_VALUE,
    _ITEM_KEYS,
    _MAX,
    _STEP_LIMIT,
    SdkBase,
)


class ValueLogging(SdkBase):
    """Logging metrics, parameters, tags and labels into the cache."""

    # ------------------------------------------------------------ logging

    def log_metric(
        self,
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
        # With run= naming a run that is not the active one, the value is persisted before
        # the call returns (_write); so are log_metrics, log_parameters, set_tags, set_labels.
        # The hot path: a name already seen in the active run, no run= and no timestamp=.
        # It makes the same checks as the slow path, inline for the common types.
        if run is None and timestamp is None:
            try:
                window = self._windows.get(name)
            except TypeError:  # an unhashable name: the slow path reports it
                window = None
            if window is not None:
                kind = value.__class__
                if kind is float:
                    if not -_MAX <= value <= _MAX:  # also false for NaN
                        value = check_metric_value(name, value)
                elif kind is int:
                    try:
                        value = float(value)
                    except OverflowError:
                        value = check_metric_value(name, value)
                else:
                    value = check_metric_value(name, value)
                next_steps = self._next_steps
                if step is None:
                    # A window of the active run always has its next step: the slow path
                    # makes both, and _new_window makes windows only for names with one.
                    step = next_steps[name]
                    if step >= 9223372036854775808:  # 2**63: no 64-bit step is left
                        check_step(name, step)  # raises
                elif step.__class__ is not int or not -_STEP_LIMIT <= step < _STEP_LIMIT:
                    step = check_step(name, step)
                    assert step is not None  # it was given
                next_steps[name] = step + 1
                window.append((value, step, time()))
                self._budget -= 1
                if self._budget <= 0:
                    self._check_cache_size()
                return
            if self._new_window(name):
                self.log_metric(name, value, None, step, None)  # the hot path, now
                return
        self._log_metric_items([(name, value, step, timestamp, run)])

    def _new_window(self, name: object) -> bool:
        """Give a metric of the active run a new window if it had values before (it has a
        step) and a persist has taken its window since; False for other names."""
        try:
            if name not in self._next_steps:
                return False
        except TypeError:  # an unhashable name: the slow path reports it
            return False
        self._windows.setdefault(name, [])
        self._spend(BYTES_PER_WINDOW)
        return True

    def log_metrics(
        self,
        metrics: Mapping[str, float] | Iterable[Mapping[str, Any]],
        run: Run | str | None = None,
    ) -> None:
        """Log several metrics: a dict of name to value, or a list of dicts with
        ``name``, ``value`` and optional ``step``, ``timestamp`` and ``run`` (an item's run
        wins over ``run=``); any other key is refused before anything is logged.

        >>> with tracking.start_run(run_collection_name="rc1"):
        ...     tracking.log_metrics({"accuracy": 0.89, "avg_loss": 0.59})
        ...     tracking.log_metrics([{"name": "loss", "value": 0.4, "step": 10}])
        """
        # A list item takes every keyword log_metric takes, run included (which wins over
        # the call's run=), and refuses any other key.
        items: Iterable[tuple[object, object, object, object, Run | str | None]]
        if isinstance(metrics, Mapping):
            if not metrics:
                self._run_id(run)  # an empty call still needs its run, as it always has
            items = ((name, value, None, None, run) for name, value in metrics.items())
        elif isinstance(metrics, Iterable) and not isinstance(metrics, (str, bytes)):
            listed = list(metrics)
            if not listed:
                self._run_id(run)
            # Refuses an item without name or value, or with a key log_metric does not take.
            pairs = name_value_pairs("log_metrics", listed, None, None, other_keys=_ITEM_KEYS)
            items = (
                (name, value, item.get("step"), item.get("timestamp"), _item_run(item, run))
                for (name, value), item in zip(pairs, listed, strict=True)
            )
        else:
            raise InvalidTypeError(
                f"log_metrics() takes a dict of names to values or a list of metric dicts, "
                f"got {type(metrics).__name__}"
            )
        self._log_metric_items(items)

    def _log_metric_items(
        self, items: Iterable[tuple[object, object, object, object, Run | str | None]]
    ) -> None:
        """Cache (name, value, step, timestamp, run) items, every one checked and its run
        found first, so that a refused item leaves nothing of the call cached."""
        now = time()
        by_run: dict[str, list[tuple[str, MetricEntry]]] = {}
        for name, value, step, timestamp, run in items:
            key = check_name("metric name", name)
            entry = (
                check_metric_value(key, value),
                check_step(key, step),  # None: numbered once all are checked
                now if timestamp is None else check_timestamp(key, timestamp),
            )
            by_run.setdefault(self._run_id(run), []).append((key, entry))
        self._write(by_run, partial(self._cache_metric_values, by_run))

    def _cache_metric_values(self, by_run: Mapping[str, list[tuple[str, MetricEntry]]]) -> None:
        """Number the values logged without a step, then cache them all. Numbering may
        refuse one (no step left after 2**63 - 1): all are numbered before any is cached."""
        numbered: list[tuple[str, list[tuple[str, MetricEntry]], dict[str, int]]] = []
        for run_id, entries in by_run.items():
            steps = self._steps_of(run_id)
            next_steps: dict[str, int] = {}
            for index, (key, (value, step, timestamp)) in enumerate(entries):
                if step is None:
                    step = next_steps.get(key, steps.get(key, 0))
                    if step >= _STEP_LIMIT:
                        check_step(key, step)  # raises: the step after 2**63 - 1
                    entries[index] = (key, (value, step, timestamp))  # in place: no copy
                next_steps[key] = step + 1
            numbered.append((run_id, entries, next_steps))
        for run_id, entries, next_steps in numbered:
            steps = self._cache.steps(run_id)
            names = len(steps)
            steps.update(next_steps)
            self._spend((len(steps) - names) * BYTES_PER_METRIC_NAME)
            # In parts of what the budget has room for, each value counted with a window
            # (one call's values are mostly one per name): one call logging millions of
            # values is persisted as it goes, not held whole.
            done = 0
            while done < len(entries):
                room = self._budget * BYTES_PER_CACHED_VALUE // _BYTES_PER_NEW_VALUE
                part = entries[done : done + max(1, room)]
                done += len(part)
                made = self._cache.append_metrics(run_id, part)
                lifecycle.hold(self)
                self._spend(len(part) * BYTES_PER_CACHED_VALUE + made * BYTES_PER_WINDOW)

    def log_parameters(
        self,
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
        pairs = name_value_pairs("log_parameters", parameters, name, value)
        self._stage(self._cache.parameters, run, [check_parameter(key, val) for key, val in pairs])

    def set_tags(
        self,
        tags: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None = None,
        name: str | None = None,
        value: Any = None,
        run: Run | str | None = None,
    ) -> None:
        """Set tags (string key and value pairs used to filter runs); the last value wins.

        >>> with tracking.start_run(run_collection_name="rc1"):
        ...     tracking.set_tags({"dataset": "v2"})
        """
        pairs = name_value_pairs("set_tags", tags, name, value)
        self._stage(self._cache.tags, run, [check_tag(key, val) for key, val in pairs])

    def set_labels(
        self,
        labels: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None = None,
        name: str | None = None,
        value: Any = None,
        run: Run | str | None = None,
    ) -> None:
        """Set labels: keys with any JSON value, for meaning or display; the last value wins.

        >>> with tracking.start_run(run_collection_name="rc1"):
        ...     tracking.set_labels({"accuracy": {"format_string": "percentage"}})
        """
        pairs = name_value_pairs("set_labels", labels, name, value)
        self._stage(self._cache.labels, run, [check_label(key, val) for key, val in pairs])

    def _stage(
        self,
        pending: dict[str, dict[str, str]],
        run: Run | str | None,
        checked: list[tuple[str, str]],
    ) -> None:
        run_id = self._run_id(run)

        def cache() -> None:
            self._cache.stage(pending, run_id, checked)
            lifecycle.hold(self)
            self._spend(text_cost(checked) * BYTES_PER_CACHED_VALUE)

        self._write((run_id,), cache)

    def _steps_of(self, run_id: str) -> dict[str, int]:
        """The next automatic steps of a run's metrics; for a run this SDK has not logged to
        yet, they go on from what is stored."""
        steps = self._cache.next_steps.get(run_id)
        if steps is None:
            steps = self._cache.steps(run_id)
            if self._active is None or run_id != self._active.id:
                steps.update(self.store.next_steps(run_id))
        return steps


def _item_run(item: Mapping[str, Any], run: Run | str | None) -> Run | str | None:
    """The run of a log_metrics item: its own ``run`` when given, else the call's."""
    own: Run | str | None = item.get("run")
    return run if own is None else own
