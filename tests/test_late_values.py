"""Writes to a run that is not the active one, and what a log_metrics item may hold.

The original page, "Persisting metrics after the end": after ``end_run()``, ``log_metric``
with ``run=`` writes to that run. Such a write is on disk when the call returns: another
process sees it, and a SIGKILL right after the call cannot lose it. A log_metrics item takes
the keywords log_metric takes (``run`` included), and refuses any other key.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from conftest import read_only
from filelock import FileLock
from test_crash import REPORT, Child

from sapdi_local import MLTrackingSDK, tracking
from sapdi_local.errors import InvalidTypeError, LockTimeoutError, RunNotFoundError

# ---------------------------------------------------------------- helpers


def stored(db: Path, run_id: str) -> dict[str, Any]:
    """What the file holds for a run, read without the SDK: metric values (name, value,
    step), parameters, tags and labels."""
    with read_only(db) as connection:
        (key,) = connection.execute("SELECT key FROM runs WHERE id = ?", (run_id,)).fetchone()
        found: dict[str, Any] = {
            "metrics": connection.execute(
                "SELECT name, value, step FROM metrics WHERE run_key = ? ORDER BY name, seq",
                (key,),
            ).fetchall()
        }
        for table in ("parameters", "tags", "labels"):
            found[table] = dict(
                connection.execute(f"SELECT name, value FROM {table} WHERE run_key = ?", (key,))
            )
    return found


# ---------------------------------------------------------------- on disk when the call returns

# Each late write, and what the file must then hold for the ended run.
LATE_WRITES: dict[str, tuple[str, dict[str, Any]]] = {
    "log_metric": (
        "tracking.log_metric('uncertainty', 0.4, run=run)",
        {"metrics": [("uncertainty", 0.4, 0)]},
    ),
    "log_metric-step": (
        "tracking.log_metric('uncertainty', 0.4, run=run.id, step=7)",
        {"metrics": [("uncertainty", 0.4, 7)]},
    ),
    "log_metrics-dict": (
        "tracking.log_metrics({'uncertainty': 0.4, 'spread': 2}, run=run)",
        {"metrics": [("spread", 2.0, 0), ("uncertainty", 0.4, 0)]},
    ),
    "log_metrics-item-run": (
        "tracking.log_metrics([{'name': 'uncertainty', 'value': 0.4, 'run': run.id}])",
        {"metrics": [("uncertainty", 0.4, 0)]},
    ),
    "log_parameters": (
        "tracking.log_parameters({'threshold': 0.5}, run=run)",
        {"parameters": {"threshold": "0.5"}},
    ),
    "set_tags": ("tracking.set_tags({'reviewed': 'yes'}, run=run)", {"tags": {"reviewed": "yes"}}),
    "set_labels": (
        "tracking.set_labels({'uncertainty': {'format_string': 'percentage'}}, run=run)",
        {"labels": {"uncertainty": '{"format_string": "percentage"}'}},
    ),
}

LATE_WRITER = (
    REPORT
    + """
import sys, time
from sapdi_local import tracking
run = tracking.start_run(run_name="ended")
tracking.log_metric("accuracy", 0.9)
tracking.end_run()
if sys.argv[2] == "another-active":
    tracking.start_run(run_name="active")  # a run is active, and run= names another
    tracking.log_metric("accuracy", 0.5)
