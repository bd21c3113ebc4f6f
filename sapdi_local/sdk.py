"""MLTrackingSDK: the active run, its context, the in-memory cache and when it is persisted.

Logging to the active run never touches the disk: a value is validated, appended to a
per-(run, metric) window, and written once, in a batch, by a persist (explicit, at
``end_run``, when the cache reaches its limit, 1.5 MB by default, before a read, and at
interpreter exit). Only the latest 1000 values of a metric are written. What is logged to
another run (``run=``, after ``end_run``) is persisted before the call returns. A failed
persist keeps the cache; an automatic one warns instead of raising, so the training it
measures goes on.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from functools import partial
from itertools import chain
from operator import attrgetter, is_not, itemgetter
from time import time
from typing import TYPE_CHECKING, Any, NamedTuple

from . import lifecycle
from .cache import (
    BYTES_PER_CACHED_VALUE,
    BYTES_PER_METRIC_NAME,
    BYTES_PER_WINDOW,
    Cache,
    MetricEntry,
    Window,
    text_cost,
)
from .context import RunContext, current_process, new_id, process_is_gone, resolve_context
from .errors import (
    InvalidTypeError,
    InvalidValueError,
    NoActiveRunError,
    PersistWarning,
    RunAlreadyActiveError,
    RunNotFoundError,
    TrackingError,
)
from .model import (
    FINISHED,
    KILLED,
    RUNNING,
    STATUSES,
    HistoryList,
    MetricHistory,
    MetricValue,
    Run,
    RunList,
    Scenario,
    Unreadable,
    UnreadableFieldWarning,
    iso_time,
    utc_from_seconds,
)
from .paths import resolve_db_path
from .selectors import delete_filter, run_filter, search_filter
from .validation import (
    HISTORY_WINDOW,
    MAX_METRIC_VALUE,
    MAX_NAME_LENGTH,
    MAX_TIMESTAMP,
    MAX_VALUE_LENGTH,
    MIN_TIMESTAMP,
    TIME_RANGE_TEXT,
    check_label,
    check_metric_value,
    check_name,
    check_optional_text,
    check_parameter,
    check_step,
    check_tag,
    check_timestamp,
    decode_label,
    name_value_pairs,
)

if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType

    import pandas

    from .store import PersistBatch, ReadOnlyStore, RunRecord, Store

CACHE_LIMIT_BYTES = 1.5 * 1024 * 1024
# Rows become MetricValues without a Python call each: a history has up to 1000 per metric.
_metric_value = partial(tuple.__new__, MetricValue)
_MAX = MAX_METRIC_VALUE
_STEP_LIMIT = 2**63  # steps are stored as 64-bit integers
# Values logged between two measures of the cache per window measured: a measure looks at
# each window, and costs about as much as logging this many values.
_VALUES_PER_WINDOW_MEASURED = 50
_BYTES_PER_NEW_VALUE = BYTES_PER_CACHED_VALUE + BYTES_PER_WINDOW  # the first of its metric
# What a log_metrics item may hold besides name and value: the other keywords of log_metric.
_ITEM_KEYS = ("step", "timestamp", "run")


class ActiveRun(Run):
    """The run ``start_run`` returns: a Run that, used as ``with start_run() as run:``, ends
    itself when the block exits (FAILED if an exception escapes it, the exception going on).
    """

    # No __slots__ here, unlike Run: the instance keeps the SDK that started it.
    _sdk: MLTrackingSDK

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._sdk._end_if_active(self.id, error)


class MLTrackingSDK:
    """Tracks runs into one SQLite file.

    Every argument is optional: the database defaults to ``SAPDI_LOCAL_DB`` or
    the per-user data folder, and the context to the SAPDI_* environment
    variables or local facts (project folder, git commit, notebook or script).

    >>> sdk = MLTrackingSDK(db_path="/tmp/demo.db", scenario="churn")
    >>> run = sdk.start_run(run_collection_name="baseline")
    >>> sdk.log_metric("accuracy", 0.91)
    >>> sdk.end_run()
    """

    def __init__(
        self,
        *,
        db_path: str | os.PathLike[str] | None = None,
        scenario: str | None = None,
        scenario_version: str | None = None,
        notebook: str | None = None,
        pipeline: str | None = None,
        execution: str | None = None,
        lock_timeout: float | None = None,
        cache_limit_bytes: float = CACHE_LIMIT_BYTES,
    ) -> None:
        self._db_path_argument = db_path
        self._context_arguments = {
            "scenario": scenario,
            "scenario_version": scenario_version,
            "notebook": notebook,
            "pipeline": pipeline,
            "execution": execution,
        }
        self._lock_timeout = lock_timeout
        self._store: Store | None = None
        self._context: RunContext | None = None
        self._active: Run | None = None
        self._known_runs: set[str] = set()
        self._cache = Cache()
        # The active run's metric windows, held here so log_metric finds them in one lookup.
        self._windows: dict[str, Window] = {}
        self._next_steps: dict[str, int] = {}  # the active run's, for the hot path
        # The limit counts everything the cache holds (Cache.measure). The budget is how
        # many more values may be logged before the cache is measured again.
        self._limit = int(cache_limit_bytes)
        self._budget_size = max(1, self._limit // BYTES_PER_CACHED_VALUE)
        self._budget = self._budget_size
        # Name, collection and tags given to update_run_info() before start_run().
        self._next_run_info: dict[str, Any] = {}
        # Reentrant: a value logged to another run is cached and persisted under it, and
        # caching may start an automatic persist.
        self._persist_lock = threading.RLock()
        lifecycle.register(self)

    # ------------------------------------------------------------ resources

    @property
    def db_path(self) -> Path:
        """The database file this SDK writes to.

        >>> MLTrackingSDK(db_path="runs.db").db_path
        PosixPath('runs.db')
        """
        return self.store.path

    @property
    def store(self) -> Store:
        """The database this SDK writes to, opened on first use (for tools, not for logging).

        >>> sdk.store.path
        PosixPath('runs.db')
        """
        if self._store is None:
            from .store import DEFAULT_LOCK_TIMEOUT, Store

            timeout = DEFAULT_LOCK_TIMEOUT if self._lock_timeout is None else self._lock_timeout
            self._store = Store(resolve_db_path(self._db_path_argument), lock_timeout=timeout)
        return self._store

    @property
    def context(self) -> RunContext:
        """Scenario, version, notebook or pipeline, and execution of the runs this SDK starts.

        >>> MLTrackingSDK(scenario="churn").context.scenario
        'churn'
        """
        if self._context is None:
            self._context = resolve_context(**self._context_arguments)
        return self._context

    @property
    def active_run(self) -> Run | None:
        """The run started by start_run() and not yet ended, if any.

        >>> sdk.start_run().id == sdk.active_run.id
        True
        """
        return self._active

    # ------------------------------------------------------------ runs

    def start_run(
        self, run_collection_name: str | None = None, run_name: str | None = None
    ) -> ActiveRun:
        """Start a run and make it the active one.

        Without ``run_collection_name`` the run goes to the default collection of its
        notebook or pipeline; without ``run_name`` it is named by its id.

        >>> run = tracking.start_run(run_collection_name="rc1", run_name="lr-0.01")
        """
        if self._active is not None:
            raise RunAlreadyActiveError(
                f"run {self._active.id} ({self._active.name}) is still active; call end_run() "
                "before starting another run"
            )
        collection = check_optional_text("run_collection_name", run_collection_name)
        name = check_optional_text("run_name", run_name)
        planned = self._next_run_info
        collection = collection or planned.get("collection")
        name = name or planned.get("name")
        context = self.context
        run_id = new_id()
        started = time()
        process = current_process()
        run = ActiveRun(
            id=run_id,
            name=name or run_id,
            collection=collection or context.source,
            # A collection named after the run's own notebook or pipeline is its default one.
            collection_is_default=collection is None or collection == context.source,
            scenario=context.scenario,
            scenario_version=context.scenario_version,
            notebook=context.notebook,
            pipeline=context.pipeline,
            execution=context.execution,
            status=RUNNING,
            start_time=utc_from_seconds(started),
        )
        self.store.insert_run(
            {
                "id": run.id,
                "name": run.name,
                "collection": run.collection,
                "collection_is_default": int(run.collection_is_default),
                "scenario": run.scenario,
                "scenario_version": run.scenario_version,
                "notebook": run.notebook,
                "pipeline": run.pipeline,
                "execution": run.execution,
                "status": RUNNING,
                "start_time": started,
                "host": process.host,
                "pid": process.pid,
                "pid_started": process.started,
            }
        )
        run._sdk = self
        self._known_runs.add(run_id)
        self._active = run
        self._windows = self._cache.windows(run_id)
        self._next_steps = self._cache.steps(run_id)
        self._next_run_info = {}
        lifecycle.hold(self)
        lifecycle.watch_for_sigterm()
        if planned.get("tags"):
            self._cache.stage(self._cache.tags, run_id, planned["tags"])
        return run

    def end_run(self) -> None:
        """End the active run (FINISHED) and persist everything logged.

        >>> tracking.end_run()
        """
        self._end_active_run(FINISHED, explicit=True)

    def _end_active_run(self, status: str, *, explicit: bool, at_exit: bool = False) -> None:
        if self._active is None:
            if explicit:
                raise NoActiveRunError(
                    "end_run() was called but no run is active; call start_run() first"
                )
            return
        run_id = self._active.id
        self._cache.stage(
            self._cache.run_updates, run_id, {"status": status, "end_time": time()}.items()
        )
        # The run is over in memory even if the persist below fails: its end stays
        # in the cache and is written by the next persist.
        self._active = None
        self._windows = {}
        self._next_steps = {}
        self._persist(explicit=explicit, at_exit=at_exit)

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

        >>> tracking.log_metric("loss", 0.25)
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

        >>> tracking.log_metrics({"accuracy": 0.89, "avg_loss": 0.59})
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

        >>> tracking.log_parameters({"learning_rate": 0.001, "epochs": 2})
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

        >>> tracking.set_tags({"dataset": "v2"})
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

        >>> tracking.set_labels({"accuracy": {"format_string": "percentage"}})
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

    def _write(self, run_ids: Iterable[str], cache: Callable[[], None]) -> None:
        """Run ``cache``, which caches writes to ``run_ids``. Writes to a run other than
        the active one (logged after end_run with run=) are persisted before returning, as
        the original SDK sent them at once: then another process sees them and a crash
        cannot lose them. A persist that fails raises, and keeps them for the next one."""
        active = self._active
        if active is not None and all(run_id == active.id for run_id in run_ids):
            cache()
            return
        # Under the persist lock from caching to writing: no other thread's persist can
        # take half of them, or forget the steps they were numbered from.
        with self._persist_lock:
            cache()
            self._persist(explicit=True)

    def _spend(self, cost: int) -> None:
        """Count ``cost`` bytes newly held by the cache against the budget."""
        self._budget -= -(-cost // BYTES_PER_CACHED_VALUE)  # in values, rounded up
        if self._budget <= 0:
            self._check_cache_size()

    def _check_cache_size(self) -> None:
        """Persist when what the cache holds has reached its limit.

        The budget counts what was logged, an upper bound: values beyond a metric's
        history are dropped here, so the cache may still be below its limit. Then logging
        goes on with the room that is left.
        """
        # Trimming takes from the front of windows, as a persist does: not during one. A
        # persist running in another thread takes the windows, trimming them, anyway.
        if self._persist_lock.acquire(blocking=False):
            try:
                self._cache.trim()
            finally:
                self._persist_lock.release()
        held, windows = self._cache.measure()
        if held >= self._limit:
            self._persist(explicit=False)
        else:
            self._set_budget(self._limit - held, windows)

    def _set_budget(self, room: int, windows: int) -> None:
        """Let ``room`` bytes be logged before the cache is measured again; but measure it
        at least every two histories' worth of values while there are few ``windows`` to
        look at, so that a metric's window (a list) grows little past its history before
        it is trimmed: the memory the hot path writes to stays small, and fast."""
        cadence = max(2 * HISTORY_WINDOW, _VALUES_PER_WINDOW_MEASURED * windows)
        self._budget = max(1, min(room // BYTES_PER_CACHED_VALUE, cadence))

    # ------------------------------------------------------------ persisting

    def persist_run(self) -> None:
        """Write everything logged so far to the database now, in one transaction.

        Raises StorageError (or LockTimeoutError) if the database refuses; the
        logged values stay in memory and the next persist writes them.

        >>> tracking.persist_run()
        """
        self._persist(explicit=True)

    def _persist(self, *, explicit: bool, at_exit: bool = False) -> None:
        """Write the cache in one transaction. Explicit persists raise on failure;
        automatic ones warn; either way a batch that was not committed goes back in
        the cache for the next persist."""
        # Persists take turns (a thread's automatic one and another's explicit one), so
        # that batches reach the file in the order their values were logged.
        with self._persist_lock:
            active_id = None if self._active is None else self._active.id
            batch = self._cache.take(keep=active_id)
            # What a persist leaves (the active run's next steps and emptied windows, see
            # cache.py) counts too. But at least half the limit, or half of what it leaves if
            # more, is logged before the next persist: else a run with thousands of metric
            # names would persist every value, and each persist costs about as much as what
            # it leaves (the file looks each name of the run up), however little it writes.
            kept, windows = self._cache.measure()
            self._set_budget(max(self._limit - kept, self._limit // 2, kept // 2), windows)
            if not batch.run_ids():
                deleted: set[str] = set()
            else:
                try:
                    deleted = self.store.persist(batch)
                except BaseException as error:
                    if not batch.committed:
                        self._cache.restore(batch)
                    if explicit or not isinstance(error, Exception):
                        raise
                    self._warn_not_saved(error, batch, at_exit=at_exit)
                    return
            self._cache.forget_written_steps(keep=active_id)
        if deleted:
            warnings.warn(
                "values logged to runs that were deleted meanwhile were dropped: "
                f"{sorted(deleted)}",
                PersistWarning,
                stacklevel=3,
            )
        if self._active is None and not self._cache.has_pending():
            lifecycle.release(self)

    @staticmethod
    def _warn_not_saved(error: BaseException, batch: PersistBatch, *, at_exit: bool) -> None:
        if at_exit:
            values = sum(
                len(window) for windows in batch.metrics.values() for window in windows.values()
            )
            message = (
                f"sapdi-local could not save logged values at exit, and they are lost: {error}. "
                f"Runs {sorted(batch.run_ids())} miss {values} metric values and any "
                "parameters, tags and labels logged since their last persist."
            )
        else:
            message = (
                f"sapdi-local could not persist logged values: {error}. They are kept in "
                "memory and written by the next persist."
            )
        warnings.warn(message, PersistWarning, stacklevel=4)

    def has_pending(self) -> bool:
        """True when logged values are waiting to be persisted.

        >>> sdk.log_metric("loss", 0.5); sdk.has_pending()
        True
        """
        return self._cache.has_pending()

    def discard_pending(self) -> None:
        """Drop every logged value not yet persisted: for a caller that gave up after a
        persist failed and will log them again (``sapdi-local submit`` does), so that no
        later persist, at exit included, writes them behind its back.

        >>> sdk.log_metric("loss", 0.5); sdk.discard_pending(); sdk.has_pending()
        False
        """
        self._cache.clear()
        self._budget = self._budget_size
        # The logging path holds the active run's window and step tables: point it at the
        # new, empty ones, or later values would land where no persist reads them.
        if self._active is not None:
            self._windows = self._cache.windows(self._active.id)
            self._next_steps = self._cache.steps(self._active.id)
            # Steps go on from what is stored, as if the dropped values were never logged;
            # if the file cannot be read now, they start again from 0.
            with contextlib.suppress(TrackingError):
                self._next_steps.update(self.store.next_steps(self._active.id))

    def _flush_before_read(self) -> None:
        # A read shows what this process logged: write it first, without raising.
        if self.has_pending():
            self._persist(explicit=False)

    # ------------------------------------------------------------ run info

    def update_run_info(
        self,
        run: Run | str | None = None,
        run_name: str | None = None,
        run_collection_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Rename a run, move it to another collection or set tags; during or after the run.

        >>> tracking.update_run_info(run_collection_name="LR", run_name="LR_6")
        """
        name = check_optional_text("run_name", run_name)
        collection = check_optional_text("run_collection_name", run_collection_name)
        checked_tags = (
            []
            if tags is None
            else [
                check_tag(key, value)
                for key, value in name_value_pairs("update_run_info", tags, None, None)
            ]
        )
        if run is None and self._active is None:
            # Before the run: what is given here applies to the next start_run().
            planned = self._next_run_info
            planned.update({"name": name} if name is not None else {})
            planned.update({"collection": collection} if collection is not None else {})
            planned["tags"] = [*planned.get("tags", []), *checked_tags]
            return
        run_id = self._run_id(run)
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if collection is not None:
            changes["collection"] = collection  # the store decides whether it is the default
        if changes:
            self._cache.stage(self._cache.run_updates, run_id, changes.items())
        if checked_tags:
            self._cache.stage(self._cache.tags, run_id, checked_tags)
        if self._active is not None and self._active.id == run_id:
            self._active = self._active._replace(
                name=name or self._active.name,
                collection=collection or self._active.collection,
                collection_is_default=(
                    self._active.collection_is_default
                    if collection is None
                    else collection == self.context.source
                ),
            )
        self._persist(explicit=True)

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

        >>> runs = tracking.get_runs(run=run, tags={"tag_key": "tag_value"})
        """
        selection = run_filter(
            "get_runs", scenario, scenario_version, pipeline, execution, notebook, run, tags
        )
        self._flush_before_read()
        return RunList(runs_from_records(self.store.select_runs(selection)))

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
        """
        from .store import search_run_records

        selection = search_filter(
            scenario, scenario_version, pipeline, execution, notebook, run, tags
        )
        order = [order_by] if isinstance(order_by, str) else list(order_by or ())
        self._flush_before_read()
        _, records = search_run_records(
            self.store, filter_string, order, max_results, 0, selection
        )
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
        >>> frame.sort_values("metrics.accuracy").tail(3)
        >>> tracking.runs_frame(filter_string="params.optimizer = 'adam'",
        ...                     order_by="metrics.accuracy DESC")
        """
        from .frames import runs_frame

        if filter_string is None and order_by is None:
            selected = self.get_runs(
                scenario, scenario_version, pipeline, execution, notebook, run, tags
            )
        else:
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
        return runs_frame(selected)

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

        >>> history = tracking.get_metrics_history(metrics=["accuracy"])
        >>> [v.value for v in history[0].values]
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
        >>> frame.pivot(index="step", columns="run_id", values="value").plot()
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
        from .frames import histories_frame, pandas

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

    # ------------------------------------------------------------ helpers

    def _steps_of(self, run_id: str) -> dict[str, int]:
        """The next automatic steps of a run's metrics; for a run this SDK has not logged to
        yet, they go on from what is stored."""
        steps = self._cache.next_steps.get(run_id)
        if steps is None:
            steps = self._cache.steps(run_id)
            if self._active is None or run_id != self._active.id:
                steps.update(self.store.next_steps(run_id))
        return steps

    def _run_id(self, run: Run | str | None) -> str:
        """The id of ``run``, or of the active run; unknown ids raise at once."""
        if run is None:
            if self._active is None:
                raise NoActiveRunError(
                    "no run is active: call start_run() first, or pass run= to name an ended run"
                )
            return self._active.id
        run_id = run.id if isinstance(run, Run) else run
        if not isinstance(run_id, str):
            raise InvalidTypeError(
                f"run must be a Run or a run id string, got {type(run).__name__}"
            )
        if run_id not in self._known_runs:
            if not self.store.run_exists(run_id):
                raise RunNotFoundError(
                    f"no run with id {run_id!r} in {self.store.path}; check the id with get_runs"
                )
            self._known_runs.add(run_id)
        return run_id

    def __enter__(self) -> MLTrackingSDK:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """End the active run (FAILED if an exception escapes the block), persist, close."""
        if self._active is not None:
            self._end_if_active(self._active.id, error)
        self.close()

    def _end_if_active(self, run_id: str, error: BaseException | None) -> None:
        # Ending because of an exception must not replace it with a storage error: then a
        # failed persist only warns, and the values stay for the exit handler.
        if self._active is not None and self._active.id == run_id:
            self._end_active_run(lifecycle.status_for(error), explicit=error is None)

    def close(self) -> None:
        """End the active run, persist the cache and close the database.

        >>> sdk.close()
        """
        self._at_exit(FINISHED)
        lifecycle.release(self)
        if self._store is not None:
            self._store.close()

    def _at_exit(self, status: str) -> None:
        if self._active is not None:
            self._end_active_run(status, explicit=False, at_exit=True)
        elif self._cache.has_pending():
            self._persist(explicit=False, at_exit=True)

    def _forget_inherited_state(self) -> None:
        """In a forked child: the parent persists what it logged, and its run stays its own."""
        self._cache.clear()
        self._active = None
        self._windows = {}
        self._next_steps = {}
        self._known_runs.clear()
        self._next_run_info = {}
        self._budget = self._budget_size
        self._persist_lock = threading.RLock()  # the fork may have copied it held


def _item_run(item: Mapping[str, Any], run: Run | str | None) -> Run | str | None:
    """The run of a log_metrics item: its own ``run`` when given, else the call's."""
    own: Run | str | None = item.get("run")
    return run if own is None else own


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


