"""The public API: call forms, run lifecycle, collections, the window, the cache and persists."""

from __future__ import annotations

import inspect
import json
import sqlite3
import sys
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
    "runs_frame",
    "metrics_frame",
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
    assert history["m"][0].step == 0  # no step given: the first value is step 0


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


def test_update_run_info_before_a_run_applies_to_the_next_one(sdk: MLTrackingSDK) -> None:
    """Name, collection and tags given before start_run() are those of the next run."""
    tracking.update_run_info(run_name="planned", run_collection_name="RC1", tags={"k": "v"})
    run = tracking.start_run()
    assert (run.name, run.collection, run.collection_is_default) == ("planned", "RC1", False)
    tracking.end_run()
    [stored] = tracking.get_runs(run=run)
    assert (stored.name, stored.collection, stored.tags["k"]) == ("planned", "RC1", "v")
    assert tracking.start_run().name != "planned"  # used once


def test_start_run_arguments_beat_planned_run_info(sdk: MLTrackingSDK) -> None:
    """start_run's own names win over those given to update_run_info beforehand."""
    tracking.update_run_info(run_name="planned", run_collection_name="RC1")
    run = tracking.start_run(run_name="given")
    assert (run.name, run.collection) == ("given", "RC1")


def test_a_collection_named_after_the_source_is_the_default_one(sdk: MLTrackingSDK) -> None:
    """Moving a run back to the collection named after its pipeline makes it default again."""
    run = tracking.start_run(run_collection_name="elsewhere")
    tracking.end_run()
    tracking.update_run_info(run=run, run_collection_name="train.py")
    [stored] = tracking.get_runs(run=run)
    assert stored.collection_is_default and stored.to_dict()["collection_display_name"] == (
        "train.py (Default)"
    )
    assert tracking.start_run(run_collection_name="train.py").collection_is_default


def test_fast_path_converts_ints_and_checks_steps(sdk: MLTrackingSDK) -> None:
    """Values and steps logged on the fast path (a name already seen) obey the slow path's rules."""
    from sapdi_local.errors import InvalidTypeError, InvalidValueError

    run = tracking.start_run()
    tracking.log_metric("m", 1)  # the first value of a name takes the slow path
    tracking.log_metric("m", 2, step=5)  # later ones the fast path
    tracking.log_metric("m", 3.5, step=6)
    for bad_value, error in (
        (10**400, InvalidValueError),
        (True, InvalidTypeError),
        (float("nan"), InvalidValueError),
        ("4", InvalidTypeError),
    ):
        with pytest.raises(error):
            tracking.log_metric("m", bad_value)
    for bad_step, error in (
        (2**63, InvalidValueError),
        (True, InvalidTypeError),
        (1.5, InvalidTypeError),
    ):
        with pytest.raises(error):
            tracking.log_metric("m", 4, step=bad_step)
    tracking.end_run()
    [history] = tracking.get_metrics_history(run=run)
    assert [(v.value, v.step) for v in history.values] == [(1.0, 0), (2.0, 5), (3.5, 6)]
    assert all(isinstance(v.value, float) for v in history.values)


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: tracking.get_metrics_history(metrics=5), InvalidTypeError),
        (lambda: tracking.log_metric("m", 1, timestamp=datetime.min), ValueError),
        (
            lambda: tracking.log_parameters({"p": type("Bad", (), {"__str__": lambda s: 1 / 0})()}),
            ValueError,
        ),
        (lambda: MLTrackingSDK(db_path=5).start_run(), InvalidTypeError),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments_raise_tracking_errors(sdk: MLTrackingSDK, call, error) -> None:
    """Odd arguments give a TrackingError of the right kind, never a raw Python error."""
    tracking.start_run()
    with pytest.raises(TrackingError) as raised:
        call()
    assert isinstance(raised.value, error)


def test_a_broken_symlink_as_database_is_a_storage_error(tmp_path: Path) -> None:
    """A database path that is a dangling symlink gives a StorageError naming the file."""
    from sapdi_local.errors import StorageError

    link = tmp_path / "tracking.db"
    link.symlink_to(tmp_path / "missing" / "target.db")
    with pytest.raises(StorageError, match="tracking.db"):
        MLTrackingSDK(db_path=link).start_run()


def test_scenario_object_as_scenario_version_selects_by_version(sdk: MLTrackingSDK) -> None:
    """get_runs(scenario_version=Scenario) compares the scenario's version, not its name."""
    run = tracking.start_run()
    tracking.end_run()
    current = sapdi.get_current_scenario()
    assert [r.id for r in tracking.get_runs(scenario_version=current)] == [run.id]


