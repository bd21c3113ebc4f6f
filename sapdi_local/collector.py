"""Pausing Python's cyclic garbage collector around work that makes millions of objects and
no cycles among them: a bulk write (a persist, an import) or a whole read (get_runs,
runs_frame, the explorer's list of every run).

Each object made sets off collections that walk every object made so far again: a third of a
persist's time, and of a whole read of 100,000 runs, for cycles neither makes. The collector
is one per process, so pauses in several threads at once nest: it stays paused until the
last of them ends, and is resumed only if it ran before the first began. A process forked
during a pause keeps only the pauses of the thread that forked it (the others' threads are
not in it), so its collector resumes when those end.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depths: dict[int, int] = {}  # pauses under way, by thread
_resume = False  # whether the collector ran when the first of them began


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector until the block ends (see the module's docstring)."""
    global _resume
    thread = threading.get_ident()
    with _lock:
        if not _depths:
            _resume = gc.isenabled()
            gc.disable()
        _depths[thread] = _depths.get(thread, 0) + 1
    try:
        yield
    finally:
        with _lock:
            _depths[thread] -= 1
            if not _depths[thread]:
                del _depths[thread]
            if not _depths and _resume:
                gc.enable()


def _after_fork_in_child() -> None:
    # The lock may have been held by a thread the child does not have, and only the forking
    # thread's pauses will ever end in the child.
    global _lock
    _lock = threading.Lock()
    forking = threading.get_ident()
    for thread in list(_depths):
        if thread != forking:
            del _depths[thread]
    if not _depths and _resume:
        gc.enable()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)
