"""Whole reads made a column at a time (issue 15, item 3): ``get_runs`` and ``runs_frame``
of every selected run read the runs as columns (``select_run_columns``), check each column
in bulk and build the Runs and the frame from the columns, with the cyclic collector paused.

Speed is measured in benchmarks/scaling.py. These tests check that the column-wise path
gives exactly what the run-by-run path gives, for files only sapdi-local wrote and for files
with fields no sapdi-local writes, and that the collector is left as it was found.
"""

from __future__ import annotations

import gc
import json
import sqlite3
import subprocess
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import closing, suppress
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import close_quietly

from sapdi_local import MLTrackingSDK
from sapdi_local.errors import InvalidFilterError
from sapdi_local.frames import RUN_COLUMNS, runs_frame
from sapdi_local.model import Run, UnreadableFieldWarning
from sapdi_local.records import run_fields_from_columns, runs_from_columns, runs_from_records
from sapdi_local.sdk import reading as reading_module
from sapdi_local.store import ReadOnlyStore, RunColumns, RunFilter
from sapdi_local.ui import api

CONTEXT: dict[str, Any] = {"scenario": "s", "scenario_version": "v1", "pipeline": "train.py"}
EVERY_RUN = RunFilter(scenarios=("s",))


def make_runs(path: Path) -> list[str]:
    """Runs that differ in every way a read must keep: collections, parameters present in
    some runs only, numbers and text, tags, labels, metrics present in some runs only, one
    run FAILED, one ended when its SDK closes."""
    sdk = MLTrackingSDK(db_path=path, **CONTEXT)
    ids = []
    try:
        for index in range(12):
            run = sdk.start_run(
                run_collection_name=("train.py", "sweep")[index % 2], run_name=f"r{index}"
            )
            parameters = {"lr": str(index / 10)}
            if index % 3:
                parameters["optimizer"] = ("adam", "sgd")[index % 2]
            sdk.log_parameters(parameters)
            if index % 4 == 0:
                sdk.set_tags({"dataset": f"v{index}"})
            if index % 5 == 0:
                sdk.set_labels({"notes": {"index": index, "list": [1, 2.5, None]}})
            if index != 7:
                sdk.log_metric("accuracy", index / 20)
            sdk.log_metric("loss", 1 - index / 30)
            ids.append(run.id)
            if index != 11:
                sdk.end_run()
    finally:
        close_quietly(sdk)
    connection = sqlite3.connect(path)
    with connection:  # a status the SDK stores when a run's code raises
        connection.execute("UPDATE runs SET status = 'FAILED' WHERE name = 'r3'")
    connection.close()
    return ids


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ReadOnlyStore]:
    path = tmp_path / "runs.db"
    make_runs(path)
    opened = ReadOnlyStore(path)
    yield opened
    opened.close()


def both_ways(store: ReadOnlyStore) -> tuple[list[Run], list[Run]]:
    """The runs read column by column, and read a record at a time."""
    return (
        runs_from_columns(store.select_run_columns(EVERY_RUN)),
        runs_from_records(store.select_runs(EVERY_RUN)),
    )


def test_runs_made_a_column_at_a_time_equal_runs_made_one_by_one(
    store: ReadOnlyStore,
) -> None:
    by_column, by_record = both_ways(store)
    assert len(by_column) == 12
    assert by_column == by_record
    # The maps keep the order the record path gives them, field by field.
    for one, other in zip(by_column, by_record, strict=True):
        for field in ("parameters", "tags", "labels", "metrics"):
            assert list(getattr(one, field).items()) == list(getattr(other, field).items())
    by_name = {run.name: run for run in by_column}
    assert by_name["r3"].status == "FAILED"
    assert "end" in by_name["r3"].parameters and by_name["r3"].tags["runName"] == "r3"
    assert by_name["r0"].labels == {"notes": {"index": 0, "list": [1, 2.5, None]}}
    assert "accuracy" not in by_name["r7"].metrics


def test_each_run_gets_maps_of_its_own(store: ReadOnlyStore) -> None:
    """No two runs share a dict: changing one run's parameters changes no other."""
    runs = runs_from_columns(store.select_run_columns(EVERY_RUN))
    for field in ("parameters", "tags", "labels", "metrics"):
        maps = [getattr(run, field) for run in runs]
        assert len({id(entries) for entries in maps}) == len(maps)


