"""Automatic steps: a value logged without a step gets one more than the step of its
metric's previous value in the run (0 for the first), so every history has an x axis.

Values the 1000-value window drops before a persist still count, steps go on across
persists, processes and SDKs, and a refused call moves no step.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import run_python

from sapdi_local import MLTrackingSDK, tracking
from sapdi_local.errors import InvalidTypeError, InvalidValueError


def steps_of(sdk: MLTrackingSDK, run_id: str, metric: str) -> list[int | None]:
    [history] = sdk.get_metrics_history(run=run_id, metrics=[metric])
    return [value.step for value in history.values]


def test_each_metric_counts_its_own_steps_from_zero(sdk: MLTrackingSDK) -> None:
    run = tracking.start_run()
    for value in (0.9, 0.8, 0.7):
        tracking.log_metric("loss", value)
    tracking.log_metric("accuracy", 0.5)
    tracking.log_metrics({"loss": 0.6, "accuracy": 0.6})
    tracking.log_metrics([{"name": "accuracy", "value": 0.7, "timestamp": 1_700_000_000}])
    tracking.end_run()
    assert steps_of(sdk, run.id, "loss") == [0, 1, 2, 3]
    assert steps_of(sdk, run.id, "accuracy") == [0, 1, 2]


def test_a_given_step_is_kept_and_the_next_ones_follow_it(sdk: MLTrackingSDK) -> None:
    run = tracking.start_run()
    tracking.log_metric("loss", 1.0)  # 0
    tracking.log_metric("loss", 0.9, step=10)
    tracking.log_metric("loss", 0.8)  # 11
    tracking.log_metric("loss", 0.7, step=3)  # going back is allowed
    tracking.log_metric("loss", 0.6)  # 4
    tracking.end_run()
    assert steps_of(sdk, run.id, "loss") == [0, 10, 11, 3, 4]


def test_each_run_starts_again_at_zero(sdk: MLTrackingSDK) -> None:
    first = tracking.start_run()
    tracking.log_metric("loss", 1.0)
    tracking.log_metric("loss", 0.5)
    tracking.end_run()
    second = tracking.start_run()
    tracking.log_metric("loss", 0.4)
    tracking.end_run()
    assert steps_of(sdk, first.id, "loss") == [0, 1]
    assert steps_of(sdk, second.id, "loss") == [0]


def test_steps_go_on_across_persists(sdk: MLTrackingSDK) -> None:
    run = tracking.start_run()
    tracking.log_metric("loss", 1.0)
    tracking.persist_run()
    tracking.log_metric("loss", 0.9)
    tracking.persist_run()
    tracking.log_metric("loss", 0.8)
    tracking.end_run()
    assert steps_of(sdk, run.id, "loss") == [0, 1, 2]


def test_values_the_window_drops_still_count(sdk: MLTrackingSDK) -> None:
    """1,500 values logged before any persist: the stored 1,000 are steps 500-1499."""
    run = tracking.start_run()
    for index in range(1500):
        tracking.log_metric("loss", float(index))
    tracking.end_run()
    steps = steps_of(sdk, run.id, "loss")
    assert steps == list(range(500, 1500))


def test_logging_to_an_ended_run_goes_on_from_its_stored_steps(
    db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]
) -> None:
    """Another SDK in another process, logging with run=, continues the stored steps."""
    writer = sdk_factory(db_path=db_path, scenario="s")
    run = writer.start_run()
    writer.log_metric("loss", 1.0)
    writer.log_metric("loss", 0.9, step=41)
    writer.end_run()
    run_python(
        f"""
        from sapdi_local import MLTrackingSDK
        with MLTrackingSDK(db_path={str(db_path)!r}, scenario="s") as later:
            later.log_metric("loss", 0.8, run={run.id!r})
            later.log_metrics({{"loss": 0.7, "new": 1.0}}, run={run.id!r})
        """
    )
    reader = sdk_factory(db_path=db_path)
    assert steps_of(reader, run.id, "loss") == [0, 41, 42, 43]
    assert steps_of(reader, run.id, "new") == [0]


def test_a_stored_history_without_steps_goes_on_from_its_count(
    db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]
) -> None:
    """Values stored without a step (by a version before automatic steps) count as
    positions: the next value's step is how many are stored."""
    writer = sdk_factory(db_path=db_path, scenario="s")
    run = writer.start_run()
    for value in (1.0, 0.9, 0.8):
        writer.log_metric("loss", value)
    writer.end_run()
    writer.close()
    connection = sqlite3.connect(db_path)
    with connection:
        connection.execute("UPDATE metrics SET step = NULL")
        connection.execute("UPDATE latest_metrics SET step = NULL")
    connection.close()
    later = sdk_factory(db_path=db_path, scenario="s")
    later.log_metric("loss", 0.7, run=run.id)
    assert steps_of(later, run.id, "loss") == [None, None, None, 3]


def test_a_refused_value_moves_no_step(sdk: MLTrackingSDK) -> None:
    run = tracking.start_run()
    tracking.log_metric("loss", 1.0)
    for bad in (float("nan"), "0.5", True):
        with pytest.raises((InvalidValueError, InvalidTypeError)):
            tracking.log_metric("loss", bad)
    with pytest.raises(InvalidTypeError):
        tracking.log_metric("loss", 0.5, step=1.5)
    with pytest.raises(InvalidValueError):
        tracking.log_metrics({"loss": 0.5, "other": float("inf")})  # refused as a whole
    tracking.log_metric("loss", 0.9)
    tracking.end_run()
    assert steps_of(sdk, run.id, "loss") == [0, 1]


@pytest.mark.parametrize("first_path", [True, False], ids=["slow-path", "fast-path"])
def test_no_step_after_the_largest_is_refused(sdk: MLTrackingSDK, first_path: bool) -> None:
    """After step 2**63 - 1 there is no next step: logging without one is refused (and
    nothing is cached), rather than breaking the next persist."""
    run = tracking.start_run()
    if not first_path:
        tracking.log_metric("loss", 1.0, step=0)  # the name is known: the fast path
    tracking.log_metric("loss", 2.0, step=2**63 - 1)
    with pytest.raises(InvalidValueError, match="64 bits"):
        tracking.log_metric("loss", 3.0)
    with pytest.raises(InvalidValueError, match="64 bits"):
        tracking.log_metrics({"loss": 3.0})
    tracking.end_run()
    assert steps_of(sdk, run.id, "loss")[-1] == 2**63 - 1
