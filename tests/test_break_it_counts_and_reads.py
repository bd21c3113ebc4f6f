"""Attacks on the kept run counts (migration 0006) and on whole reads made a column at a
time, with real files edited by hand, real processes and the explorer's API in process.

Each attack that once got through (a lowered count hiding runs, an empty first page with a
kept total, a dropped count index stopping every write, the library's schema version shown
for an older file) is a test that now passes.
"""

from __future__ import annotations

import gc
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from conftest import child_environment, cli_on, close_quietly, edited

import sapdi_local
from sapdi_local import MLTrackingSDK
from sapdi_local.frames import runs_frame
from sapdi_local.records import runs_from_records
from sapdi_local.sdk import reading as reading_module
from sapdi_local.store import ReadOnlyStore, RunFilter, search_run_records
from sapdi_local.store.schema import apply_migrations
from sapdi_local.ui.server import Explorer

COUNTED = (
    "SELECT scenario, collection, COUNT(*) FROM runs "
    "GROUP BY scenario, collection ORDER BY scenario, collection"
)
KEPT = "SELECT scenario, collection, runs FROM run_counts ORDER BY scenario, collection"
EXPLORER_PAGE = 10  # the explorer's "Show more" adds a page of this many (view.pageSize)


def kept_and_counted(path: Path) -> tuple[list[Any], list[Any]]:
    """run_counts, and the same numbers counted from the runs, in one snapshot."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN")
        kept = connection.execute(KEPT).fetchall()
        counted = connection.execute(COUNTED).fetchall()
        connection.execute("COMMIT")
        return kept, counted
    finally:
        connection.close()


def write_runs(path: Path, plan: Sequence[tuple[str, str | None]]) -> list[str]:
    """A run started and ended by the SDK per (scenario, collection) of ``plan``, each with
    a parameter and a metric; their ids."""
    sdks: dict[str, MLTrackingSDK] = {}
    ids: list[str] = []
    try:
        for scenario, collection in plan:
            if scenario not in sdks:
                sdks[scenario] = MLTrackingSDK(db_path=path, scenario=scenario, pipeline="p.py")
            sdk = sdks[scenario]
            ids.append(sdk.start_run(run_collection_name=collection).id)
            sdk.log_parameters({"lr": str(len(ids))})
            sdk.log_metric("m", float(len(ids)))
            sdk.end_run()
    finally:
        for sdk in sdks.values():
            close_quietly(sdk)
    return ids


@pytest.fixture(scope="module")
def written_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 runs in collection a, 10 in b, 5 in the default one (p.py), all of scenario s."""
    path = tmp_path_factory.mktemp("break-it") / "base.db"
    write_runs(path, [("s", "a")] * 30 + [("s", "b")] * 10 + [("s", None)] * 5)
    return path


@pytest.fixture
def collection_file(written_once: Path, tmp_path: Path) -> Path:
    path = tmp_path / "runs.db"
    shutil.copy(written_once, path)
    return path


@pytest.fixture
def explorer() -> Iterator[Callable[[Path], httpx.Client]]:
    made: list[tuple[httpx.Client, Explorer]] = []

    def make(path: Path) -> httpx.Client:
        app = Explorer(path)
        client = httpx.Client(
            transport=httpx.WSGITransport(app=app), base_url="http://127.0.0.1:8600"
        )
        made.append((client, app))
        return client

    yield make
    for client, app in made:
        client.close()
        app.close()


def explorer_ids(client: httpx.Client, collection: str) -> list[str]:
    """The run ids the explorer's collection page can reach: it asks for the first page,
    then, while the total says more runs match than it shows, for one more page
    (collection.js asks limit=shown; runs-table.js offers "Show more" while total > shown)."""
    shown = EXPLORER_PAGE
    while True:
        response = client.get("/api/runs", params={"collection": collection, "limit": str(shown)})
        assert response.status_code == 200, response.text
        body = response.json()
        ids = [run["id"] for run in body["runs"]]
        if body["total"] <= len(ids) or len(ids) < shown:
            return ids
        shown += EXPLORER_PAGE


