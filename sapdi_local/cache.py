"""What has been logged and not yet persisted, held in memory until a persist takes it.

Metric values sit in one window per (run, metric) that keeps only the most recent
HISTORY_WINDOW values, so values that would fall out of the stored history are
dropped here and never reach the disk.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .validation import HISTORY_WINDOW

if TYPE_CHECKING:
    from .store import PersistBatch

# What one cached value costs in memory: a 3-tuple, two floats and a deque slot.
BYTES_PER_CACHED_VALUE = 120

# One metric's cached values, (value, step, timestamp), the most recent HISTORY_WINDOW of them.
Window = deque[tuple[float, int | None, float]]


def text_cost(pairs: Iterable[tuple[str, str]]) -> int:
    """What key and value texts cost in the cache, counted in metric values."""
    return sum(1 + (len(key) + len(text)) // BYTES_PER_CACHED_VALUE for key, text in pairs)


def new_window() -> Window:
    return deque(maxlen=HISTORY_WINDOW)


class Cache:
    """Pending writes, keyed by run id: metric windows, parameters, tags, labels, run changes."""

    def __init__(self) -> None:
        self._start_empty()

    def _start_empty(self) -> None:
        self.metrics: dict[str, dict[str, Window]] = {}
        self.parameters: dict[str, dict[str, str]] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.labels: dict[str, dict[str, str]] = {}
        self.run_updates: dict[str, dict[str, Any]] = {}

    def windows(self, run_id: str) -> dict[str, Window]:
        """The metric windows of one run (created empty when missing)."""
        return self.metrics.setdefault(run_id, {})

    def has_pending(self) -> bool:
        return bool(
            self.run_updates
            or self.parameters
            or self.tags
            or self.labels
            or any(self.metrics.values())
        )

    def size_in_values(self) -> int:
        """About what the cache holds, in metric values (small writes count by their length)."""
        values = sum(
            len(window) for windows in self.metrics.values() for window in windows.values()
        )
        for pending in (self.parameters, self.tags, self.labels):
            for pairs in pending.values():
                values += sum(
                    1 + (len(key) + len(text)) // BYTES_PER_CACHED_VALUE
                    for key, text in pairs.items()
                )
        return values

    def take(self) -> PersistBatch:
        """Hand everything pending to a persist and start empty."""
        from .store import PersistBatch

        batch = PersistBatch(
            run_updates=self.run_updates,
            parameters=self.parameters,
            tags=self.tags,
            labels=self.labels,
            metrics={run_id: windows for run_id, windows in self.metrics.items() if windows},
        )
        self._start_empty()
        return batch

    def restore(self, batch: PersistBatch) -> None:
        """Put a batch that failed to persist back in front of what was logged since."""
        for run_id, windows in batch.metrics.items():
            current = self.windows(run_id)
            for name, old in windows.items():
                merged = new_window()
                merged.extend(old)
                merged.extend(current.get(name, ()))
                current[name] = merged
        for older, newer in (
            (batch.run_updates, self.run_updates),
            (batch.parameters, self.parameters),
            (batch.tags, self.tags),
            (batch.labels, self.labels),
        ):
            for run_id, values in older.items():
                newer[run_id] = {**values, **newer.get(run_id, {})}

    def forget(self, run_id: str) -> None:
        """Drop everything pending for a run (it was deleted)."""
        for pending in (self.metrics, self.parameters, self.tags, self.labels, self.run_updates):
            pending.pop(run_id, None)
