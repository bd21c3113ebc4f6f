"""When the cache is persisted: explicitly, at end_run, at its size limit, before a read,
and at exit."""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ..errors import (
    PersistWarning,
    TrackingError,
)
from ..validation import (
    HISTORY_WINDOW,
)
from . import lifecycle
from .cache import (
    BYTES_PER_CACHED_VALUE,
)

if TYPE_CHECKING:
    from ..store import PersistBatch

from .base import _VALUES_PER_WINDOW_MEASURED, SdkBase


class Persisting(SdkBase):
    """When the cache is written: its size budget, persists and what happens at exit."""

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

        >>> run = sdk.start_run()
        >>> sdk.log_metric("loss", 0.5); sdk.has_pending()
        True
        """
        return self._cache.has_pending()

    def discard_pending(self) -> None:
        """Drop every logged value not yet persisted: for a caller that gave up after a
        persist failed and will log them again (``sapdi-local submit`` does), so that no
        later persist, at exit included, writes them behind its back.

        >>> run = sdk.start_run()
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
