"""The cache limit counts everything the cache keeps, and a persist leaves little behind.

Memory is measured with tracemalloc in a fresh process: what a persist leaves must be at
most the per-name cost cache.py states (an emptied window and a next step), where it was
a window's capacity per name before (149 MB for 100,000 names), and a process logging tens
of thousands of names under the default limit must peak near that limit, not hold every
window. Sizes only: no timing is asserted.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import read_only, run_python

from sapdi_local import MLTrackingSDK, tracking
from sapdi_local.model import Run
from sapdi_local.sdk import CACHE_LIMIT_BYTES, cache
from sapdi_local.sdk.cache import BYTES_PER_CACHED_VALUE, BYTES_PER_METRIC_NAME, BYTES_PER_WINDOW
from sapdi_local.store import PersistBatch

MB = 1_000_000

# Logs ``count`` distinct metric names, one value each, then persists twice, and prints what
# tracemalloc saw: the peak while logging, and what is held after each persist. The names
# are made before tracing starts and held by this script, so their text is not counted.
MANY_NAMES = """
import gc, json, sys, tracemalloc
from sapdi_local import MLTrackingSDK
count, limit = int(sys.argv[1]), float(sys.argv[2])
names = [f"metric_{index:06d}" for index in range(count)]
sdk = MLTrackingSDK(db_path=sys.argv[3], scenario="memory", cache_limit_bytes=limit)
sdk.start_run()
tracemalloc.start()
for name in names:
    sdk.log_metric(name, 0.5)
