"""The public API: call forms, run lifecycle, collections, the window, the cache and persists."""

from __future__ import annotations

import inspect
import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import run_python

import sapdi
from sapdi_local import MLTrackingSDK, Notebook, Run, tracking
from sapdi_local.errors import (
    InvalidTypeError,
    NoActiveRunError,
    RunAlreadyActiveError,
    TrackingError,
)

API_FUNCTIONS = [
    "start_run",
    "end_run",
    "log_parameters",
    "log_metric",
    "log_metrics",
    "persist_run",
    "set_tags",
    "set_labels",
    "delete_runs",
    "get_runs",
    "get_metrics_history",
    "update_run_info",
]


def stored_metric_rows(db_path: Path) -> int:
    with sqlite3.connect(db_path) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM metrics").fetchone()[0])


@pytest.mark.parametrize("name", API_FUNCTIONS)
def test_module_function_and_method_have_the_same_signature(name: str) -> None:
    """Each tracking function takes exactly the parameters of the MLTrackingSDK method it calls."""
    function = inspect.signature(getattr(tracking, name))
    method = inspect.signature(getattr(MLTrackingSDK, name))
    assert list(function.parameters.values()) == list(method.parameters.values())[1:]
    assert function.return_annotation == method.return_annotation


def test_sapdi_shim_exposes_the_same_module() -> None:
    """`from sapdi import tracking` and `import sapdi.tracking` give sapdi_local.tracking."""
    import sapdi.tracking as imported

    assert sapdi.tracking is tracking and imported is tracking
    assert callable(sapdi.get_current_scenario) and callable(sapdi.list_scenarios)


def test_start_run_returns_a_run_with_its_context(sdk: MLTrackingSDK) -> None:
    """start_run returns a Run named by its id, in the pipeline's default collection."""
    run = tracking.start_run()
    assert isinstance(run, Run) and run.status == "RUNNING"
    assert run.name == run.id
    assert (run.collection, run.collection_is_default) == ("train.py", True)
    assert run.collection_display_name == "train.py (Default)"
    assert (run.scenario, run.scenario_version, run.pipeline, run.execution) == (
        "scenario-a",
        "v1",
        "train.py",
        "exec-1",
    )
    assert sdk.active_run == run


def test_start_run_while_active_is_a_clear_error(sdk: MLTrackingSDK) -> None:
    """A second start_run names the active run and says to call end_run first."""
    run = tracking.start_run()
    with pytest.raises(RunAlreadyActiveError, match="end_run") as error:
        tracking.start_run()
    assert run.id in str(error.value)
    tracking.end_run()
    assert tracking.start_run().id != run.id


def test_calls_that_need_a_run_fail_clearly_without_one(sdk: MLTrackingSDK) -> None:
    """Logging, ending or reading history with no active run and no run= raises NoActiveRunError."""
    for call in (
        lambda: tracking.end_run(),
        lambda: tracking.log_metric("m", 1),
        lambda: tracking.log_parameters({"p": 1}),
        lambda: tracking.get_metrics_history(),
        lambda: tracking.update_run_info(run_name="x"),
    ):
        with pytest.raises(NoActiveRunError, match="start_run"):
            call()


def test_every_call_form_is_accepted(sdk: MLTrackingSDK) -> None:
    """Dicts, name=/value= keywords and lists of dicts all log the same way."""
    run = tracking.start_run()
    tracking.log_parameters({"a": 1})
    tracking.log_parameters(name="b", value=2.5)
    tracking.log_parameters([{"name": "c", "value": "x"}])
    tracking.set_tags({"t1": "1"})
    tracking.set_tags(name="t2", value="2")
    tracking.set_labels(name="l1", value=[1, 2])
    tracking.log_metric("m", 1)
    tracking.log_metric(name="m", value=2, step=7, timestamp=1_700_000_000)
    tracking.log_metrics({"n": 3})
    tracking.log_metrics(
        [
            {
                "name": "n",
                "value": 4,
                "step": 2,
                "timestamp": datetime(2024, 1, 1, tzinfo=timezone.utc),
            }
        ]
    )
    tracking.end_run()
    [stored] = tracking.get_runs(run=run)
    assert {k: stored.parameters[k] for k in "abc"} == {"a": "1", "b": "2.5", "c": "x"}
    assert stored.tags == {"t1": "1", "t2": "2", "runName": run.id}
    assert stored.labels == {"l1": [1, 2]}
    assert stored.metrics == {"m": 2.0, "n": 4.0}
    history = {h.name: h.values for h in tracking.get_metrics_history(run=run)}
    assert [(v.value, v.step, v.timestamp) for v in history["m"]][1] == (2.0, 7, 1_700_000_000.0)
    assert history["n"][1].timestamp == datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp()
    assert history["m"][0].step is None