# ------------------------------------------------------------ reading stored runs
#
# A file edited by hand or by another tool can hold what no sapdi-local writes: a label that
# is not JSON (or JSON nested thousands deep), a time or metric value that is text, a blob
# or out of range, a status of its own, a name megabytes long. Every reader (get_runs, the
# command line, the explorer) reads a stored field by the rule the SDK keeps when it writes
# that field; a field that breaks it is left out (None, or missing from the run's
# parameters, tags, labels or metrics), named in the run's ``unreadable``, and the run is
# read all the same. A metric history leaves out each stored value whose value, step or
# timestamp breaks its rule.

_STORED_STATUSES = tuple(status for status in STATUSES if status != KILLED)
_NAME_COLUMNS = ("name", "collection")  # a run always has these
_OPTIONAL_NAME_COLUMNS = (
    "scenario",
    "scenario_version",
    "notebook",
    "pipeline",
    "execution",
    "host",
    "pid_started",
)
_TIME_COLUMNS = ("start_time", "end_time")
_MAX_PID = 2**31 - 1
_FLOAT_ONLY = frozenset((float,))
_TEXT_ONLY = frozenset((str,))
_INT_ONLY = frozenset((int,))
_DEFAULT_FLAGS = frozenset((0, 1))
_STATUS_SET = frozenset(_STORED_STATUSES)
_NOT_NONE = partial(is_not, None)
_STEP_TYPES = frozenset((int, type(None)))


