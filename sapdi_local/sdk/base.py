"""The state every part of MLTrackingSDK shares, and its database and context."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from ..context import RunContext, resolve_context
from ..model import (
    MetricValue,
    Run,
)
from ..paths import resolve_db_path
from ..validation import (
    MAX_METRIC_VALUE,
)
from . import lifecycle
from .cache import (
    BYTES_PER_CACHED_VALUE,
    BYTES_PER_WINDOW,
    Cache,
    Window,
)

if TYPE_CHECKING:
    from pathlib import Path

    from ..store import Store


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


class SdkBase:
    """What every part of the SDK shares: its arguments, the state of the active run and
    the cache, and the database and context opened on first use."""

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

        >>> MLTrackingSDK(db_path="runs.db").db_path == Path.cwd() / "runs.db"  # made absolute
        True
        """
        return self.store.path

    @property
    def store(self) -> Store:
        """The database this SDK writes to, opened on first use (for tools, not for logging).

        >>> sdk.store.path == sdk.db_path
        True
        """
        if self._store is None:
            from ..store import DEFAULT_LOCK_TIMEOUT, Store

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

    # ---- the seams between the parts, each defined by the part that owns it

    def _end_active_run(self, status: str, *, explicit: bool, at_exit: bool = False) -> None:
        raise NotImplementedError  # active.RunControl

    def _end_if_active(self, run_id: str, error: BaseException | None) -> None:
        raise NotImplementedError  # active.RunControl

    def _run_id(self, run: Run | str | None) -> str:
        raise NotImplementedError  # active.RunControl

    def _steps_of(self, run_id: str) -> dict[str, int]:
        raise NotImplementedError  # values.ValueLogging

    def _write(self, run_ids: Iterable[str], cache: Callable[[], None]) -> None:
        raise NotImplementedError  # persisting.Persisting

    def _spend(self, cost: int) -> None:
        raise NotImplementedError  # persisting.Persisting

    def _persist(self, *, explicit: bool, at_exit: bool = False) -> None:
        raise NotImplementedError  # persisting.Persisting

    def _flush_before_read(self) -> None:
        raise NotImplementedError  # persisting.Persisting

    def _check_cache_size(self) -> None:
        raise NotImplementedError  # persisting.Persisting

    def _at_exit(self, status: str) -> None:
        raise NotImplementedError  # persisting.Persisting

    def _forget_inherited_state(self) -> None:
        raise NotImplementedError  # persisting.Persisting

    def _forget_run(self, run_id: str) -> None:
        raise NotImplementedError  # reading.RunReading