@pytest.mark.parametrize(
    "call",
    [
        lambda: tracking.log_parameters(),
        lambda: tracking.log_parameters({"a": 1}, name="b", value=1),
        lambda: tracking.log_parameters("a=1"),
        lambda: tracking.log_metrics(5),
        lambda: tracking.log_metrics([{"name": "m"}]),
        lambda: tracking.set_tags([("k", "v")]),
    ],
)
def test_malformed_call_forms_raise_type_errors(sdk: MLTrackingSDK, call) -> None:
    """A call in none of the accepted forms raises InvalidTypeError (a TypeError)."""
    tracking.start_run()
    with pytest.raises(InvalidTypeError):
        call()


def test_run_objects_from_ids_work_as_selectors(sdk: MLTrackingSDK) -> None:
    """Run(id=...) refers to a stored run: log to it, read it, get its history."""
    run = tracking.start_run()
    tracking.end_run()
    handle = Run(id=run.id)
    tracking.log_metric("late", 3.5, run=handle)
    assert tracking.get_runs(run=handle)[0].metrics == {"late": 3.5}
    assert tracking.get_metrics_history(run=run.id, metrics="late")[0].values[0].value == 3.5
    assert Notebook(id="abc").to_dict() == {"id": "abc"}


def test_to_dict_is_json_ready(sdk: MLTrackingSDK) -> None:
    """Run.to_dict() and MetricHistory.to_dict() serialise to JSON with the documented keys."""
    run = tracking.start_run(run_collection_name="rc", run_name="first")
    tracking.log_metric("loss", 0.5, step=1)
    tracking.set_labels({"loss": {"format_string": "percentage"}})
    tracking.end_run()
    [stored] = tracking.get_runs(run=run)
    data = json.loads(json.dumps(stored.to_dict()))
    assert data["name"] == "first" and data["collection"] == "rc"
    assert data["status"] == "FINISHED" and data["metrics"] == {"loss": 0.5}
    assert datetime.fromisoformat(data["start_time"]) <= datetime.fromisoformat(data["end_time"])
    history = json.loads(json.dumps(tracking.get_metrics_history(run=run)[0].to_dict()))
    assert history["name"] == "loss" and history["run_id"] == run.id
    assert history["values"][0]["value"] == 0.5 and history["values"][0]["step"] == 1


def test_update_run_info_renames_and_moves_before_during_and_after(sdk: MLTrackingSDK) -> None:
    """update_run_info changes name, collection and tags of the active run and of an ended run."""
    run = tracking.start_run()
    tracking.update_run_info(run_name="during", tags={"phase": "1"})
    assert sdk.active_run is not None and sdk.active_run.name == "during"
    assert tracking.get_runs(run=run)[0].name == "during"
    tracking.end_run()
    tracking.update_run_info(run=run, run_collection_name="moved", tags={"phase": "2"})
    [stored] = tracking.get_runs(run=run)
    assert (stored.name, stored.collection, stored.collection_is_default) == (
        "during",
        "moved",
        False,
    )
    assert stored.tags["phase"] == "2"
    other = MLTrackingSDK(db_path=sdk.db_path, pipeline="other.py")
    other.update_run_info(run=run.id, run_name="from another process")
    assert tracking.get_runs(run=run)[0].name == "from another process"