class StoredRun(NamedTuple):
    """A stored run as read: each field that cannot be read is None in ``row`` or left out
    of the maps, and named in ``unreadable``; labels are decoded."""

    row: dict[str, Any]
    parameters: dict[str, str]
    tags: dict[str, str]
    labels: dict[str, Any]
    metrics: dict[str, float]
    unreadable: tuple[Unreadable, ...]


def described(value: object) -> str:
    """A stored value in a few words, for a message: its kind, and its start if it is text."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return f"a blob of {len(value):,} byte" + ("" if len(value) == 1 else "s")
    if isinstance(value, str):
        if len(value) <= 40:
            return f"text {value!r}"
        return f"text of {len(value):,} characters ({value[:20]!r}…)"
    return f"{type(value).__name__} {value!r}"[:60]


def name_problem(value: object) -> str | None:
    """Why a stored name (of a run, a collection, a parameter, tag, label or metric) is not
    one sapdi-local writes; None if it is."""
    if isinstance(value, str) and 0 < len(value) <= MAX_NAME_LENGTH:
        return None if "\x00" not in value else "text holding a NUL character"
    if not isinstance(value, str):
        return f"{described(value)}, not text"
    if not value:
        return "empty"
    return f"{len(value):,} characters long; names have at most {MAX_NAME_LENGTH}"


def number_problem(value: object) -> str | None:
    """Why a stored metric value is not one sapdi-local writes; None if it is."""
    if isinstance(value, (float, int)) and not isinstance(value, bool):
        if -_MAX <= value <= _MAX:
            return None
        return f"{value!r}, not a finite number"
    return f"{described(value)}, not a number"


def time_problem(value: object) -> str | None:
    """Why a stored time (Unix seconds, or NULL) is not one every reader can show; None if
    it is."""
    if value is None:
        return None
    if isinstance(value, (float, int)) and not isinstance(value, bool):
        if MIN_TIMESTAMP <= value <= MAX_TIMESTAMP:
            return None
        return f"{value!r} Unix seconds, outside {TIME_RANGE_TEXT}"
    return f"{described(value)}, not Unix seconds"


def _text_value(kind: str, name: str, value: object) -> str:
    if isinstance(value, str):
        if len(value) <= MAX_VALUE_LENGTH:
            return value
        raise InvalidValueError(
            f"{kind} {name!r} has a value of {len(value):,} characters; values have at most "
            f"{MAX_VALUE_LENGTH}"
        )
    raise InvalidValueError(f"{kind} {name!r} is {described(value)}, not text")


def _metric_number(kind: str, name: str, value: object) -> float:
    problem = number_problem(value)
    if problem is not None:
        raise InvalidValueError(f"{kind} {name!r} is {problem}")
    return float(value)  # type: ignore[arg-type]  # a number: number_problem said so


def _label_value(kind: str, name: str, value: object) -> object:
    return decode_label(name, value)


# Checks of many stored names or values at once, without a Python call per item: a list
# of 10,000 runs reads 100,000 of them.
def _names_readable(names: Collection[Any]) -> bool:
    return (
        _TEXT_ONLY.issuperset(map(type, names))
        and all(names)  # none empty
        and max(map(len, names), default=0) <= MAX_NAME_LENGTH
        and "\x00" not in "".join(names)
    )


def _texts_readable(values: Collection[Any]) -> bool:
    return (
        _TEXT_ONLY.issuperset(map(type, values))
        and max(map(len, values), default=0) <= MAX_VALUE_LENGTH
    )


def _numbers_readable(values: Collection[Any]) -> bool:
    return _FLOAT_ONLY.issuperset(map(type, values)) and (
        not values or (min(values) >= -_MAX and max(values) <= _MAX)
    )


def _times_readable(values: Collection[Any]) -> bool:
    return _FLOAT_ONLY.issuperset(map(type, values)) and (
        not values or (min(values) >= MIN_TIMESTAMP and max(values) <= MAX_TIMESTAMP)
    )


def _read_entries(
    stored: dict[Any, Any],
    kind: str,
    read: Callable[[str, str, Any], Any],
    all_readable: Callable[[Collection[Any]], bool] | None,
    unreadable: list[Unreadable],
) -> dict[str, Any]:
    """The entries of ``stored`` (parameters, tags, labels or metrics) whose name and value
    can be read (``read`` gives the value or raises); each other one is left out and named
    in ``unreadable``. When ``all_readable`` says every value is, they are taken as they are."""
    if all_readable is not None and _names_readable(stored) and all_readable(stored.values()):
        return stored
    entries: dict[str, Any] = {}
    for name, value in stored.items():
        problem = name_problem(name)
        if problem is not None:
            reason = f"a {kind} name is {problem}"
            unreadable.append(Unreadable(kind, None, reason))
            continue
        try:
            entries[name] = read(kind, name, value)
        except InvalidValueError as error:
            unreadable.append(Unreadable(kind, name, str(error)))
    return entries


def read_record(record: RunRecord) -> StoredRun:
    """A stored run with every field read by the rule the SDK writes it by (see above)."""
    row = record.row
    unreadable: list[Unreadable] = []
    read = row

    def refuse(column: str, problem: str, replacement: object = None) -> None:
        nonlocal read
        if read is row:
            read = dict(row)
        read[column] = replacement
        unreadable.append(Unreadable(column, None, f"{column} is {problem}"))

    run_id = row["id"]
    if run_id.__class__ is not str:
        # Kept, as text, rather than left out: a run is known by its id.
        refuse("id", f"{described(run_id)}, not text", repr(run_id))
    for column in _NAME_COLUMNS:
        problem = name_problem(row[column])
        if problem is not None:
            refuse(column, problem)
    for column in _OPTIONAL_NAME_COLUMNS:
        if row[column] is not None:
            problem = name_problem(row[column])
            if problem is not None:
                refuse(column, problem)
    if row["collection_is_default"] not in (0, 1):
        refuse("collection_is_default", f"{described(row['collection_is_default'])}, not 0 or 1", 0)
    if row["status"] not in _STORED_STATUSES:
        refuse("status", f"{described(row['status'])}, not one of {', '.join(_STORED_STATUSES)}")
    for column in _TIME_COLUMNS:
        problem = time_problem(row[column])
        if problem is not None:
            refuse(column, problem)
    pid = row["pid"]
    if pid is not None and (pid.__class__ is not int or not 0 <= pid <= _MAX_PID):
        refuse("pid", f"{described(pid)}, not a process id")
    return StoredRun(
        row=read,
        parameters=_read_entries(
            record.parameters, "parameter", _text_value, _texts_readable, unreadable
        ),
        tags=_read_entries(record.tags, "tag", _text_value, _texts_readable, unreadable),
        labels=_read_entries(record.labels, "label", _label_value, None, unreadable),
        metrics=_read_entries(
            record.metrics, "metric", _metric_number, _numbers_readable, unreadable
        ),
        unreadable=tuple(unreadable),
    )


def read_records(records: Sequence[RunRecord]) -> list[StoredRun]:
    """``read_record`` of each record. The usual list, where nothing is left out, is checked
    in bulk (a column or a kind of entry of all the runs at once, without a Python call per
    field): a list of 10,000 runs costs little more than its labels' JSON."""
    if not _records_readable(records):
        return [read_record(record) for record in records]
    stored: list[StoredRun] = []
    for record in records:
        try:
            labels = {name: decode_label(name, text) for name, text in record.labels.items()}
        except InvalidValueError:
            stored.append(read_record(record))
            continue
        row = record.row
        stored.append(StoredRun(row, record.parameters, record.tags, labels, record.metrics, ()))
    return stored