report("ended", run.id)
exec(sys.argv[1])
report("logged")
time.sleep(120)  # SIGKILLed here: no exit handler runs
"""
)


@pytest.mark.parametrize("active", ["none-active", "another-active"])
@pytest.mark.parametrize("write", LATE_WRITES, ids=list(LATE_WRITES))
def test_a_late_write_is_on_disk_when_the_call_returns(
    db_path: Path, write: str, active: str
) -> None:
    """A child writes to its ended run with run= (with no run active, or with another one
    active), reports, and is SIGKILLed at once: the value was visible to this process
    before the kill and is in the file after it."""
    code, expected = LATE_WRITES[write]
    child = Child(LATE_WRITER, code, active, db=db_path, unbuffered=True)
    try:
        run_id = child.wait_for("ended").split()[1]
        child.wait_for("logged")
        seen_before_the_kill = stored(db_path, run_id)
    finally:
        child.kill()
    assert child.process.returncode == -signal.SIGKILL
    after = stored(db_path, run_id)
    assert after == seen_before_the_kill
    assert ("accuracy", 0.9, 0) in after["metrics"]  # logged before end_run
    for part, values in expected.items():
        if part == "metrics":
            assert [row for row in after["metrics"] if row[0] != "accuracy"] == values
        else:
            assert after[part] == values


def test_a_late_write_leaves_nothing_pending(sdk: MLTrackingSDK, db_path: Path) -> None:
    """In the same process: nothing waits in the cache after a late write, and its steps go
    on from what is stored."""
    run = tracking.start_run()
    tracking.log_metric("loss", 0.5)
    tracking.log_metric("loss", 0.25)
    tracking.end_run()
    tracking.log_metric("loss", 0.125, run=run)
    assert not sdk.has_pending()
    tracking.log_metrics([{"name": "loss", "value": 0.0625}], run=run)
    assert not sdk.has_pending()
    assert stored(db_path, run.id)["metrics"] == [
        ("loss", 0.5, 0),
        ("loss", 0.25, 1),
        ("loss", 0.125, 2),
        ("loss", 0.0625, 3),
    ]


def test_a_write_to_the_active_run_by_run_waits_for_a_persist(
    sdk: MLTrackingSDK, db_path: Path
) -> None:
    """run= naming the active run is the usual cached logging: no write per call."""
    run = tracking.start_run()
    tracking.log_metric("loss", 0.5, run=run)
    tracking.set_tags({"kind": "cached"}, run=run.id)
    assert sdk.has_pending()
    assert stored(db_path, run.id)["metrics"] == []
    tracking.end_run()
    assert stored(db_path, run.id)["metrics"] == [("loss", 0.5, 0)]


def test_a_late_write_that_cannot_be_persisted_raises_and_is_kept(db_path: Path) -> None:
    """The lock is held by someone else: the late write raises LockTimeoutError (as
    persist_run does) and keeps the value, which the next persist writes."""
    writer = MLTrackingSDK(db_path=db_path, lock_timeout=0.3, scenario="late")
    run = writer.start_run()
    writer.end_run()
    with FileLock(f"{db_path}.lock"):
        with pytest.raises(LockTimeoutError):
            writer.log_metric("late", 1.0, run=run)
        with pytest.raises(LockTimeoutError):
            writer.set_tags({"late": "yes"}, run=run)
        assert writer.has_pending()
    writer.log_metric("late", 2.0, run=run)  # persists what the refused calls kept, too
    assert not writer.has_pending()
    assert stored(db_path, run.id)["metrics"] == [("late", 1.0, 0), ("late", 2.0, 1)]
    assert stored(db_path, run.id)["tags"] == {"late": "yes"}
    writer.close()


# ---------------------------------------------------------------- log_metrics items


def test_an_item_run_sends_its_value_to_that_run(sdk: MLTrackingSDK, db_path: Path) -> None:
    """An item's run wins over the call's run=, which items without one use; each item's
    step and timestamp are kept; the ended run's values are written by the call."""
    ended = tracking.start_run(run_name="ended")
    tracking.end_run()
    other = tracking.start_run(run_name="other")
    tracking.end_run()
    active = tracking.start_run(run_name="active")
    tracking.log_metrics(
        [
            {"name": "loss", "value": 0.5},
            {"name": "loss", "value": 0.4, "run": ended},
            {"name": "loss", "value": 0.3, "run": ended.id, "step": 9, "timestamp": 1.7e9},
            {"name": "loss", "value": 0.2, "run": None},  # None: as if not given
        ]
    )
    tracking.log_metrics(
        [{"name": "acc", "value": 0.9}, {"name": "acc", "value": 1, "run": active}], run=other
    )
    assert stored(db_path, ended.id)["metrics"] == [("loss", 0.4, 0), ("loss", 0.3, 9)]
    assert stored(db_path, other.id)["metrics"] == [("acc", 0.9, 0)]
    with read_only(db_path) as connection:
        assert connection.execute("SELECT timestamp FROM metrics WHERE step = 9").fetchall() == [
            (1.7e9,)
        ]
    tracking.end_run()
    assert stored(db_path, active.id)["metrics"] == [
        ("acc", 1.0, 0),
        ("loss", 0.5, 0),
        ("loss", 0.2, 1),
    ]


@pytest.mark.parametrize("key", ["runs", "Run", "steps", "unit", 3])
def test_an_item_key_log_metric_does_not_take_is_refused(sdk: MLTrackingSDK, key: object) -> None:
    """A key log_metric does not take is refused, named with the keys an item takes and the
    fix, before anything of the call is cached: the items before it are not logged."""
    run = tracking.start_run()
    items = [{"name": "loss", "value": 0.5}, {"name": "loss", "value": 0.25, key: "x"}]
    with pytest.raises(InvalidTypeError) as raised:
        tracking.log_metrics(items)
    message = str(raised.value)
    assert f"the key {key!r}" in message
    assert "'name', 'value', 'step', 'timestamp' and 'run'" in message
    assert "Remove or rename" in message
    assert not sdk.has_pending()
    tracking.end_run()
    assert tracking.get_metrics_history(run=run) == []


def test_an_item_naming_an_unknown_run_logs_nothing(sdk: MLTrackingSDK) -> None:
    """Every item's run is found before anything is cached."""
    run = tracking.start_run()
    with pytest.raises(RunNotFoundError):
        tracking.log_metrics(
            [{"name": "loss", "value": 0.5}, {"name": "loss", "value": 0.25, "run": "no-such-run"}]
        )
    assert not sdk.has_pending()
    tracking.end_run()
    assert tracking.get_metrics_history(run=run) == []


@pytest.mark.parametrize("function", ["log_parameters", "set_tags", "set_labels"])
def test_a_list_item_of_parameters_tags_or_labels_takes_only_name_and_value(
    sdk: MLTrackingSDK, function: str
) -> None:
    """Their list items take name and value only; a run key is refused with the fix (run=
    of the call), not silently written to the active run."""
    tracking.start_run()
    call = getattr(tracking, function)
    with pytest.raises(InvalidTypeError) as raised:
        call([{"name": "a", "value": 1}, {"name": "b", "value": 2, "run": "elsewhere"}])
    message = str(raised.value)
    assert "the key 'run'" in message and "'name' and 'value'" in message
    assert f"pass run= to {function}()" in message
    assert not sdk.has_pending()
    tracking.end_run()


def test_a_refused_item_is_named_as_given(sdk: MLTrackingSDK) -> None:
    """The message shows the item, so that the wrong one is found in a long list."""
    tracking.start_run()
    with pytest.raises(InvalidTypeError) as raised:
        tracking.log_metrics([{"name": "loss", "value": 0.5, "stepp": 3}])
    assert "{'name': 'loss', 'value': 0.5, 'stepp': 3} has the key 'stepp'" in str(raised.value)
    tracking.end_run()
