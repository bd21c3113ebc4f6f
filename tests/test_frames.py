"""DataFrames: runs_frame (one row per run) and metrics_frame / to_frame (long format),
compared value by value with what get_runs and get_metrics_history return."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pandas as pd
import pytest

from sapdi_local import MLTrackingSDK, tracking
from sapdi_local.errors import InvalidTypeError, MissingExtraError, RunNotFoundError


@pytest.fixture
def two_runs(sdk: MLTrackingSDK) -> list[str]:
    ids = []
    for lr, name in ((0.01, "small"), (0.1, "big")):
        with tracking.start_run(run_collection_name="sweep", run_name=name) as run:
            tracking.log_parameters({"learning_rate": lr, "optimizer": "adam"})
            tracking.set_tags({"dataset": "v2"})
            for step in range(3):
                tracking.log_metric("loss", 1.0 / (step + 1) + lr)
            tracking.log_metric("accuracy", 0.9 - lr)
        ids.append(run.id)
    return ids


def test_runs_frame_has_one_row_per_run_with_prefixed_columns(
    sdk: MLTrackingSDK, two_runs: list[str]
) -> None:
    frame = tracking.runs_frame(run=two_runs)
    runs = tracking.get_runs(run=two_runs)
    assert list(frame["run_id"]) == [run.id for run in runs]
    assert list(frame.columns[:12]) == [
        "run_id", "name", "scenario", "scenario_version", "collection", "notebook",
        "pipeline", "execution", "status", "start_time", "end_time", "duration_seconds",
    ]  # fmt: skip
    assert list(frame.columns[12:]) == [
        "params.learning_rate",
        "params.optimizer",
        "tags.dataset",
        "metrics.accuracy",
        "metrics.loss",
    ]
    for row, run in zip(frame.itertuples(index=False), runs, strict=True):
        data = row._asdict()
        assert data["name"] == run.name and data["status"] == "FINISHED"
        assert data["start_time"] == pd.Timestamp(run.start_time)
        assert str(data["start_time"].tz) == "UTC"
        assert data["duration_seconds"] == pytest.approx(
            (run.end_time - run.start_time).total_seconds()
        )
    assert frame["metrics.loss"].tolist() == [run.metrics["loss"] for run in runs]
    # every value numeric: a number column; text stays text
    assert frame["params.learning_rate"].tolist() == [0.1, 0.01]
    assert frame["params.learning_rate"].dtype == float
    assert frame["params.optimizer"].tolist() == ["adam", "adam"]


def test_a_parameter_with_any_text_value_stays_text(sdk: MLTrackingSDK) -> None:
    with tracking.start_run() as first:
        tracking.log_parameters({"layers": 3})
    with tracking.start_run() as second:
        tracking.log_parameters({"layers": "auto"})
    frame = tracking.runs_frame(run=[first, second])
    assert sorted(frame["params.layers"].tolist()) == ["3", "auto"]


def test_runs_frame_takes_the_selectors_of_get_runs(
    sdk: MLTrackingSDK, two_runs: list[str]
) -> None:
    assert len(tracking.runs_frame(scenario="scenario-a")) == 2
    assert tracking.runs_frame(scenario="scenario-a", tags={"dataset": "v9"}).empty
    from sapdi_local.errors import InvalidFilterError

    with pytest.raises(InvalidFilterError):
        tracking.runs_frame()
    assert (
        tracking.get_runs(scenario="scenario-a")
        .to_frame()
        .equals(tracking.runs_frame(scenario="scenario-a"))
    )


def test_metrics_frame_is_long_format_for_several_runs(
    sdk: MLTrackingSDK, two_runs: list[str]
) -> None:
    frame = tracking.metrics_frame(run=two_runs)
    assert list(frame.columns) == ["run_id", "metric", "step", "timestamp", "value"]
    expected = [
        (history.run_id, history.name, value.step, value.value)
        for run_id in two_runs
        for history in tracking.get_metrics_history(run=run_id)
        for value in history.values
    ]
    got = list(frame[["run_id", "metric", "step", "value"]].itertuples(index=False, name=None))
    assert got == expected
    assert len(frame) == 2 * (3 + 1)
    assert str(frame["timestamp"].dt.tz) == "UTC"
    only_loss = tracking.metrics_frame(run=two_runs, metrics="loss")
    assert set(only_loss["metric"]) == {"loss"}
    assert only_loss.pivot(index="step", columns="run_id", values="value").shape == (3, 2)


def test_metrics_frame_of_the_active_run_and_to_frame_agree(sdk: MLTrackingSDK) -> None:
    run = tracking.start_run()
    tracking.log_metric("loss", 0.5)
    tracking.log_metric("loss", 0.25)
    active = tracking.metrics_frame()  # the active run, read after persisting it
    history = tracking.get_metrics_history()
    assert active.equals(history.to_frame())
    assert history[0].to_frame().equals(active)
    assert active["value"].tolist() == [0.5, 0.25]
    assert active["step"].tolist() == [0, 1]
    tracking.end_run()
    assert tracking.metrics_frame(run=run.id).equals(active)


def test_metrics_frame_refuses_unknown_runs_and_bad_arguments(
    sdk: MLTrackingSDK, two_runs: list[str]
) -> None:
    with pytest.raises(RunNotFoundError):
        tracking.metrics_frame(run=[two_runs[0], "no-such-run"])
    with pytest.raises(InvalidTypeError):
        tracking.metrics_frame(run=42)
    with pytest.raises(InvalidTypeError):
        tracking.metrics_frame(run=two_runs, metrics={"loss": 1})


def test_empty_results_are_empty_frames_with_their_columns(
    sdk: MLTrackingSDK, sdk_factory: Callable[..., MLTrackingSDK]
) -> None:
    run = tracking.start_run()
    assert list(tracking.metrics_frame().columns) == [
        "run_id",
        "metric",
        "step",
        "timestamp",
        "value",
    ]
    tracking.end_run()
    frame = tracking.runs_frame(scenario="nothing-here")
    assert frame.empty and "run_id" in frame.columns
    assert tracking.metrics_frame(run=run).empty


def test_without_pandas_the_error_names_the_extra(
    sdk: MLTrackingSDK, two_runs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes "import pandas" fail
    for call in (
        lambda: tracking.runs_frame(run=two_runs),
        lambda: tracking.metrics_frame(run=two_runs),
        lambda: tracking.get_runs(run=two_runs).to_frame(),
    ):
        with pytest.raises(MissingExtraError, match=r'pip install "sapdi-local\[pandas\]"'):
            call()
    with pytest.raises(ImportError):  # also an ImportError, for code that catches that
        tracking.runs_frame(run=two_runs)