def _records_readable(records: Sequence[RunRecord]) -> bool:
    """Whether every field of ``records`` but their labels' JSON can be read as it is."""
    rows = list(map(attrgetter("row"), records))

    def column(name: str) -> list[Any]:
        return list(filter(_NOT_NONE, map(itemgetter(name), rows)))

    names = {name: column(name) for name in _NAME_COLUMNS + _OPTIONAL_NAME_COLUMNS}
    pids = column("pid")
    if not (
        _TEXT_ONLY.issuperset(map(type, column("id")))
        and all(len(names[name]) == len(rows) for name in _NAME_COLUMNS)
        and all(map(_names_readable, names.values()))
        and _DEFAULT_FLAGS.issuperset(map(itemgetter("collection_is_default"), rows))
        and _STATUS_SET.issuperset(map(itemgetter("status"), rows))
        and all(_times_readable(column(name)) for name in _TIME_COLUMNS)
        and _INT_ONLY.issuperset(map(type, pids))
        and (not pids or (min(pids) >= 0 and max(pids) <= _MAX_PID))
    ):
        return False
    for kind, values_readable in (
        ("parameters", _texts_readable),
        ("tags", _texts_readable),
        ("labels", _texts_readable),  # JSON text: decoded run by run
        ("metrics", _numbers_readable),
    ):
        maps = list(map(attrgetter(kind), records))
        entries = list(chain.from_iterable(maps))
        if not (
            _names_readable(entries)
            and values_readable(list(chain.from_iterable(map(dict.values, maps))))
        ):
            return False
    return True


