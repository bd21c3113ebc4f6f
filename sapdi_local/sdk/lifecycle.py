"""The process around the SDKs: interpreter exit, fork, and keeping unsaved work alive.

- At exit, every SDK ends its active run (FAILED when the program is dying of an
  uncaught exception, INTERRUPTED on Ctrl-C, TERMINATED on SIGTERM) and persists its
  cache. SIGTERM, which would otherwise end the process without running exit handlers,
  is turned into a normal exit with code 143 while a run is active.
- An SDK with an active run or unsaved values is held by a strong reference, so that
  dropping the last user reference cannot lose what it holds; it is let go once saved.
- A forked child forgets the SDK state it inherited (the parent writes its own cache)
  and, in a multiprocessing worker, which leaves through ``os._exit`` and skips atexit,
  persists its own work through multiprocessing's exit hook instead.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import weakref
from types import FrameType
from typing import Protocol

from ..model import FAILED, FINISHED, INTERRUPTED, TERMINATED

SIGTERM_EXIT_CODE = 128 + 15  # what a shell reports for a process ended by SIGTERM


class Saver(Protocol):
    def _at_exit(self, status: str) -> None: ...

    def _forget_inherited_state(self) -> None: ...


_live: weakref.WeakSet[Saver] = weakref.WeakSet()
_holding: set[Saver] = set()  # SDKs with an active run or unsaved values
_owner_pid = os.getpid()
_terminated = False  # set when SIGTERM arrived
_watching_sigterm = False


def register(sdk: Saver) -> None:
    _live.add(sdk)


def hold(sdk: Saver) -> None:
    """Keep ``sdk`` alive until ``release``: it has work that is not on disk yet."""
    _holding.add(sdk)


def release(sdk: Saver) -> None:
    _holding.discard(sdk)


def exit_status() -> str:
    """How the program is ending: TERMINATED (SIGTERM), INTERRUPTED (Ctrl-C), FAILED (an
    uncaught exception) or FINISHED."""
    if _terminated:
        return TERMINATED
    # sys.last_value is set when an uncaught exception ends a program. In an interactive
    # session (a prompt, IPython, a Jupyter kernel) it only records an earlier error that
    # the session survived, so it says nothing about how the session ends.
    interactive = hasattr(sys, "ps1") or "IPython" in sys.modules or "ipykernel" in sys.modules
    last = getattr(sys, "last_value", None)
    if interactive or last is None:
        return FINISHED
    return INTERRUPTED if isinstance(last, KeyboardInterrupt) else FAILED


def status_for(error: BaseException | None) -> str:
    """The status a run ends with when a ``with`` block around it exits with ``error``."""
    if error is None:
        return FINISHED
    if isinstance(error, KeyboardInterrupt):
        return INTERRUPTED
    if isinstance(error, SystemExit):
        return TERMINATED if _terminated else FINISHED
    return FAILED


def watch_for_sigterm() -> None:
    """Make SIGTERM end the program through its exit handlers, so runs are saved.

    Only from the main thread (the only one that may set handlers), and only while SIGTERM
    has its default action: a handler the program set itself is left alone.
    """
    global _watching_sigterm
    if _watching_sigterm or threading.current_thread() is not threading.main_thread():
        return
    import signal

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    _watching_sigterm = True


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Raised in the main thread between two bytecodes: a persist in progress is rolled
    # back and its values kept, then the exit handlers save everything once.
    global _terminated
    _terminated = True
    raise SystemExit(SIGTERM_EXIT_CODE)


def save_all(status: str | None = None) -> None:
    """End active runs and persist every SDK of this process."""
    if os.getpid() != _owner_pid:
        return  # a forked child that did not go through _after_fork_in_child
    final_status = status or exit_status()
    for sdk in list(_live):
        sdk._at_exit(final_status)


atexit.register(save_all)


def _after_fork_in_child() -> None:
    global _owner_pid
    _owner_pid = os.getpid()
    _holding.clear()
    for sdk in list(_live):
        sdk._forget_inherited_state()


def _before_fork() -> None:
    # A multiprocessing worker clears its exit hooks when it starts and then runs the
    # callbacks registered here; from there the worker's own saving is set up.
    util = sys.modules.get("multiprocessing.util")
    if util is not None and not _registered_with_multiprocessing:
        _register_with_multiprocessing(util)


class _ForkToken:
    """An object multiprocessing can hold a weak reference to."""


_fork_token = _ForkToken()
_registered_with_multiprocessing = False


def _register_with_multiprocessing(util: object) -> None:
    global _registered_with_multiprocessing
    _registered_with_multiprocessing = True
    util.register_after_fork(_fork_token, _in_multiprocessing_worker)  # type: ignore[attr-defined]


def _in_multiprocessing_worker(_token: object) -> None:
    import multiprocessing.util

    multiprocessing.util.Finalize(None, save_all, exitpriority=0)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
