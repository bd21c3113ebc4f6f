"""A last round of attacks on the kept run counts and on whole reads made a column at a
time, past those of test_break_it_counts_and_reads.py: forged counts against the page sorted
by a metric's index (thousands of runs), runs re-filed between collections by processes at
once, count tables another tool constrained, a runs table whose keys repeat, frames against
the run-by-run builder they replaced, and the collector's pause across a fork.

The two attacks that got through (a runs table whose keys repeat read differently by
different readers, a forked child's collector left off) are tests that pass now.
"""

from __future__ import annotations

import gc
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import closing, suppress
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import child_environment, cli_on, close_quietly, edited

from sapdi_local import MLTrackingSDK
from sapdi_local.collector import collector_paused
from sapdi_local.errors import StorageError
from sapdi_local.model import Run
from sapdi_local.store import ReadOnlyStore, RunFilter, search_run_records
from sapdi_local.store.schema import COUNT_EVERY_RUN

COUNTED = (
    "SELECT scenario, collection, COUNT(*) FROM runs "
    "GROUP BY scenario, collection ORDER BY scenario, collection"
)
KEPT = "SELECT scenario, collection, runs FROM run_counts ORDER BY scenario, collection"


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


# ---------------------------------------------------------------- a page sorted by a metric

# Past the count from which a page sorted by a metric walks that metric's index
# (search._METRIC_WALK_FROM), which a count read from run_counts decides.
MANY_RUNS = 2_600


@pytest.fixture(scope="module")
def many_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,601 runs in collections a and b of scenarios s and t, four in five with metric m
    (values repeating, so that ties are broken by the rest of the order); counts exact."""
    path = tmp_path_factory.mktemp("final-round") / "many.db"
    sdk = MLTrackingSDK(db_path=path, scenario="s", pipeline="p.py")
    try:
        sdk.start_run(run_collection_name="a")
        sdk.log_metric("m", 1.0)
        sdk.end_run()
    finally:
        close_quietly(sdk)
    connection = sqlite3.connect(path)
    try:
        connection.executemany(
            "INSERT INTO runs (id, name, collection, collection_is_default, scenario, status, "
            "start_time) VALUES (?, ?, ?, 0, ?, 'FINISHED', ?)",
            [
                (f"id{n}", f"r{n}", "ab"[n % 2], "s" if n % 3 else "t", 1.7e9 + n)
                for n in range(MANY_RUNS)
            ],
        )
        connection.execute(
            "INSERT INTO latest_metrics (run_key, name, seq, step, timestamp, value) "
            "SELECT key, 'm', 1, 0, 1.7e9, (key * 7919) % 1000 FROM runs "
            "WHERE key % 5 <> 0 AND key > 1"
        )
        connection.execute("DELETE FROM run_counts")
        connection.execute(COUNT_EVERY_RUN)
        connection.commit()
    finally:
        connection.close()
    return path


def every_match(path: Path, expression: str | None, order: Sequence[str]) -> list[str]:
    with closing(ReadOnlyStore(path)) as reader:
        _, records = search_run_records(reader, expression, list(order), None, 0)
    return [record.row["id"] for record in records]


PAGE_FORGERIES = {
    "honest": "",
    "every count a thousand times too high": "UPDATE run_counts SET runs = runs * 1000",
    "every count 1": "UPDATE run_counts SET runs = 1",
    "collection a past the metric walk": "UPDATE run_counts SET runs = 2000 WHERE collection='a'",
}


@pytest.mark.parametrize("script", PAGE_FORGERIES.values(), ids=PAGE_FORGERIES.keys())
@pytest.mark.parametrize("order", [["metrics.m DESC"], ["metrics.m"], []], ids=str)
@pytest.mark.parametrize("expression", ["collection = 'a'", None], ids=str)
def test_pages_sorted_by_a_metric_hold_the_same_runs_whatever_the_kept_counts_say(
    many_runs: Path, tmp_path: Path, script: str, order: list[str], expression: str | None
) -> None:
    """The kept count picks the index walk or the sort and is checked by one row past the
    page: every page holds the runs a full read puts there, and its total never ends the
    list early (exact once no more runs follow)."""
    expected = every_match(many_runs, expression, order)
    path = tmp_path / "forged.db"
    shutil.copy(many_runs, path)
    edited(path, script)
    matches = len(expected)
    pages = [(10, 0), (100, matches - 5), (50, matches), (7, matches * 4 // 5), (1, matches - 1)]
    with closing(ReadOnlyStore(path)) as reader:
        for limit, offset in pages:
            total, records = search_run_records(reader, expression, order, limit, offset)
            ids = [record.row["id"] for record in records]
            assert ids == expected[offset : offset + limit], (limit, offset)
            if offset + len(ids) < matches:
                assert total > offset + len(ids), (limit, offset, total)
            else:
                assert total == matches, (limit, offset, total)


def test_a_selection_by_scenario_and_a_search_by_collection_total_exactly(
    many_runs: Path,
) -> None:
    """A base selection's scenarios and a search's collections read the kept counts of the
    pairs both select, not of either alone."""
    with closing(ReadOnlyStore(many_runs)) as reader:
        total, _ = search_run_records(
            reader, "collection = 'b'", [], 5, 0, RunFilter(scenarios=("t",))
        )
    connection = sqlite3.connect(many_runs)
    try:
        (counted,) = connection.execute(
            "SELECT COUNT(*) FROM runs WHERE scenario = 't' AND collection = 'b'"
        ).fetchone()
    finally:
        connection.close()
    assert total == counted


# ---------------------------------------------------------------- re-filing writers at once

REFILER = """
import sys
from sapdi_local import MLTrackingSDK
path, scenario, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
sdk = MLTrackingSDK(db_path=path, scenario=scenario, pipeline="p.py")
for index in range(rounds):
    sdk.start_run(run_collection_name="a")
    sdk.log_metric("m", float(index))
    for collection in ("b", "p.py", "c", "a" if index % 2 else "b"):
        sdk.update_run_info(run_collection_name=collection)
        sdk.persist_run()
    sdk.end_run()
    if index % 3 == 2:
        sdk.delete_runs(run=sdk.get_runs(scenario=scenario)[-1].id)