def shown_status(row: Mapping[str, Any]) -> str | None:
    """A run's status as readers see it, from its row as ``read_record`` gives it: RUNNING
    is KILLED once its process is gone; None when the stored status cannot be read."""
    status: str | None = row["status"]
    if status == RUNNING and process_is_gone(row["host"], row["pid"], row["pid_started"]):
        return KILLED
    return status


def run_from_record(record: RunRecord, *, warn: bool = True) -> Run:
    """A stored run as the API shows it: system parameters and tag added, labels decoded,
    and a run whose process is gone shown as KILLED. Fields that cannot be read are left
    out and named in ``Run.unreadable``, with an ``UnreadableFieldWarning`` for each
    unless ``warn`` is false."""
    return _run_from_stored(read_record(record), warn=warn)


def runs_from_records(records: Sequence[RunRecord], *, warn: bool = True) -> list[Run]:
    """``run_from_record`` of each record, read in bulk (``read_records``)."""
    return [_run_from_stored(stored, warn=warn) for stored in read_records(records)]


def _run_from_stored(stored: StoredRun, *, warn: bool) -> Run:
    row = stored.row
    start, end = utc_from_seconds(row["start_time"]), utc_from_seconds(row["end_time"])
    parameters = dict(stored.parameters)
    parameters["start"] = iso_time(start) or ""
    if end is not None:
        parameters["end"] = iso_time(end) or ""
    tags = dict(stored.tags)
    if row["name"] is not None:
        tags["runName"] = row["name"]
    run = Run(
        id=row["id"],
        name=row["name"],
        collection=row["collection"],
        collection_is_default=bool(row["collection_is_default"]),
        scenario=row["scenario"],
        scenario_version=row["scenario_version"],
        notebook=row["notebook"],
        pipeline=row["pipeline"],
        execution=row["execution"],
        status=shown_status(row),
        start_time=start,
        end_time=end,
        parameters=parameters,
        tags=tags,
        labels=stored.labels,
        metrics=stored.metrics,
        unreadable=stored.unreadable,
    )
    if warn:
        warn_unreadable(run.id, run.name, run.unreadable)
    return run