# ---------------------------------------------------------------- counts another tool wrote

FORGED_COUNTS = {
    "honest": "",
    "too high": "UPDATE run_counts SET runs = 1000 WHERE collection = 'a'",
    "a pair with no runs": "INSERT INTO run_counts VALUES ('ghost', 'g', 7)",
    "text": "UPDATE run_counts SET runs = 'many' WHERE collection = 'a'",
    "blob": "UPDATE run_counts SET runs = x'00' WHERE collection = 'a'",
    "real": "UPDATE run_counts SET runs = 30.0 WHERE collection = 'a'",
    "largest integer": "UPDATE run_counts SET runs = 9223372036854775807",
    "runs moved by SQL": "UPDATE runs SET collection = 'moved' WHERE collection = 'b'",
    "runs added by SQL": (
        "INSERT INTO runs (id, name, collection, collection_is_default, scenario, status, "
        "start_time) SELECT id || 'x', name, 'new', 0, scenario, status, start_time FROM runs "
        "WHERE collection = 'a'"
    ),
    "NULL, the table made again without NOT NULL": (
        "DROP TABLE run_counts; "
        "CREATE TABLE run_counts (scenario TEXT, collection TEXT NOT NULL, runs INTEGER); "
        "INSERT INTO run_counts SELECT scenario, collection, NULL FROM runs GROUP BY 1, 2"
    ),
}
LOWERING_COUNTS = {
    "every count deleted": "DELETE FROM run_counts",
    "every count 1": "UPDATE run_counts SET runs = 1",
    "a count 0": "UPDATE run_counts SET runs = 0 WHERE collection = 'a'",
    "runs added to a by SQL": (
        "INSERT INTO runs (id, name, collection, collection_is_default, scenario, status, "
        "start_time) SELECT id || 'x', name, 'a', 0, scenario, status, start_time FROM runs "
        "WHERE collection = 'b'"
    ),
}


def counted_collections(path: Path) -> list[tuple[Any, Any, int]]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(COUNTED).fetchall()
    finally:
        connection.close()


def run_ids_in(path: Path, collection: str) -> set[str]:
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute("SELECT id FROM runs WHERE collection = ?", (collection,))
        return {run_id for (run_id,) in rows}
    finally:
        connection.close()


@pytest.mark.parametrize("script", FORGED_COUNTS.values(), ids=FORGED_COUNTS.keys())
def test_forged_counts_crash_nothing_and_hide_no_run(
    collection_file: Path, explorer: Callable[[Path], httpx.Client], script: str
) -> None:
    edited(collection_file, script)
    with closing(ReadOnlyStore(collection_file)) as reader:
        counts = reader.counts()
        assert all(type(value) is int and value >= 0 for value in counts.values()), counts
        # The list of collections reads the runs: every collection holding one is listed.
        listed = [(c["scenario"], c["collection"], c["runs"]) for c in reader.collections()]
        assert listed == counted_collections(collection_file)
    for arguments in (["where"], ["collections"], ["runs", "--collection", "a", "--limit", "500"]):
        result = cli_on(collection_file, *arguments)
        assert result.returncode == 0, result.stderr
    listed_a = cli_on(collection_file, "runs", "--collection", "a", "--limit", "500", "--json")
    assert {run["id"] for run in json.loads(listed_a.stdout)} == run_ids_in(collection_file, "a")
    client = explorer(collection_file)
    assert client.get("/api/database").status_code == 200
    assert set(explorer_ids(client, "a")) == run_ids_in(collection_file, "a")


@pytest.mark.parametrize(
    "script",
    list(LOWERING_COUNTS.values()),
    ids=LOWERING_COUNTS.keys(),
)
def test_a_lowered_count_hides_no_run_from_the_explorer(
    collection_file: Path, explorer: Callable[[Path], httpx.Client], script: str
) -> None:
    edited(collection_file, script)
    assert set(explorer_ids(explorer(collection_file), "a")) == run_ids_in(collection_file, "a")


