"""The cyclic collector paused around bulk work (sapdi_local/collector.py): resumed only if
it ran before, and paused until the last of pauses that overlap, in one thread or several."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from sapdi_local.collector import collector_paused


@pytest.fixture(autouse=True)
def collector_as_found() -> Iterator[None]:
    was_enabled = gc.isenabled()
    yield
    (gc.enable if was_enabled else gc.disable)()


def test_a_pause_resumes_a_running_collector_and_leaves_a_stopped_one_stopped() -> None:
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_a_pause_ends_when_its_block_raises() -> None:
    gc.enable()
    with pytest.raises(KeyError), collector_paused():
        raise KeyError("halfway")
    assert gc.isenabled()


def test_nested_pauses_resume_at_the_outermost_end() -> None:
    gc.enable()
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_pauses_in_two_threads_resume_when_the_last_ends() -> None:
    """A starts, B starts, A ends (B still working: still paused), B ends: resumed."""
    gc.enable()
    b_started, a_ended, b_may_end = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def b() -> None:
        with collector_paused():
            b_started.set()
            a_ended.wait(30)
            seen["after A ended, while B works"] = gc.isenabled()
            b_may_end.wait(30)

    with collector_paused():
        thread = threading.Thread(target=b)
        thread.start()
        assert b_started.wait(30)
    a_ended.set()
    b_may_end.set()
    thread.join(30)
    assert seen == {"after A ended, while B works": False}
    assert gc.isenabled()