def warn_unreadable(run_id: str, name: str | None, unreadable: Iterable[Unreadable]) -> None:
    """An ``UnreadableFieldWarning`` for each field of a run that cannot be read, pointing
    at the first caller outside this package."""
    items = list(unreadable)
    if not items:
        return
    import sys  # imported when first needed, as the warnings are rare

    level, frame = 1, sys._getframe(0)
    package = os.path.dirname(__file__)
    while frame is not None and frame.f_code.co_filename.startswith(package):
        level, frame = level + 1, frame.f_back  # type: ignore[assignment]
    run = f"run {run_id}" + ("" if name is None else f" ({name!r})")
    for item in items:
        warnings.warn(f"{run}: {item.reason}; left out", UnreadableFieldWarning, stacklevel=level)


def histories_from_rows(
    run_id: str, stored: Mapping[Any, Sequence[tuple[Any, Any, Any]]]
) -> list[MetricHistory]:
    """A run's metric histories from the store's rows, with an ``UnreadableFieldWarning``
    for each whose name or some of whose values cannot be read (those are left out)."""
    histories: list[MetricHistory] = []
    problems: list[Unreadable] = []
    for name, rows in stored.items():
        values, problem = read_history(run_id, name, rows)
        if problem is not None:
            problems.append(problem)
        if problem is None or problem.name is not None:
            histories.append(MetricHistory(run_id=run_id, name=name, values=values))
    warn_unreadable(run_id, None, problems)
    return histories