def test_an_empty_first_page_totals_zero(collection_file: Path) -> None:
    edited(collection_file, "DELETE FROM runs WHERE collection = 'a'")
    with closing(ReadOnlyStore(collection_file)) as reader:
        total, page = search_run_records(reader, "collection = 'a'", [], 10)
    assert page == []
    assert total == 0


def test_counts_stay_exact_and_writes_go_on_without_the_count_index(collection_file: Path) -> None:
    edited(collection_file, "DROP INDEX idx_run_counts_pair")
    sdk = MLTrackingSDK(db_path=collection_file, scenario="s", pipeline="p.py")
    try:
        # The count is kept without the index (an update, else an insert): writes go on.
        sdk.start_run(run_collection_name="a")
        sdk.end_run()
        sdk.start_run(run_collection_name="new")
        sdk.end_run()
        kept, counted = kept_and_counted(collection_file)
        assert kept == counted
    finally:
        close_quietly(sdk)


def schema_5_file(path: Path) -> None:
    """A file of the release before run_counts, with runs in two collections."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN")
    apply_migrations(connection, up_to=5)
    connection.executemany(
        "INSERT INTO runs (id, name, collection, collection_is_default, scenario, status, "
        "start_time) VALUES (?, ?, ?, 0, 's', 'FINISHED', ?)",
        [(f"id{n}", f"r{n}", "ab"[n % 2], 1.7e9 + n) for n in range(20)],
    )
    connection.execute("COMMIT")
    connection.close()


def test_where_tells_the_schema_of_a_file_read_without_migrating(
    tmp_path: Path, explorer: Callable[[Path], httpx.Client]
) -> None:
    path = tmp_path / "v5.db"
    schema_5_file(path)
    result = cli_on(path, "where", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["runs"] == 20 and summary["collections"] == 2
    assert explorer(path).get("/api/database").json()["schema_version"] == 5
    assert summary["schema_version"] == 5


# ---------------------------------------------------------------- writers at once

WRITER = """
import sys
from sapdi_local import MLTrackingSDK
path, scenario, collection, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sdk = MLTrackingSDK(db_path=path, scenario=scenario, pipeline="p.py")
for index in range(count):
    sdk.start_run(run_collection_name=collection)
    sdk.log_metric("m", float(index))
    sdk.end_run()
sdk.close()
"""
DELETER = """
import sys
from sapdi_local import MLTrackingSDK
path, rounds = sys.argv[1], int(sys.argv[2])
sdk = MLTrackingSDK(db_path=path, scenario="s", pipeline="p.py")
deleted = 0
for _ in range(rounds):
    runs = sdk.get_runs(scenario="s")
    if runs:
        deleted += sdk.delete_runs(run=runs[-1].id)
sdk.close()
print(deleted)
"""
MERGER = """
import sys
from pathlib import Path
from sapdi_local.store import ReadOnlyStore, merge_from
from sapdi_local import MLTrackingSDK
path, other = sys.argv[1], Path(sys.argv[2])
sdk = MLTrackingSDK(db_path=path, scenario="s", pipeline="p.py")
theirs = ReadOnlyStore(other)
print(len(merge_from(sdk.store, theirs).added))
theirs.close()
sdk.close()
"""


@pytest.mark.slow
def test_counts_stay_exact_under_writers_a_deleter_and_a_merge_at_once(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    write_runs(path, [("s", "a")] * 6)
    other = tmp_path / "other.db"
    write_runs(other, [("s", "a")] * 4 + [("u", "m")] * 4)
    commands = [
        [sys.executable, "-c", WRITER, str(path), "s", "a", "8"],
        [sys.executable, "-c", WRITER, str(path), "s", "b", "8"],
        [sys.executable, "-c", WRITER, str(path), "t", "a", "8"],
        [sys.executable, "-c", DELETER, str(path), "6"],
        [sys.executable, "-c", MERGER, str(path), str(other)],
    ]
    children = [
        subprocess.Popen(
            command,
            env=child_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    outputs = [child.communicate(timeout=300) for child in children]
    for child, (_, error) in zip(children, outputs, strict=True):
        assert child.returncode == 0, error
    deleted, merged = int(outputs[3][0]), int(outputs[4][0])
    assert merged == 8
    kept, counted = kept_and_counted(path)
    assert kept == counted
    assert sum(row[2] for row in kept) == 6 + 24 + merged - deleted


KILLED_WRITER = """
import sys
from sapdi_local import MLTrackingSDK
path = sys.argv[1]
sdk = MLTrackingSDK(db_path=path, scenario="s", pipeline="p.py")
print("ready", flush=True)
index = 0
while True:
    index += 1
    sdk.start_run(run_collection_name="ab"[index % 2])
    for step in range(2000):
        sdk.log_metric("m", float(step), step=step)
    sdk.update_run_info(run_collection_name="c")
    sdk.persist_run()
    sdk.end_run()
