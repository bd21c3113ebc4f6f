"""What has been logged and not yet persisted, held in memory until a persist takes it.

Metric values sit in one window per (run, metric) that keeps only the most recent
HISTORY_WINDOW values, so values that would fall out of the stored history are
dropped here and never reach the disk.

Logging may go on in one thread while another persists. The windows are never swapped
out: a persist drains them with ``popleft``, which is atomic, so a value appended
meanwhile stays for the next persist instead of landing in a window nobody writes.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .validation import HISTORY_WINDOW

if TYPE_CHECKING:
    from .store import PersistBatch

# What one cached value costs in memory: a 3-tuple, two floats and a deque slot.
BYTES_PER_CACHED_VALUE = 120

MetricEntry = tuple[float, int | None, float]  # (value, step, timestamp)
# One metric's cached values, the most recent HISTORY_WINDOW of them.
Window = deque[MetricEntry]


def text_cost(pairs: Iterable[tuple[str, str]]) -> int:
    """What key and value texts cost in the cache, counted in metric values."""
    return sum(1 + (len(key) + len(text)) // BYTES_PER_CACHED_VALUE for key, text in pairs)


def new_window() -> Window:
    return deque(maxlen=HISTORY_WINDOW)


def drain(window: Window) -> list[MetricEntry]:
    """Take the values a window holds now, oldest first, leaving any appended meanwhile."""
    if threading.active_count() == 1:
        # No other thread can append between these two steps: the fast way.
        taken = list(window)
        window.clear()
        return taken
    popleft = window.popleft
    return [popleft() for _ in range(len(window))]  # persists take turns: nothing else pops


class Cache:
    """Pending writes, keyed by run id: metric windows, parameters, tags, labels, run changes."""

    def __init__(self) -> None:
        self.metrics: dict[str, dict[str, Window]] = {}
        # Per run and metric, the step a value logged without one gets: one more than the
        # step of the metric's previous value. Kept after a persist, so steps go on.
        self.next_steps: dict[str, dict[str, int]] = {}
        self._small_writes_lock = threading.Lock()
        self._start_small_writes()

    def _start_small_writes(self) -> None:
        self.parameters: dict[str, dict[str, str]] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.labels: dict[str, dict[str, str]] = {}
        self.run_updates: dict[str, dict[str, Any]] = {}

    def windows(self, run_id: str) -> dict[str, Window]:
        """The metric windows of one run (created empty when missing)."""
        return self.metrics.setdefault(run_id, {})

    def steps(self, run_id: str) -> dict[str, int]:
        """The next automatic step of each metric of one run (created empty when missing)."""
        return self.next_steps.setdefault(run_id, {})

    def append_metrics(self, run_id: str, entries: list[tuple[str, MetricEntry]]) -> None:
        windows = self.windows(run_id)
        for name, entry in entries:
            window = windows.get(name)
            if window is None:
                window = windows.setdefault(
                    name, new_window()
                )  # one window even if two threads race
            window.append(entry)

    def stage(self, pending: dict[str, dict[str, Any]], run_id: str, pairs: Iterable[Any]) -> None:
        """Add parameters, tags, labels or run changes of one run (the last value wins)."""
        with self._small_writes_lock:
            pending.setdefault(run_id, {}).update(pairs)

    def size_in_values(self) -> int:
        """About what the cache holds, in metric values (small writes count by their length)."""
        values = sum(
            len(window) for windows in self.metrics.values() for window in windows.values()
        )
        for pending in (self.parameters, self.tags, self.labels):
            for pairs in pending.values():
                values += text_cost(pairs.items())
        return values

    def has_pending(self) -> bool:
        return bool(
            self.run_updates
            or self.parameters
            or self.tags
            or self.labels
            or any(window for windows in self.metrics.values() for window in windows.values())
        )

    def take(self, *, keep: str | None = None) -> PersistBatch:
        """Hand everything pending to a persist. Runs other than ``keep`` (the active run)
        whose windows are all empty are forgotten, so the cache does not grow with runs."""
        from .store import PersistBatch

        with self._small_writes_lock:
            batch = PersistBatch(
                run_updates=self.run_updates,
                parameters=self.parameters,
                tags=self.tags,
                labels=self.labels,
            )
            self._start_small_writes()
        for run_id, windows in list(self.metrics.items()):
            drained = {name: drain(window) for name, window in list(windows.items()) if window}
            if drained:
                batch.metrics[run_id] = drained
            elif run_id != keep:
                del self.metrics[run_id]
        return batch

    def restore(self, batch: PersistBatch) -> None:
        """Put a batch that failed to persist back in front of what was logged since."""
        for run_id, windows in batch.metrics.items():
            current = self.windows(run_id)
            for name, older in windows.items():
                window = current.setdefault(name, new_window())
                newer = drain(window)
                window.extend(older)
                window.extend(newer)  # maxlen drops the oldest when both hold too many
        with self._small_writes_lock:
            for older_writes, newer_writes in (
                (batch.run_updates, self.run_updates),
                (batch.parameters, self.parameters),
                (batch.tags, self.tags),
                (batch.labels, self.labels),
            ):
                for run_id, values in older_writes.items():
                    newer_writes[run_id] = {**values, **newer_writes.get(run_id, {})}

    def forget(self, run_id: str) -> None:
        """Drop everything pending for a run (it was deleted)."""
        with self._small_writes_lock:
            for pending in (self.parameters, self.tags, self.labels, self.run_updates):
                pending.pop(run_id, None)
        self.metrics.pop(run_id, None)
        self.next_steps.pop(run_id, None)

    def clear(self) -> None:
        """Drop everything: used in a forked child, whose parent writes its own cache."""
        self.metrics = {}
        self.next_steps = {}
        # A new lock: the fork may have copied this one while another thread held it.
        self._small_writes_lock = threading.Lock()
        self._start_small_writes()
