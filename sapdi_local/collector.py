"""Pausing Python's cyclic garbage collector around work that makes millions of objects and
no cycles among them: a bulk write (a persist, an import) or a whole read (get_runs,
runs_frame, the explorer's list of every run).

Each object made sets off collections that walk every object made so far again: a third of a
persist's time, and of a whole read of 100,000 runs, for cycles neither makes. The collector
is one per process, so pauses in several threads at once nest: it stays paused until the
last of them ends, and is resumed only if it ran before the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pauses = 0  # pauses under way, in every thread
_resume = False  # whether the collector ran when the first of them began


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector until the block ends (see the module's docstring)."""
    global _pauses, _resume
    with _lock:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()