sdk.close()
"""


@pytest.mark.slow
def test_counts_stay_exact_under_processes_re_filing_and_deleting_runs_at_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs.db"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", REFILER, str(path), scenario, "6"],
            env=child_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for scenario in ("s", "s", "t")
    ]
    for child in children:
        _, error = child.communicate(timeout=300)
        assert child.returncode == 0, error
    kept, counted = kept_and_counted(path)
    assert kept == counted
    assert sum(row[2] for row in kept) == 3 * (6 - 2)


# ---------------------------------------------------------------- count tables constrained

# Each with the scenario of a new run in collection a that breaks the constraint.
CONSTRAINED_COUNTS = {
    "a unique index on collection alone": (
        "DROP INDEX idx_run_counts_pair; CREATE UNIQUE INDEX u ON run_counts (collection)",
        "t",
    ),
    "a CHECK on the count": (
        "DROP TABLE run_counts; CREATE TABLE run_counts (scenario TEXT, collection TEXT NOT "
        "NULL, runs INTEGER NOT NULL CHECK (runs < 2)); INSERT INTO run_counts VALUES "
        "('s', 'a', 1)",
        "s",
    ),
}


@pytest.mark.parametrize(
    ("script", "scenario"), CONSTRAINED_COUNTS.values(), ids=CONSTRAINED_COUNTS.keys()
)
def test_a_count_table_another_tool_constrained_stops_a_write_with_a_storage_error(
    tmp_path: Path, script: str, scenario: str
) -> None:
    """No crash, no half write: the error names the file and the constraint, and the runs
    stay as they were."""
    path = tmp_path / "runs.db"
    sdk = MLTrackingSDK(db_path=path, scenario="s", pipeline="p.py")
    try:
        sdk.start_run(run_collection_name="a")
        sdk.end_run()
    finally:
        close_quietly(sdk)
    edited(path, script)
    before = kept_and_counted(path)[1]
    other = MLTrackingSDK(db_path=path, scenario=scenario, pipeline="p.py")
    try:
        with pytest.raises(StorageError, match="constraint failed") as raised:
            other.start_run(run_collection_name="a")
            other.end_run()
        assert str(path) in str(raised.value)
    finally:
        close_quietly(other)
    assert kept_and_counted(path)[1] == before


# ---------------------------------------------------------------- a runs table made again


def test_runs_whose_keys_repeat_read_alike_in_every_reader(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    sdk = MLTrackingSDK(db_path=path, scenario="s", pipeline="p.py")
    try:
        for index in range(3):
            sdk.start_run(run_collection_name="a", run_name=f"r{index}")
            sdk.log_parameters({"lr": str(index)})
            sdk.end_run()
    finally:
        close_quietly(sdk)
    edited(
        path,
        """
        CREATE TABLE runs_again AS SELECT * FROM runs;
        DROP TABLE runs;
        ALTER TABLE runs_again RENAME TO runs;
        CREATE UNIQUE INDEX idx_runs_id ON runs (id);
        CREATE INDEX idx_runs_scenario_collection ON runs (scenario, collection);
        CREATE INDEX idx_runs_start_time ON runs (start_time);
        UPDATE runs SET key = 1;
        """,
    )
    reader = MLTrackingSDK(db_path=path, scenario="s", pipeline="p.py")
    try:
        # The file is refused as damaged, by every reader, before any of them lists a run.
        for read in (
            lambda: reader.get_runs(scenario="s"),
            lambda: reader.search_runs(None, scenario="s"),
            lambda: reader.runs_frame(scenario="s"),
        ):
            with pytest.raises(StorageError, match="runs table is not keyed by runs.key"):
                read()
    finally:
        close_quietly(reader)
    result = cli_on(path, "runs", "--json")
    assert result.returncode == 2 and "not keyed by runs.key" in result.stderr, result.stderr


# ---------------------------------------------------------------- frames as they were


def frame_run_by_run(runs: Sequence[Run]) -> Any:
    """The frame as runs_frame made it before frames were made a column at a time: a dict
    per run, columns in groups sorted by name, parameters made numbers where all are."""
    first = (
        "run_id",
        "name",
        "scenario",
        "scenario_version",
        "collection",
        "notebook",
        "pipeline",
        "execution",
        "status",
        "start_time",
        "end_time",
        "duration_seconds",
    )
    rows: list[dict[str, Any]] = []
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
            "duration_seconds": (
                None
                if run.start_time is None or run.end_time is None
                else (run.end_time - run.start_time).total_seconds()
            ),
        }
        row.update(
            (f"params.{k}", v) for k, v in run.parameters.items() if k not in ("start", "end")
        )
        row.update((f"tags.{k}", v) for k, v in run.tags.items() if k != "runName")
        row.update((f"metrics.{k}", v) for k, v in run.metrics.items())
        rows.append(row)
    groups = ("params.", "tags.", "metrics.")
    names = sorted(
        {name for row in rows for name in row} - set(first),
        key=lambda name: (groups.index(name.split(".")[0] + "."), name),
    )
    frame = pd.DataFrame(rows, columns=[*first, *names])
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True, errors="coerce")
    for column in frame.columns:
        if column.startswith("params."):
            with suppress(ValueError, TypeError):
                frame[column] = pd.to_numeric(frame[column])
    return frame


FRAME_EDITS = {
    "as written": "",
    "start at the last time pandas holds, no end": (
        "UPDATE runs SET start_time = 9214646400.0, end_time = NULL WHERE name = 'r0'"
    ),
    "no start": "UPDATE runs SET start_time = NULL WHERE name = 'r0'",
    "no times at all": "UPDATE runs SET start_time = NULL, end_time = NULL",
    "end before start": "UPDATE runs SET end_time = start_time - 3600 WHERE name = 'r1'",
}


@pytest.fixture(scope="module")
def mixed_fields(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three runs whose parameters, tags and metrics each only some runs have: numbers,
    words, 'nan', 'inf' and 'True' as parameter values."""
    path = tmp_path_factory.mktemp("final-round-frames") / "mixed.db"
    sdk = MLTrackingSDK(db_path=path, scenario="s", pipeline="p.py")
    try:
        sdk.start_run(run_collection_name="a", run_name="r0")
        sdk.log_parameters({"lr": "0.1", "opt": "adam", "n": "1"})
        sdk.set_tags({"t": "x"})
        sdk.log_metric("m", 1.0)
        sdk.end_run()
        sdk.start_run(run_collection_name="a", run_name="r1")
        sdk.log_parameters({"lr": "abc", "k": "1e5"})
        sdk.log_metric("z", 2.0)
        sdk.end_run()
        sdk.start_run(run_collection_name="b", run_name="r2")
        sdk.log_parameters({"n": "2", "b": "True", "nan": "nan", "inf": "inf"})
        sdk.end_run()
    finally:
        close_quietly(sdk)
    return path