def test_an_automatic_persist_never_raises_into_training(
    sdk: MLTrackingSDK, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever goes wrong inside an automatic persist becomes a warning; values are kept."""
    from sapdi_local.errors import PersistWarning

    small = MLTrackingSDK(db_path=sdk.db_path, cache_limit_bytes=120 * 50)
    run = small.start_run()
    real_persist = small.store.persist

    def broken(batch):  # an unexpected error, not a TrackingError
        raise RuntimeError("unexpected")

    monkeypatch.setattr(small.store, "persist", broken)
    with pytest.warns(PersistWarning, match="unexpected"):
        for i in range(200):
            small.log_metric(f"m{i % 5}", i)
    monkeypatch.setattr(small.store, "persist", real_persist)
    small.end_run()
    counts = {h.name: len(h.values) for h in small.get_metrics_history(run=run)}
    assert counts == {f"m{k}": 40 for k in range(5)}
    small.close()


def test_an_interrupt_after_the_commit_never_writes_a_batch_twice(
    sdk: MLTrackingSDK, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KeyboardInterrupt after COMMIT propagates, and the committed batch is not restored."""
    run = tracking.start_run()
    for i in range(10):
        tracking.log_metric("m", i)

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(sdk.store, "_checkpoint", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tracking.end_run()
    monkeypatch.undo()
    tracking.persist_run()
    assert not sdk.has_pending()
    assert stored_metric_rows(db_path) == 10
    assert tracking.get_runs(run=run)[0].status == "FINISHED"


def test_logging_in_a_thread_while_another_persists_loses_nothing(db_path: Path) -> None:
    """A thread logs (and persists on its own as its small cache fills) while the main
    thread persists in a loop: every value is stored once, in order."""
    import threading

    names = [f"m{i}" for i in range(50)]
    sdk = MLTrackingSDK(db_path=db_path, cache_limit_bytes=120 * 300)
    run = sdk.start_run()
    done = threading.Event()

    def log() -> None:
        for step in range(400):
            for name in names:
                sdk.log_metric(name, step, step=step)
        done.set()

    # Switch threads very often, so that switches fall inside the SDK's own steps.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        worker = threading.Thread(target=log)
        worker.start()
        while not done.is_set():
            sdk.persist_run()
        worker.join(timeout=120)
    finally:
        sys.setswitchinterval(interval)
    sdk.end_run()
    assert stored_metric_rows(db_path) == 50 * 400
    for history in sdk.get_metrics_history(run=run):
        assert [v.step for v in history.values] == list(range(400)), history.name
    sdk.close()


def test_persist_restores_the_garbage_collector() -> None:
    """A persist pauses Python's cyclic collector only for itself."""
    import gc

    from sapdi_local.collector import collector_paused

    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_new_database_is_made_without_importing_sqlite_utils(tmp_path: Path) -> None:
    """Creating and migrating a new file uses plain SQL: sqlite-utils, slow to import in
    large environments, is not loaded by the tracking path."""
    result = run_python(
        f"""
        import sys
        from sapdi_local import MLTrackingSDK
        sdk = MLTrackingSDK(db_path={str(tmp_path / "new.db")!r})
        sdk.start_run()
        sdk.log_metric("m", 1)
        sdk.end_run()
        print("sqlite_utils" in sys.modules)
        """
    )
    assert result.stdout.strip() == "False"


def test_with_start_run_ends_the_run_on_exit(sdk: MLTrackingSDK) -> None:
    """`with tracking.start_run() as run:` ends the run FINISHED when the block ends."""
    with tracking.start_run(run_name="block") as run:
        tracking.log_metric("m", 1)
        assert sdk.active_run is not None
    assert sdk.active_run is None
    [stored] = tracking.get_runs(run=run)
    assert (stored.name, stored.status, stored.metrics) == ("block", "FINISHED", {"m": 1.0})


def test_an_exception_in_the_block_fails_the_run_and_keeps_its_values(
    sdk: MLTrackingSDK,
) -> None:
    """An exception escaping the block marks the run FAILED, persists it, and goes on."""
    with pytest.raises(ZeroDivisionError), tracking.start_run() as run:
        tracking.log_metric("m", 2)
        1 / 0  # noqa: B018
    [stored] = tracking.get_runs(run=run)
    assert (stored.status, stored.metrics) == ("FAILED", {"m": 2.0})


def test_a_run_ended_inside_its_block_is_left_as_it_is(sdk: MLTrackingSDK) -> None:
    """end_run() inside the block is fine: leaving it neither fails nor ends another run."""
    with tracking.start_run() as first:
        tracking.end_run()
        second = tracking.start_run()
    assert sdk.active_run == second
    assert tracking.get_runs(run=first)[0].status == "FINISHED"


def test_the_sdk_is_a_context_manager(db_path: Path) -> None:
    """`with MLTrackingSDK(...) as sdk:` ends its active run and closes its file at the end."""
    with MLTrackingSDK(db_path=db_path, pipeline="p.py") as tracker:
        run = tracker.start_run()
        tracker.log_metric("m", 3)
    with MLTrackingSDK(db_path=db_path) as reader:
        [stored] = reader.get_runs(run=run)
    assert (stored.status, stored.metrics) == ("FINISHED", {"m": 3.0})