def read_history(
    run_id: str, name: object, rows: Sequence[tuple[Any, Any, Any]]
) -> tuple[tuple[MetricValue, ...], Unreadable | None]:
    """The stored values of one metric of a run, oldest first, without those whose value,
    step or timestamp cannot be read; and what was left out, if anything."""
    problem = name_problem(name)
    if problem is not None:
        return (), Unreadable("metric", None, f"a metric name is {problem}")
    if not rows:
        return (), None
    # The usual case checked in bulk, without a Python call per value: a history holds
    # up to 1000 values per metric.
    values, steps, stamps = zip(*rows, strict=True)
    if (
        _numbers_readable(values)
        and _STEP_TYPES.issuperset(map(type, steps))
        and _times_readable(stamps)
    ):
        return tuple(map(_metric_value, rows)), None
    kept: list[MetricValue] = []
    first: str | None = None
    for value, step, stamp in rows:
        problem = _stored_value_problem(value, step, stamp)
        if problem is None:
            kept.append(MetricValue(float(value), step, float(stamp)))
        elif first is None:
            first = problem
    if first is None:
        return tuple(kept), None
    reason = (
        f"metric {name!r}: {len(rows) - len(kept)} of its {len(rows)} stored values cannot "
        f"be read (the first: {first})"
    )
    return tuple(kept), Unreadable("metric", str(name), reason)


