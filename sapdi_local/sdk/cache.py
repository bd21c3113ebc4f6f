"""What has been logged and not yet persisted, held in memory until a persist takes it.

Metric values sit in one window (a list) per (run, metric). A persist empties the windows
of the active run, which stay for the values to come, and lets go of the others and of
those that stayed empty since the previous persist (a later value makes a new one). What a
persist leaves for each metric name of the active run is its next automatic step and, if
it was logged to since the previous persist, an empty window (no room kept for values); an
ended run's steps are let go too, and read back from the file when it is logged to again.
Values that fall out of a metric's history (its latest HISTORY_WINDOW) are dropped when the
cache is measured and when a persist takes them, and never reach the disk.

Memory. The cache limit counts everything kept here, in the sizes below (measured on
64-bit CPython; a persist is due when their sum reaches the limit): each value waiting,
each window, each metric name's next step, and parameter, tag and label texts.

Threads. Logging may go on in one thread while another persists, without a lock on the
logging side: a logger looks a window up, then appends to it. A persist drains a window
from its front, leaving what is appended meanwhile. To let a window go, it takes it out of
its run's dict first, so that no logger can find it any more, then looks at its reference
count: a window another thread still holds (looked up, not yet appended to) or that got a
value meanwhile goes back, so that the value stays for the next persist.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..validation import HISTORY_WINDOW

if TYPE_CHECKING:
    from ..store import PersistBatch

# What the cache's parts cost in memory, in bytes (tracemalloc, CPython 3.11, 64-bit):
# a value waiting is a 3-tuple (64), its value and timestamp floats (2 × 24), its step int
# (32) and a list slot (8);
BYTES_PER_CACHED_VALUE = 150
# a window is an empty list (64), its first slots (32) and an entry in its run's dict (~35);
BYTES_PER_WINDOW = 130
# a metric name's next step is an int (32) and a dict entry (~40), with a short name's text.
BYTES_PER_METRIC_NAME = 120

MetricEntry = tuple[float, int | None, float]  # (value, step, timestamp)
# One metric's cached values, oldest first.
Window = list[MetricEntry]

_getrefcount: Callable[[object], int] | None = getattr(sys, "getrefcount", None)


def _references(window: Window) -> int:
    return _getrefcount(window) if _getrefcount is not None else sys.maxsize


def _sole_references() -> int:
    window: Window = []
    return _references(window)


# How many references a window held by one local variable shows to _references: a window
# showing more is held by another thread too. Measured, not assumed: what the interpreter
# counts for its own stack differs between Python versions. Without reference counts (not
# CPython), every window counts as held: windows are drained in place, never taken whole.
_SOLE = _sole_references() if _getrefcount is not None else 0


def text_cost(pairs: Iterable[tuple[str, str]]) -> int:
    """What key and value texts cost in the cache, counted in metric values."""
    return sum(1 + (len(key) + len(text)) // BYTES_PER_CACHED_VALUE for key, text in pairs)


def drain(window: Window) -> Window:
    """Take the values a window holds now, without those older than its history, leaving
    any appended meanwhile (appends go to the end; persists take turns at the front)."""
    held = len(window)
    taken = window[max(0, held - HISTORY_WINDOW) : held]
    del window[:held]
    return taken


class Cache:
    """Pending writes, keyed by run id: metric windows, parameters, tags, labels, run changes."""

    def __init__(self) -> None:
        self.metrics: dict[str, dict[str, Window]] = {}
        # Per run and metric, the step a value logged without one gets: one more than the
        # step of the metric's previous value. Kept after a persist for the active run, so
        # its steps go on; dropped for the others once written (the file has them).
        self.next_steps: dict[str, dict[str, int]] = {}
        # Windows a persist found held by a logger after a new one had replaced them in
        # their run's dict: (run id, metric, window), drained by each persist until free.
        self.strays: list[tuple[str, str, Window]] = []
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

    def append_metrics(self, run_id: str, entries: Iterable[tuple[str, MetricEntry]]) -> int:
        """Add values to a run's windows; returns how many windows were made for them."""
        windows = self.windows(run_id)
        made = 0
        for name, entry in entries:
            window = windows.get(name)
            if window is None:
                window = windows.setdefault(name, [])  # one window even if two threads race
                made += 1
            window.append(entry)
        return made

    def stage(self, pending: dict[str, dict[str, Any]], run_id: str, pairs: Iterable[Any]) -> None:
        """Add parameters, tags, labels or run changes of one run (the last value wins)."""
        with self._small_writes_lock:
            pending.setdefault(run_id, {}).update(pairs)

    def _all_windows(self) -> list[Window]:
        # Copies of the dicts' contents: a logger may add a window meanwhile.
        found = [
            window for windows in list(self.metrics.values()) for window in list(windows.values())
        ]
        found.extend(window for _, _, window in list(self.strays))
        return found

    def measure(self) -> tuple[int, int]:
        """What the cache holds, in bytes (see the sizes at the top: values, windows,
        metric names' next steps, and parameter, tag and label texts), and its windows."""
        windows = self._all_windows()
        names = sum(len(steps) for steps in list(self.next_steps.values()))
        texts = sum(
            text_cost(pairs.items())
            for pending in (self.parameters, self.tags, self.labels)
            for pairs in list(pending.values())
        )
        held = (
            (sum(map(len, windows)) + texts) * BYTES_PER_CACHED_VALUE
            + len(windows) * BYTES_PER_WINDOW
            + names * BYTES_PER_METRIC_NAME
        )
        return held, len(windows)

    def trim(self) -> None:
        """Drop the values that have fallen out of their metric's history. Only while no
        persist runs: both take values from the front of a window."""
        for window in self._all_windows():
            surplus = len(window) - HISTORY_WINDOW
            if surplus > 0:
                del window[:surplus]

    def has_pending(self) -> bool:
        return bool(
            self.run_updates
            or self.parameters
            or self.tags
            or self.labels
            or any(self._all_windows())
        )

    def take(self, *, keep: str | None = None) -> PersistBatch:
        """Hand everything pending to a persist. The active run's (``keep``) windows that
        held values stay, emptied; every other window goes (see the top), and so do the
        dicts of runs other than ``keep`` once empty."""
        from ..store import PersistBatch

        with self._small_writes_lock:
            batch = PersistBatch(
                run_updates=self.run_updates,
                parameters=self.parameters,
                tags=self.tags,
                labels=self.labels,
            )
            self._start_small_writes()
        taken: dict[str, dict[str, Window]] = {}
        strays, self.strays = self.strays, []
        while strays:
            run_id, name, stray = strays.pop()
            values = drain(stray)
            if values:
                taken.setdefault(run_id, {})[name] = values
            # References first: once nobody else holds it, its emptiness is final.
            if _references(stray) > _SOLE or stray:
                self.strays.append((run_id, name, stray))  # still held: drained again later
        for run_id, windows in list(self.metrics.items()):
            for name in list(windows):
                window = windows.get(name)
                if window is None:
                    continue  # the run was forgotten meanwhile
                if window:
                    values = drain(window)
                    run_taken = taken.setdefault(run_id, {})
                    run_taken[name] = [*run_taken[name], *values] if name in run_taken else values
                    if run_id == keep:
                        continue  # emptied, it stays: the hot path goes on appending to it
                # An idle window of the active run, or an emptied one of another run: let it
                # go, unless a logger appended to it since or holds it to append (see the top).
                windows.pop(name, None)
                # References first: a logger holding it may append and let go between two
                # looks, but once nobody else holds it, nobody can append any more.
                held = _references(window) > _SOLE or bool(window)
                if held and windows.setdefault(name, window) is not window:
                    self.strays.append((run_id, name, window))  # replaced meanwhile
            if run_id != keep and not windows:
                self.metrics.pop(run_id, None)
        batch.metrics.update(taken)
        return batch

    def forget_written_steps(self, *, keep: str | None) -> None:
        """After a persist committed: drop the next steps of runs other than ``keep`` that
        nothing was logged to since (the file holds them now, and gives them back)."""
        pending = {run_id for run_id, _, _ in self.strays}
        for run_id in list(self.next_steps):
            if run_id != keep and run_id not in self.metrics and run_id not in pending:
                self.next_steps.pop(run_id, None)

    def restore(self, batch: PersistBatch) -> None:
        """Put a batch that failed to persist back in front of what was logged since."""
        for run_id, windows in batch.metrics.items():
            current = self.windows(run_id)
            for name, older in windows.items():
                window = current.setdefault(name, [])
                window[:0] = older  # one step: an append meanwhile lands after them
                surplus = len(window) - HISTORY_WINDOW
                if surplus > 0:
                    del window[:surplus]
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
        self.strays = [stray for stray in self.strays if stray[0] != run_id]

    def clear(self) -> None:
        """Drop everything: used in a forked child, whose parent writes its own cache."""
        self.metrics = {}
        self.next_steps = {}
        self.strays = []
        # A new lock: the fork may have copied this one while another thread held it.
        self._small_writes_lock = threading.Lock()
        self._start_small_writes()