def test_a_running_run_whose_process_is_gone_reads_as_killed(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    make_runs(path)
    script = (
        "import os, sys\n"
        "from sapdi_local import MLTrackingSDK\n"
        "sdk = MLTrackingSDK(db_path=sys.argv[1], scenario='s', pipeline='p')\n"
        "sdk.start_run(run_name='left')\n"
        "sdk.log_metric('accuracy', 0.5)\n"
        "sdk.persist_run()\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, timeout=120)
    with closing(ReadOnlyStore(path)) as store:
        by_column, by_record = both_ways(store)
    assert by_column == by_record
    assert {run.name: run.status for run in by_column}["left"] == "KILLED"
    # The run this test's own process left RUNNING was ended when its SDK closed.
    assert [run.status for run in by_column].count("RUNNING") == 0


def test_a_live_running_run_reads_as_running(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    sdk = MLTrackingSDK(db_path=path, **CONTEXT)
    try:
        sdk.start_run(run_name="live")
        sdk.log_metric("accuracy", 0.5)
        sdk.persist_run()
        with closing(ReadOnlyStore(path)) as store:
            by_column, by_record = both_ways(store)
        assert by_column == by_record
        assert [run.status for run in by_column] == ["RUNNING"]
    finally:
        close_quietly(sdk)


@pytest.mark.parametrize(
    ("statement", "unreadable_field"),
    [
        ("UPDATE runs SET collection = x'00ff' WHERE name = 'r2'", "collection"),
        ("UPDATE runs SET start_time = 'yesterday' WHERE name = 'r2'", "start_time"),
        ("UPDATE runs SET status = 'LOST' WHERE name = 'r2'", "status"),
        ("UPDATE runs SET pid = -5 WHERE name = 'r2'", "pid"),
        ("UPDATE runs SET collection_is_default = 7 WHERE name = 'r2'", "collection_is_default"),
        (
            "UPDATE parameters SET value = x'0102' "
            "WHERE run_key = (SELECT key FROM runs WHERE name = 'r2') AND name = 'lr'",
            "parameter",
        ),
        (
            "UPDATE latest_metrics SET value = 'high' "
            "WHERE run_key = (SELECT key FROM runs WHERE name = 'r2') AND name = 'loss'",
            "metric",
        ),
        (
            "UPDATE tags SET name = '' WHERE run_key = (SELECT key FROM runs WHERE name = 'r0')",
            "tag",
        ),
        (
            "UPDATE labels SET value = '{not json' "
            "WHERE run_key = (SELECT key FROM runs WHERE name = 'r0')",
            "label",
        ),
    ],
)
def test_a_field_no_sapdi_local_writes_is_left_out_the_same_way(
    tmp_path: Path, statement: str, unreadable_field: str
) -> None:
    """One bad field anywhere sends the whole read the run-by-run way: the same runs, the
    same fields left out, the same warnings."""
    path = tmp_path / "runs.db"
    make_runs(path)
    connection = sqlite3.connect(path)
    with connection:
        assert connection.execute(statement).rowcount == 1
    connection.close()
    with closing(ReadOnlyStore(path)) as store:
        with warnings.catch_warnings(record=True) as by_column_warnings:
            warnings.simplefilter("always")
            by_column = runs_from_columns(store.select_run_columns(EVERY_RUN))
        with warnings.catch_warnings(record=True) as by_record_warnings:
            warnings.simplefilter("always")
            by_record = runs_from_records(store.select_runs(EVERY_RUN))
    assert by_column == by_record
    assert len(by_column) == 12
    assert [str(w.message) for w in by_column_warnings] == [
        str(w.message) for w in by_record_warnings
    ]
    unreadable = [item for run in by_column for item in run.unreadable]
    assert [item.field for item in unreadable] == [unreadable_field]
    # runs_frame leaves out what get_runs leaves out, with the same warnings.
    sdk = MLTrackingSDK(db_path=path)
    try:
        with warnings.catch_warnings(record=True) as frame_warnings:
            warnings.simplefilter("always")
            frame = sdk.runs_frame(scenario="s")
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            runs = sdk.get_runs(scenario="s")
    finally:
        close_quietly(sdk)
    pd.testing.assert_frame_equal(frame, reference_frame(runs))
    assert [str(w.message) for w in frame_warnings] == [str(w.message) for w in by_record_warnings]


def test_run_columns_hold_the_records_column_by_column(store: ReadOnlyStore) -> None:
    columns = store.select_run_columns(EVERY_RUN)
    records = store.select_runs(EVERY_RUN)
    assert columns.run_count == len(records) == 12
    assert columns.records() == records
    assert RunColumns.from_records(records) == columns
    assert list(columns.column("name")) == [record.row["name"] for record in records]
    assert columns.names == tuple(records[0].row)
    with pytest.raises(KeyError, match="runs has no column 'no such column'; its columns: key"):
        columns.column("no such column")


def test_an_empty_selection_reads_no_runs(store: ReadOnlyStore) -> None:
    columns = store.select_run_columns(RunFilter(scenarios=("nothing here",)))
    assert columns.run_count == 0
    assert columns.records() == []
    assert runs_from_columns(columns) == []
    assert len(columns.columns) == len(columns.names) > 10
    assert RunColumns.from_records([]).run_count == 0
    assert runs_from_columns(RunColumns.from_records([])) == []
    assert run_fields_from_columns(RunColumns.from_records([])) == {}


def reference_frame(runs: Sequence[Run]) -> Any:
    """The frame as a list of dicts, one per run, the plain way: what runs_frame made before
    it was made a column at a time."""
    rows = []
    for run in runs:
        row: dict[str, Any] = {
            "run_id": run.id,
            "name": run.name,
            "scenario": run.scenario,
            "scenario_version": run.scenario_version,
            "collection": run.collection,
            "notebook": run.notebook,
            "pipeline": run.pipeline,
            "execution": run.execution,
            "status": run.status,
            "start_time": run.start_time,
            "end_time": run.end_time,
            "duration_seconds": None
            if run.start_time is None or run.end_time is None
            else (run.end_time - run.start_time).total_seconds(),
        }
        row.update(
            (f"params.{k}", v) for k, v in run.parameters.items() if k not in ("start", "end")
        )
        row.update((f"tags.{k}", v) for k, v in run.tags.items() if k != "runName")
        row.update((f"metrics.{k}", v) for k, v in run.metrics.items())
        rows.append(row)
    groups = ("params.", "tags.", "metrics.")
    extra = sorted(
        {name for row in rows for name in row} - set(RUN_COLUMNS),
        key=lambda name: (groups.index(name.split(".")[0] + "."), name),
    )
    frame = pd.DataFrame(rows, columns=[*RUN_COLUMNS, *extra])
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True, errors="coerce")
    for column in frame.columns:
        if column.startswith("params."):
            with suppress(ValueError, TypeError):
                frame[column] = pd.to_numeric(frame[column])
    return frame


def test_the_frame_made_a_column_at_a_time_equals_the_frame_made_run_by_run(
    store: ReadOnlyStore,
) -> None:
    runs = runs_from_columns(store.select_run_columns(EVERY_RUN))
    frame = runs_frame(runs)
    pd.testing.assert_frame_equal(frame, reference_frame(runs))
    assert frame["params.lr"].dtype.kind == "f"  # every value a number
    assert frame["params.optimizer"].isna().sum() == 4  # set in 8 runs of 12
    assert "params.start" not in frame and "tags.runName" not in frame
    pd.testing.assert_frame_equal(runs_frame([]), reference_frame([]))


def test_runs_frame_of_every_run_equals_the_frame_of_get_runs(tmp_path: Path) -> None:
    """runs_frame makes its frame straight from the columns, with no Run per run: the same
    frame as the one made from get_runs' Runs, a run whose process is gone KILLED in both."""
    path = tmp_path / "runs.db"
    make_runs(path)
    script = (
        "import os, sys\n"
        "from sapdi_local import MLTrackingSDK\n"
        "sdk = MLTrackingSDK(db_path=sys.argv[1], scenario='s', pipeline='p')\n"
        "sdk.start_run(run_name='left')\n"
        "sdk.log_parameters({'lr': 'high'})\n"
        "sdk.persist_run()\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, timeout=120)
    sdk = MLTrackingSDK(db_path=path)
    try:
        frame = sdk.runs_frame(scenario="s")
        runs = sdk.get_runs(scenario="s")
        pd.testing.assert_frame_equal(frame, runs_frame(runs))
        pd.testing.assert_frame_equal(frame, reference_frame(runs))
        assert frame.set_index("name").loc["left", "status"] == "KILLED"
        assert frame["params.lr"].dtype == object or str(frame["params.lr"].dtype) == "str"
        empty = sdk.runs_frame(scenario="no such scenario")
        pd.testing.assert_frame_equal(empty, runs_frame([]))
        with pytest.raises(InvalidFilterError, match=r"runs_frame\(\) needs at least one"):
            sdk.runs_frame()
    finally:
        close_quietly(sdk)


def test_a_frame_of_runs_made_by_hand_holds_their_fields() -> None:
    """Runs a program makes itself, with the read-only empty maps as defaults."""
    runs = [Run(id="a", name="first"), Run(id="b", parameters={"lr": "0.1"}, metrics={"m": 1.0})]
    frame = runs_frame(runs)
    pd.testing.assert_frame_equal(frame, reference_frame(runs))
    assert frame["params.lr"].tolist()[1] == 0.1


def test_a_time_outside_what_readers_show_is_nat_in_both_frames(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    make_runs(path)
    connection = sqlite3.connect(path)
    with connection:
        # The year 9999: outside the times every reader (pandas included) can show.
        connection.execute("UPDATE runs SET end_time = 253402200000 WHERE name = 'r4'")
    connection.close()
    with closing(ReadOnlyStore(path)) as store, pytest.warns(UnreadableFieldWarning):
        runs = runs_from_columns(store.select_run_columns(EVERY_RUN))
    frame = runs_frame(runs)
    pd.testing.assert_frame_equal(frame, reference_frame(runs))
    row = frame[frame["name"] == "r4"].iloc[0]
    assert pd.isna(row["end_time"]) and pd.isna(row["duration_seconds"])


@pytest.mark.parametrize("enabled", [True, False])
def test_get_runs_and_runs_frame_leave_the_collector_as_they_found_it(
    tmp_path: Path, enabled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "runs.db"
    make_runs(path)
    sdk = MLTrackingSDK(db_path=path, **CONTEXT)
    was_enabled = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        assert len(sdk.get_runs(scenario="s")) == 12
        assert gc.isenabled() is enabled
        assert len(sdk.runs_frame(scenario="s")) == 12
        assert gc.isenabled() is enabled
        with closing(ReadOnlyStore(path)) as store:
            assert len(api.runs(store, {"scenario": ["s"]})["runs"]) == 12  # the explorer's list
        assert gc.isenabled() is enabled

        def broken(*arguments: Any, **keywords: Any) -> Any:
            raise RuntimeError("a read that fails halfway")

        monkeypatch.setattr(reading_module, "runs_from_columns", broken)
        with pytest.raises(RuntimeError, match="halfway"):
            sdk.get_runs(scenario="s")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was_enabled else gc.disable)()
        close_quietly(sdk)


def test_a_whole_read_of_a_shared_file_by_another_process(tmp_path: Path) -> None:
    """A real process lists every run of a file with get_runs and as a frame, as JSON."""
    path = tmp_path / "runs.db"
    ids = make_runs(path)
    script = (
        "import json, sys\n"
        "from sapdi_local import MLTrackingSDK\n"
        "sdk = MLTrackingSDK(db_path=sys.argv[1])\n"
        "runs = sdk.get_runs(scenario='s')\n"
        "frame = sdk.runs_frame(scenario='s')\n"
        "print(json.dumps({'ids': [run.id for run in runs], 'frame': frame['run_id'].tolist()}))\n"
        "sdk.close()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    answer = json.loads(result.stdout)
    assert sorted(answer["ids"]) == sorted(ids)
    assert answer["frame"] == answer["ids"]