def test_window_keeps_the_last_1000_values_oldest_first(sdk: MLTrackingSDK, db_path: Path) -> None:
    """1500 values logged over several persists leave exactly the last 1000, in order."""
    run = tracking.start_run()
    for i in range(1500):
        tracking.log_metric("m", i, step=i)
        if i % 400 == 0:
            tracking.persist_run()
    tracking.end_run()
    [history] = tracking.get_metrics_history(run=run)
    assert [v.value for v in history.values] == [float(i) for i in range(500, 1500)]
    assert [v.step for v in history.values] == list(range(500, 1500))
    assert stored_metric_rows(db_path) == 1000
    assert tracking.get_runs(run=run)[0].metrics["m"] == 1499.0


def test_values_beyond_the_window_never_reach_disk(db_path: Path) -> None:
    """Within one persist only the last 1000 values of a metric are written."""
    sdk = MLTrackingSDK(db_path=db_path, cache_limit_bytes=10**9)
    run = sdk.start_run()
    for i in range(5000):
        sdk.log_metric("m", i)
    assert stored_metric_rows(db_path) == 0  # logging does not touch the disk
    sdk.end_run()
    assert stored_metric_rows(db_path) == 1000
    values = [v.value for v in sdk.get_metrics_history(run=run)[0].values]
    assert values == [float(i) for i in range(4000, 5000)]


def test_cache_is_persisted_when_it_reaches_its_limit(sdk: MLTrackingSDK, db_path: Path) -> None:
    """With the default 1.5 MB limit, a long loop persists on its own before end_run."""
    tracking.start_run()
    for i in range(30_000):
        tracking.log_metric(f"m{i % 100}", i)
    assert stored_metric_rows(db_path) > 0
    tracking.end_run()
    assert stored_metric_rows(db_path) == 30_000


def test_persist_run_writes_now_and_reads_see_pending_values(
    sdk: MLTrackingSDK, db_path: Path
) -> None:
    """persist_run writes at once; get_runs in the same process shows values not yet persisted."""
    run = tracking.start_run()
    tracking.log_metric("m", 1)
    assert stored_metric_rows(db_path) == 0
    tracking.persist_run()
    assert stored_metric_rows(db_path) == 1
    tracking.log_metric("m", 2)
    assert tracking.get_runs(run=run)[0].metrics == {"m": 2.0}


def test_sdk_instances_are_independent(tmp_path: Path) -> None:
    """Two MLTrackingSDK objects with their own files and contexts do not mix."""
    first = MLTrackingSDK(db_path=tmp_path / "a.db", scenario="one", notebook="nb.ipynb")
    second = MLTrackingSDK(db_path=tmp_path / "b.db", scenario="two", pipeline="p.py")
    run_a, run_b = first.start_run(), second.start_run()
    first.log_metric("m", 1)
    second.log_metric("m", 2)
    first.end_run()
    second.end_run()
    assert [r.id for r in first.get_runs(scenario="one")] == [run_a.id]
    assert second.get_runs(scenario="one") == []
    assert second.get_runs(run=run_b)[0].metrics == {"m": 2.0}
    assert first.get_runs(run=run_a)[0].notebook == "nb.ipynb"
    first.close()
    second.close()


def test_errors_share_one_root() -> None:
    """Every error the package raises on purpose is a TrackingError."""
    import sapdi_local.errors as errors

    classes = [getattr(errors, name) for name in dir(errors) if name.endswith("Error")]
    assert len(classes) >= 10
    assert all(issubclass(cls, TrackingError) for cls in classes)


def test_importing_tracking_stays_light() -> None:
    """`import sapdi_local.tracking` loads no sqlite-utils, filelock, platformdirs or sqlite3."""
    result = run_python(
        """
        import sys
        import sapdi_local.tracking
        heavy = {"sqlite_utils", "filelock", "platformdirs", "sqlite3", "click"}
        print(sorted(heavy & set(sys.modules)))
        """
    )
    assert result.stdout.strip() == "[]"