@pytest.mark.parametrize("script", FRAME_EDITS.values(), ids=FRAME_EDITS.keys())
@pytest.mark.parametrize(
    "selectors",
    [{"scenario": "s"}, {"scenario": "nowhere"}, {"scenario": "s", "tags": {"t": "x"}}],
    ids=str,
)
def test_a_frame_equals_the_frame_made_run_by_run(
    mixed_fields: Path, tmp_path: Path, script: str, selectors: dict[str, Any]
) -> None:
    path = tmp_path / "runs.db"
    shutil.copy(mixed_fields, path)
    edited(path, script)
    sdk = MLTrackingSDK(db_path=path, scenario="s", pipeline="p.py")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = sdk.runs_frame(**selectors)
            expected = frame_run_by_run(list(sdk.get_runs(**selectors)))
    finally:
        close_quietly(sdk)
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)


# ---------------------------------------------------------------- the collector and fork


@pytest.fixture
def collector_as_found() -> Iterator[None]:
    was_enabled = gc.isenabled()
    yield
    (gc.enable if was_enabled else gc.disable)()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_during_a_pause_in_another_thread_runs_the_collector(
    collector_as_found: None,
) -> None:
    gc.enable()
    inside, release = threading.Event(), threading.Event()

    def pause_until_released() -> None:
        with collector_paused():
            inside.set()
            release.wait(60)

    thread = threading.Thread(target=pause_until_released)
    thread.start()
    try:
        assert inside.wait(60)
        read_end, write_end = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads
            pid = os.fork()
        if pid == 0:  # the child: a pause of its own, then whether the collector runs
            try:
                with collector_paused():
                    pass
                os.write(write_end, b"1" if gc.isenabled() else b"0")
            finally:
                os._exit(0)
        os.close(write_end)
        _, status = os.waitpid(pid, 0)
        answer = os.read(read_end, 1)
        os.close(read_end)
    finally:
        release.set()
        thread.join(60)
    assert os.waitstatus_to_exitcode(status) == 0
    assert gc.isenabled()
    assert answer == b"1"