def _stored_value_problem(value: object, step: object, stamp: object) -> str | None:
    """Why one stored value of a metric cannot be read; None if it can."""
    problem = number_problem(value)
    if problem is not None:
        return f"a value is {problem}"
    if step is not None and (
        not isinstance(step, int)
        or isinstance(step, bool)
        or not -_STEP_LIMIT <= step < _STEP_LIMIT
    ):
        return f"a step is {described(step)}, not a 64-bit integer"
    if stamp is None:
        return "a timestamp is NULL"
    problem = time_problem(stamp)
    return None if problem is None else f"a timestamp is {problem}"


def read_metric_stats(
    store: ReadOnlyStore, run_id: str, *, warn: bool = True
) -> dict[str, dict[str, Any]]:
    """Per metric of a run: its last value, and the count, min and max of its stored values
    (``ReadOnlyStore.metric_stats``), each readable: a metric whose name cannot be read is
    left out, and one whose last, min or max is not a number has them taken again from its
    readable values (a last value that cannot be read is None), with an
    ``UnreadableFieldWarning`` for the values left out unless ``warn`` is false."""
    stats: dict[str, dict[str, Any]] = {}
    for name, stat in store.metric_stats(run_id).items():
        if name_problem(name) is not None:
            continue
        if any(
            number_problem(stat[key]) for key in ("last", "min", "max") if stat[key] is not None
        ):
            rows = store.metric_history(run_id, [name])[name]
            values, problem = read_history(run_id, name, rows)
            if warn and problem is not None:
                warn_unreadable(run_id, None, [problem])
            numbers = [value.value for value in values]
            stat = {
                "last": None if number_problem(stat["last"]) else stat["last"],
                "count": len(numbers),
                "min": min(numbers, default=None),
                "max": max(numbers, default=None),
            }
        stats[name] = stat
    return stats


def read_collections(
    stored: Iterable[Mapping[str, Any]], *, warn: bool = True
) -> list[dict[str, Any]]:
    """``ReadOnlyStore.collections()`` as readers show them: a collection whose scenario or
    name cannot be read is left out (its runs are still listed, that field left out), with
    an ``UnreadableFieldWarning`` unless ``warn`` is false; a newest start that cannot be
    read is None."""
    collections: list[dict[str, Any]] = []
    for item in stored:
        scenario, name = item["scenario"], item["collection"]
        problem = name_problem(name) or (None if scenario is None else name_problem(scenario))
        if problem is not None:
            if warn:
                warnings.warn(
                    f"a collection {'name' if name_problem(name) else 'scenario'} is {problem}; "
                    "the collection is left out of the list (its runs are not)",
                    UnreadableFieldWarning,
                    stacklevel=2,
                )
            continue
        last_start = item["last_start"]
        collections.append({**item, "last_start": None if time_problem(last_start) else last_start})
    return collections