peak = tracemalloc.get_traced_memory()[1]
sdk.persist_run()
gc.collect()
after_one = tracemalloc.get_traced_memory()[0]
sdk.persist_run()
gc.collect()
after_two = tracemalloc.get_traced_memory()[0]
sdk.end_run()
print(json.dumps({"peak": peak, "after_one": after_one, "after_two": after_two}))
"""


def measure(tmp_path: Path, count: int, limit: float) -> dict[str, int]:
    arguments = [str(count), repr(limit), str(tmp_path / "m.db")]
    result = run_python(f"import sys\nsys.argv[1:] = {arguments!r}\n" + MANY_NAMES, timeout=600)
    figures: dict[str, int] = json.loads(result.stdout)
    return figures


@pytest.mark.slow
def test_a_persist_leaves_a_small_stated_cost_per_metric_name(tmp_path: Path) -> None:
    """100,000 names logged with a limit high enough that none is persisted before
    persist_run(): after it, each name keeps at most an emptied window and its next step;
    after one more persist (no value logged since), only its next step. (Before: 136 MB
    traced after persist_run, a 1000-value window's capacity per name.)"""
    count = 100_000
    figures = measure(tmp_path, count, 1e12)
    slack = 1 * MB  # what else a persist may leave: the statement cache, a few objects
    assert figures["after_one"] <= count * (BYTES_PER_WINDOW + BYTES_PER_METRIC_NAME) + slack
    assert figures["after_two"] <= count * BYTES_PER_METRIC_NAME + slack


@pytest.mark.slow
def test_many_names_under_the_default_limit_peak_near_the_limit(tmp_path: Path) -> None:
    """20,000 names under the default limit: windows count against it, so persists come
    as they fill it and the process peaks near the limit plus the names' next steps, with
    room for a persist's copy of what it writes. (Before: 28 MB, every name's window.)"""
    count = 20_000
    figures = measure(tmp_path, count, CACHE_LIMIT_BYTES)
    kept = count * BYTES_PER_METRIC_NAME
    assert figures["peak"] <= 2 * (CACHE_LIMIT_BYTES + kept)
    assert figures["after_two"] <= kept


# ---------------------------------------------------------------- what the limit counts


def stored_rows(db: Path) -> int:
    with read_only(db) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM metrics").fetchone()[0])


def test_the_limit_counts_windows_and_names_not_only_values(db_path: Path) -> None:
    """Distinct names, one value each: each costs its value, its window and its next
    step, so a limit of 50 such names is reached by about 50 of them, where counting
    values alone would have waited for 133."""
    per_name = BYTES_PER_CACHED_VALUE + BYTES_PER_WINDOW + BYTES_PER_METRIC_NAME
    sdk = MLTrackingSDK(db_path=db_path, cache_limit_bytes=50 * per_name, scenario="limit")
    sdk.start_run()
    for index in range(40):
        sdk.log_metric(f"m{index}", 1.0)
    assert stored_rows(db_path) == 0  # below the limit
    held, windows = sdk._cache.measure()
    assert windows == 40 and held == 40 * per_name
    for index in range(40, 60):
        sdk.log_metric(f"m{index}", 1.0)
    assert stored_rows(db_path) > 0  # the limit was reached, and a persist came
    assert sdk._cache.measure()[0] <= 50 * per_name
    sdk.end_run()
    assert stored_rows(db_path) == 60
    sdk.close()


def test_one_call_with_many_values_is_persisted_as_it_goes(db_path: Path) -> None:
    """log_metrics of 5,000 names (as sapdi-local submit did with a big payload) under a
    limit of about 500 of them: persisted in parts as it goes, never all at once, and all
    stored. (The names' next steps, numbered first, stay and pass the limit: a part is then
    about half of what stays, so parts are bigger than the limit here.)"""
    per_name = BYTES_PER_CACHED_VALUE + BYTES_PER_WINDOW + BYTES_PER_METRIC_NAME
    sdk = MLTrackingSDK(db_path=db_path, cache_limit_bytes=500 * per_name, scenario="limit")
    run = sdk.start_run()
    parts: list[int] = []  # values in each persist
    real_persist = sdk.store.persist

    def watched(batch: PersistBatch) -> set[str]:
        parts.append(sum(len(values) for values in batch.metrics.get(run.id, {}).values()))
        return real_persist(batch)

    sdk.store.persist = watched  # type: ignore[method-assign]
    sdk.log_metrics({f"m{index:04d}": float(index) for index in range(5000)})
    assert len(parts) >= 3 and max(parts) <= 5000 // 3
    sdk.end_run()
    assert stored_rows(db_path) == 5000
    sdk.close()


# ---------------------------------------------------------------- windows let go


def test_windows_are_emptied_then_let_go_and_steps_go_on(sdk: MLTrackingSDK) -> None:
    """A persist empties the active run's windows and lets go of those that stayed empty
    since the previous one; a name logged again gets a new window, and its steps go on."""
    run = tracking.start_run()
    for _ in range(3):
        tracking.log_metric("loss", 0.5)
        tracking.log_metric("accuracy", 0.5)
    tracking.persist_run()
    windows = sdk._cache.metrics[run.id]
    assert sorted(windows) == ["accuracy", "loss"]
    assert all(not window for window in windows.values())  # emptied: no values, no room
    tracking.log_metric("loss", 0.25)
    tracking.persist_run()
    assert sorted(windows) == ["loss"]  # accuracy stayed empty: let go
    tracking.persist_run()
    assert windows == {}
    assert sdk._cache.measure()[0] == 2 * BYTES_PER_METRIC_NAME  # the two next steps
    tracking.log_metric("accuracy", 0.75)  # a new window, the next step
    tracking.log_metric("loss", 0.125)
    tracking.end_run()
    steps = {h.name: [v.step for v in h.values] for h in tracking.get_metrics_history(run=run)}
    assert steps == {"accuracy": [0, 1, 2, 3], "loss": [0, 1, 2, 3, 4]}


def test_an_ended_run_keeps_nothing_once_written(sdk: MLTrackingSDK) -> None:
    """After end_run, and after a late write, nothing of the run stays in the cache: its
    next steps are read back from the file when it is written to again."""
    run = tracking.start_run()
    tracking.log_metric("loss", 0.5)
    tracking.end_run()
    assert sdk._cache.metrics == {} and sdk._cache.next_steps == {}
    tracking.log_metric("loss", 0.25, run=run)
    assert sdk._cache.metrics == {} and sdk._cache.next_steps == {}
    tracking.log_metric("loss", 0.125, run=run)
    [history] = tracking.get_metrics_history(run=run)
    assert [v.step for v in history.values] == [0, 1, 2]


def emptied_window(sdk: MLTrackingSDK) -> tuple[Run, cache.Window]:
    """A run with one value of "loss" persisted: its window stays, emptied, idle from now."""
    run = tracking.start_run()
    tracking.log_metric("loss", 0.5)
    tracking.persist_run()
    return run, sdk._windows["loss"]


def paused_logger_goes_on(sdk: MLTrackingSDK, window: cache.Window) -> None:
    """What a logger that looked ``window`` up before a persist does next: append step 1."""
    window.append((0.25, 1, time.time()))
    sdk._next_steps["loss"] = 2


def stored_loss(run: Run) -> list[tuple[float, int | None]]:
    tracking.end_run()
    [history] = tracking.get_metrics_history(run=run)
    return [(v.value, v.step) for v in history.values]


def test_a_window_a_logger_still_holds_is_not_let_go(sdk: MLTrackingSDK) -> None:
    """A logger that looked a window up and has not appended yet (another thread, paused)
    keeps it: a persist that finds it idle puts it back, and the value comes through."""
    run, held = emptied_window(sdk)
    tracking.persist_run()  # idle since the last persist: let go, were it not held
    assert sdk._windows["loss"] is held
    paused_logger_goes_on(sdk, held)
    assert stored_loss(run) == [(0.5, 0), (0.25, 1)]


def test_a_value_appended_as_a_window_is_let_go_is_kept(
    sdk: MLTrackingSDK, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The logger holding an idle window appends and lets go of it just as a persist looks
    at it to let it go: the persist must see the value (found by a thread test: looking at
    the window's emptiness before its references lost it)."""
    run, window = emptied_window(sdk)

    def racing(candidate: cache.Window) -> int:
        if candidate is window:
            paused_logger_goes_on(sdk, candidate)  # and lets go of it
        return cache._SOLE  # nobody else holds it now

    monkeypatch.setattr(cache, "_references", racing)
    tracking.persist_run()
    monkeypatch.undo()
    assert stored_loss(run) == [(0.5, 0), (0.25, 1)]


def test_a_held_window_replaced_meanwhile_is_drained_until_free(
    sdk: MLTrackingSDK, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rarest race: a paused logger holds a window while a persist lets it go, and
    another logger makes a new window for the name before the persist can put the old one
    back. The old one is kept aside, drained by every persist, until nobody holds it."""
    run, held = emptied_window(sdk)
    windows = sdk._windows
    paused = [held]  # what the paused logger holds
    del held
    real = cache._references

    def racing(window: cache.Window) -> int:
        if paused and window is paused[0] and "loss" not in windows:  # in the persist
            tracking.log_metric("loss", 0.125, step=2)  # the other logger: a new window
            return sys.maxsize
        return real(window)

    monkeypatch.setattr(cache, "_references", racing)
    tracking.persist_run()
    monkeypatch.undo()
    assert windows["loss"] is not paused[0] and sdk._cache.strays
    paused_logger_goes_on(sdk, paused[0])
    sdk._next_steps["loss"] = 3
    tracking.persist_run()
    paused.clear()  # and is done with it
    tracking.persist_run()
    assert sdk._cache.strays == []  # nobody holds it any more: let go
    assert sorted(stored_loss(run)) == [(0.125, 2), (0.25, 1), (0.5, 0)]


@pytest.mark.slow
def test_threads_logging_new_and_old_names_while_another_persists_lose_nothing(
    db_path: Path,
) -> None:
    """Two threads log rounds over their own 200 names while the main thread persists in a
    loop, switching threads as often as the interpreter allows: windows are emptied, let go
    and made again under them, and every value is stored once, in order."""
    sdk = MLTrackingSDK(db_path=db_path, scenario="threads", cache_limit_bytes=1e12)
    run = sdk.start_run()
    rounds = 25
    done = threading.Barrier(3)

    def log(prefix: str) -> None:
        names = [f"{prefix}{index:03d}" for index in range(200)]
        for step in range(rounds):
            for name in names:
                sdk.log_metric(name, float(step))
        done.wait()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        workers = [threading.Thread(target=log, args=(prefix,)) for prefix in "ab"]
        for worker in workers:
            worker.start()
        while done.n_waiting != 2:
            sdk.persist_run()
        done.wait()
        for worker in workers:
            worker.join(timeout=120)
    finally:
        sys.setswitchinterval(interval)
    sdk.end_run()
    histories = sdk.get_metrics_history(run=run)
    assert len(histories) == 400
    for history in histories:
        assert [(v.step, v.value) for v in history.values] == [
            (step, float(step)) for step in range(rounds)
        ], history.name
    assert sdk._cache.strays == []
    sdk.close()