"""


@pytest.mark.slow
def test_a_writer_killed_mid_persist_leaves_counts_exact(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    write_runs(path, [("s", "a")] * 2)
    for _ in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, str(path)],
            env=child_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready", child.stderr
        # Killed once it has written some runs: wherever it is, a persist is likely running.
        while (
            kept_and_counted(path)[1] == [] or sum(row[2] for row in kept_and_counted(path)[1]) < 4
        ):
            if child.poll() is not None:
                raise AssertionError(child.communicate()[1])
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=60)
        kept, counted = kept_and_counted(path)
        assert kept == counted


# ---------------------------------------------------------------- whole reads

FORGED_FIELDS = {
    "start time far in the future": "UPDATE runs SET start_time = 1e300 WHERE name = 'r1'",
    "start time as text": "UPDATE runs SET start_time = 'yesterday' WHERE name = 'r1'",
    "end time before start": "UPDATE runs SET end_time = start_time - 100 WHERE name = 'r1'",
    "pid negative": "UPDATE runs SET pid = -1 WHERE name = 'r1'",
    "pid huge": "UPDATE runs SET pid = 4294967296 WHERE name = 'r1'",
    "pid as text": "UPDATE runs SET pid = 'abc' WHERE name = 'r1'",
    "status unknown": "UPDATE runs SET status = 'WEIRD' WHERE name = 'r1'",
    "status KILLED stored": "UPDATE runs SET status = 'KILLED' WHERE name = 'r1'",
    "status lower case": "UPDATE runs SET status = 'finished' WHERE name = 'r1'",
    "RUNNING, process gone": (
        "UPDATE runs SET status = 'RUNNING', end_time = NULL, pid = 2147483000 WHERE name = 'r1'"
    ),
    "RUNNING, no process known": (
        "UPDATE runs SET status = 'RUNNING', end_time = NULL, pid = NULL, host = NULL "
        "WHERE name = 'r1'"
    ),
    "name empty": "UPDATE runs SET name = '' WHERE name = 'r1'",
    "name with NUL": "UPDATE runs SET name = 'r' || char(0) || '1' WHERE name = 'r1'",
    "name as blob": "UPDATE runs SET name = x'7231' WHERE name = 'r1'",
    "name very long": "UPDATE runs SET name = printf('%.5000c', 'r') WHERE name = 'r1'",
    "collection flag 2": "UPDATE runs SET collection_is_default = 2 WHERE name = 'r1'",
    "collection flag real": "UPDATE runs SET collection_is_default = 1.0 WHERE name = 'r1'",
    "scenario with NUL": "UPDATE runs SET scenario = 's' || char(0) WHERE name = 'r1'",
    "parameter named start": (
        "INSERT INTO parameters (run_key, name, value) "
        "SELECT key, 'start', 'mine' FROM runs WHERE name = 'r1'"
    ),
    "parameter named end": (
        "INSERT INTO parameters (run_key, name, value) "
        "SELECT key, 'end', 'mine' FROM runs WHERE name = 'r1'"
    ),
    "tag named runName": (
        "INSERT INTO tags (run_key, name, value) "
        "SELECT key, 'runName', 'other' FROM runs WHERE name = 'r1'"
    ),
    "parameter value as integer": (
        "UPDATE parameters SET value = 5 WHERE run_key = (SELECT key FROM runs WHERE name = 'r1')"
    ),
    "parameter value very long": (
        "UPDATE parameters SET value = printf('%.100000c', 'x') "
        "WHERE run_key = (SELECT key FROM runs WHERE name = 'r1')"
    ),
    "parameter name NUL": (
        "UPDATE parameters SET name = 'l' || char(0) "
        "WHERE run_key = (SELECT key FROM runs WHERE name = 'r1') AND name = 'lr'"
    ),
    "metric as integer": (
        "UPDATE latest_metrics SET value = 5 "
        "WHERE run_key = (SELECT key FROM runs WHERE name = 'r1')"
    ),
    "metric as numeric text": (
        "UPDATE latest_metrics SET value = '0.5' "
        "WHERE run_key = (SELECT key FROM runs WHERE name = 'r1')"
    ),
    "metric as text": (
        "UPDATE latest_metrics SET value = 'high' "
        "WHERE run_key = (SELECT key FROM runs WHERE name = 'r1')"
    ),
    "metric infinite": (
        "UPDATE latest_metrics SET value = 1e999 "
        "WHERE run_key = (SELECT key FROM runs WHERE name = 'r1')"
    ),
    "label not JSON": (
        "INSERT INTO labels (run_key, name, value) "
        "SELECT key, 'bad', '{not json' FROM runs WHERE name = 'r1'"
    ),
    "label nested very deep": (
        "INSERT INTO labels (run_key, name, value) "
        "SELECT key, 'deep', printf('%.5000c', '[') || printf('%.5000c', ']') "
        "FROM runs WHERE name = 'r1'"
    ),
    "label NaN": (
        "INSERT INTO labels (run_key, name, value) "
        "SELECT key, 'nan', 'NaN' FROM runs WHERE name = 'r1'"
    ),
    "label as blob": (
        "INSERT INTO labels (run_key, name, value) "
        "SELECT key, 'b', x'00' FROM runs WHERE name = 'r1'"
    ),
}


def runs_with_details(path: Path) -> None:
    """Six runs of scenario s, two of t: parameters, tags, a label and metrics."""
    for scenario, count in (("s", 6), ("t", 2)):
        sdk = MLTrackingSDK(db_path=path, scenario=scenario, pipeline="p.py")
        try:
            for index in range(count):
                sdk.start_run(run_collection_name="ab"[index % 2], run_name=f"r{index}")
                sdk.log_parameters({"lr": str(index / 10), "opt": "adam"})
                sdk.set_tags({"dataset": f"v{index % 2}"})
                sdk.set_labels({"notes": {"index": index}})
                sdk.log_metric("m", index / 10)
                sdk.end_run()
        finally:
            close_quietly(sdk)


@pytest.fixture(scope="module")
def detailed_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("break-it-reads") / "runs.db"
    runs_with_details(path)
    return path


def caught(read: Callable[[], Any]) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught_warnings:
        warnings.simplefilter("always")
        result = read()
    return result, [str(warning.message) for warning in caught_warnings]


SELECTIONS: list[tuple[dict[str, Any], RunFilter]] = [
    ({"scenario": "s"}, RunFilter(scenarios=("s",))),
    ({"scenario": ["s", "t"]}, RunFilter(scenarios=("s", "t"))),
    (
        {"scenario": "s", "tags": {"dataset": "v1"}},
        RunFilter(scenarios=("s",), tags=(("dataset", "v1"),)),
    ),
    ({"scenario": "nowhere"}, RunFilter(scenarios=("nowhere",))),
]


@pytest.mark.parametrize("script", FORGED_FIELDS.values(), ids=FORGED_FIELDS.keys())
def test_a_whole_read_equals_the_run_by_run_read(
    detailed_once: Path, tmp_path: Path, script: str
) -> None:
    path = tmp_path / "runs.db"
    shutil.copy(detailed_once, path)
    edited(path, script)
    sdk = MLTrackingSDK(db_path=path, scenario="s", pipeline="p.py")
    try:
        for selectors, selection in SELECTIONS:
            runs, run_warnings = caught(partial(sdk.get_runs, **selectors))
            expected, expected_warnings = caught(
                partial(runs_from_records, sdk.store.select_runs(selection))
            )
            assert list(runs) == expected
            assert run_warnings == expected_warnings
            frame, frame_warnings = caught(partial(sdk.runs_frame, **selectors))
            pd.testing.assert_frame_equal(frame, runs_frame(list(runs)))
            assert frame_warnings == expected_warnings
        searched, _ = caught(
            lambda: sdk.search_runs("params.opt = 'adam'", ["metrics.m DESC"], scenario="s")
        )
        frame, _ = caught(
            lambda: sdk.runs_frame(
                scenario="s", filter_string="params.opt = 'adam'", order_by=["metrics.m DESC"]
            )
        )
        pd.testing.assert_frame_equal(frame, runs_frame(list(searched)))
    finally:
        close_quietly(sdk)


def test_a_live_running_run_reads_alike(detailed_once: Path, tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    shutil.copy(detailed_once, path)
    sdk = MLTrackingSDK(db_path=path, scenario="s", pipeline="p.py")
    try:
        live = sdk.start_run(run_collection_name="a", run_name="live")
        sdk.persist_run()
        runs = sdk.get_runs(scenario="s")
        assert list(runs) == runs_from_records(sdk.store.select_runs(SELECTIONS[0][1]))
        assert [run.status for run in runs if run.id == live.id] == ["RUNNING"]
        pd.testing.assert_frame_equal(sdk.runs_frame(scenario="s"), runs_frame(list(runs)))
        sdk.end_run()
    finally:
        close_quietly(sdk)


# ---------------------------------------------------------------- the collector


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize("interrupted", ["select_run_columns", "run_fields_from_columns"])
def test_an_interrupted_whole_read_leaves_the_collector_as_found(
    detailed_once: Path,
    monkeypatch: pytest.MonkeyPatch,
    enabled: bool,
    interrupted: str,
) -> None:
    sdk = MLTrackingSDK(db_path=detailed_once, scenario="s", pipeline="p.py")
    was_enabled = gc.isenabled()

    def interrupt(*arguments: Any, **keywords: Any) -> Any:
        raise KeyboardInterrupt

    try:
        (gc.enable if enabled else gc.disable)()
        if interrupted == "select_run_columns":
            monkeypatch.setattr(sdk.store, "select_run_columns", interrupt)
        else:
            monkeypatch.setattr(reading_module, "run_fields_from_columns", interrupt)
            monkeypatch.setattr(reading_module, "runs_from_columns", interrupt)
        for read in (sdk.get_runs, sdk.runs_frame):
            with pytest.raises(KeyboardInterrupt):
                read(scenario="s")
            assert gc.isenabled() is enabled
    finally:
        (gc.enable if was_enabled else gc.disable)()
        close_quietly(sdk)


def test_a_read_of_a_file_spoilt_between_reads_leaves_the_collector_on(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    runs_with_details(path)
    sdk = MLTrackingSDK(db_path=path, scenario="s", pipeline="p.py")
    try:
        assert len(sdk.get_runs(scenario="s")) == 6
        sdk.close()
        path.write_bytes(b"not a database at all" * 1000)
        assert gc.isenabled()
        for read in (sdk.get_runs, sdk.runs_frame):
            with pytest.raises(sapdi_local.errors.StorageError):
                read(scenario="s")
            assert gc.isenabled()
    finally:
        close_quietly(sdk)


def test_two_threads_reading_at_once_read_alike_and_leave_the_collector_on(
    detailed_once: Path,
) -> None:
    sdk = MLTrackingSDK(db_path=detailed_once, scenario="s", pipeline="p.py")
    expected = list(sdk.get_runs(scenario=["s", "t"]))
    results: list[Any] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(20):
                results.append(list(sdk.get_runs(scenario=["s", "t"])))
                results.append(sdk.runs_frame(scenario=["s", "t"]).shape)
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)

    try:
        assert gc.isenabled()
        threads = [threading.Thread(target=read) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert all(result in (expected, (len(expected), result[1])) for result in results)
        assert gc.isenabled()
    finally:
        close_quietly(sdk)
