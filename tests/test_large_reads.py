"""Reads that stay cheap as a file grows (issue 15): pages walked in an index, the count of
stored values kept as rows change, column names found without reading every run, and text
decoded in C until a file holds text that is not UTF-8.

Speed is measured in benchmarks/scaling.py, not here. These tests check what makes it: the
plans SQLite chooses (an index walked in order, no sort of every match) and that each
shortcut gives exactly the answer of the plain way.
"""

from __future__ import annotations

import itertools
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import close_quietly

from sapdi_local import MLTrackingSDK
from sapdi_local.store import ReadOnlyStore, RunFilter, merge_from, search_run_records
from sapdi_local.store import reading as reading_module
from sapdi_local.store import search as search_module
from sapdi_local.store.schema import MIGRATIONS, SCHEMA_VERSION, apply_migrations

FIXTURES = Path(__file__).parent / "fixtures"
CONTEXT: dict[str, Any] = {
    "scenario": "s",
    "scenario_version": "v7",
    "pipeline": "train.py",
    "execution": "e1",
}


def make_runs(path: Path) -> list[str]:
    """60 runs in three collections (one default), a third without the metric, ties in the
    metric and in start times, some values trimmed past the 1000-value window."""
    sdk = MLTrackingSDK(db_path=path, **CONTEXT)
    ids = []
    try:
        for index in range(60):
            collection = ("train.py", "sweep", "other")[index % 3]
            started = sdk.start_run(run_collection_name=collection, run_name=f"r{index}")
            sdk.log_parameters({"lr": str(index % 5 / 10), "opt": ("adam", "sgd")[index % 2]})
            if index % 4:
                sdk.set_tags({"group": str(index % 7)})
            if index % 3 != 1:
                sdk.log_metric("accuracy", (index % 6) / 10)  # ties: six values only
            if index == 5:
                for step in range(1100):
                    sdk.log_metric("loss", step * 1.0)
            ids.append(started.id)
            sdk.end_run()
    finally:
        close_quietly(sdk)
    return ids


def write_a_run(path: Path) -> None:
    sdk = MLTrackingSDK(db_path=path, **CONTEXT)
    try:
        sdk.start_run(run_collection_name="later")
        sdk.end_run()
    finally:
        close_quietly(sdk)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ReadOnlyStore]:
    path = tmp_path / "runs.db"
    make_runs(path)
    reader = ReadOnlyStore(path)
    yield reader
    reader.close()


def ids_of(records: list[Any]) -> list[str]:
    return [record.row["id"] for record in records]


EXPRESSIONS = [
    None,
    "collection = 'sweep'",
    "collection IN ('sweep', 'other')",
    "collection = 'train.py (Default)'",
    "collection = 'train.py'",
    "scenario = 's' and collection = 'sweep'",
    "scenario = 'nowhere'",
    "collection = 'sweep' and params.opt = 'adam'",
    "collection = 'sweep' and metrics.accuracy > 0.2",
    "not collection = 'sweep'",
    "collection = 'sweep' or tags.group = '3'",
]
ORDERS = [
    [],
    ["start_time DESC"],
    ["start_time ASC"],
    ["metrics.accuracy DESC"],
    ["metrics.accuracy ASC"],
    ["metrics.accuracy DESC", "params.lr ASC"],
    ["metrics.missing DESC"],
    ["params.lr DESC"],
]


def test_a_page_by_a_metric_walked_in_its_index_is_the_page_a_sort_gives(
    store: ReadOnlyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = {}
    for expression, order in itertools.product(EXPRESSIONS, ORDERS):
        expected[str(expression), str(order)] = search_run_records(store, expression, order)
    monkeypatch.setattr(search_module, "_METRIC_WALK_FROM", 0)  # always walk the index
    for expression, order in itertools.product(EXPRESSIONS, ORDERS):
        total, everything = expected[str(expression), str(order)]
        for limit, offset in [(1, 0), (7, 0), (7, 14), (25, 30), (100, 0), (5, 200), (3, 38)]:
            page_total, page = search_run_records(store, expression, order, limit, offset)
            assert page_total == total, (expression, order, limit, offset)
            wanted = ids_of(everything)[offset : offset + limit]
            assert ids_of(page) == wanted, (expression, order, limit, offset)


def test_index_hints_select_exactly_what_the_conditions_select(
    store: ReadOnlyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_hints = {
        (str(e), str(o)): search_run_records(store, e, o, 11, 2)
        for e, o in itertools.product(EXPRESSIONS, ORDERS)
    }
    monkeypatch.setattr(search_module, "_index_hints", lambda tree: ([], tree))
    for expression, order in itertools.product(EXPRESSIONS, ORDERS):
        assert (
            search_run_records(store, expression, order, 11, 2)
            == with_hints[str(expression), str(order)]
        ), (expression, order)


def plans(store: ReadOnlyStore, expression: str, order: list[str], limit: int) -> list[str]:
    """The query plans of the statements a search runs to count and to page, from SQLite."""
    statements: list[str] = []
    connection = store.connection()
    connection.set_trace_callback(statements.append)
    try:
        search_run_records(store, expression, order, limit)
    finally:
        connection.set_trace_callback(None)
    found = []
    for statement in statements:
        if statement.startswith(("SELECT COUNT(*) FROM runs", "SELECT TOTAL(", "SELECT runs.*")):
            rows = connection.execute(f"EXPLAIN QUERY PLAN {statement}").fetchall()
            found.append(" | ".join(row[-1] for row in rows))
    return found


def test_a_first_page_walks_an_index_in_its_order_and_sorts_nothing(
    store: ReadOnlyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    selection = "scenario = 's' and collection = 'sweep'"
    count, page = plans(store, selection, [], 10)
    # A whole collection is counted from the kept counts (tests/test_run_counts.py), when
    # they say more runs follow the page.
    assert "idx_run_counts_pair" in count and "idx_runs" not in count, count
    assert "idx_runs_scenario_collection_start" in page and "TEMP B-TREE" not in page
    # Any other condition counts the matching runs, in the index of their collection.
    count, page = plans(store, f"{selection} and name LIKE 'r%'", [], 20)
    assert "INDEX idx_runs_scenario_collection_start" in count, count
    assert "idx_runs_scenario_collection_start" in page and "TEMP B-TREE" not in page
    _, page = plans(store, "collection = 'sweep'", ["start_time DESC"], 10)
    assert "idx_runs_collection_start" in page and "TEMP B-TREE" not in page
    monkeypatch.setattr(search_module, "_METRIC_WALK_FROM", 0)
    by_metric = plans(store, selection, ["metrics.accuracy DESC"], 20)[1]
    # The runs with the metric in the order of its index; ties broken by a small sort.
    assert by_metric.startswith("SEARCH k0 USING INDEX idx_latest_metrics_name_value"), by_metric


def test_the_count_of_stored_values_follows_every_change(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    ids = make_runs(path)

    def kept_and_counted(db: Path) -> tuple[int, int]:
        connection = sqlite3.connect(db)
        kept = connection.execute(
            "SELECT value FROM stored_counts WHERE name = 'metric_values'"
        ).fetchone()[0]
        counted = connection.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
        connection.close()
        return kept, counted

    kept, counted = kept_and_counted(path)
    assert kept == counted == 40 + 1000  # 40 accuracy values, loss trimmed to its window
    sdk = MLTrackingSDK(db_path=path, **CONTEXT)
    try:
        assert sdk.delete_runs(run=ids[5]) == 1
        assert kept_and_counted(path) == (39, 39)
    finally:
        close_quietly(sdk)
    copy = tmp_path / "copy.db"
    reader = ReadOnlyStore(path)
    reader.export_copy(copy, keep_runs=ids[:9])
    assert reader.counts()["values"] == 39
    reader.close()
    assert kept_and_counted(copy) == (5, 5)  # runs 0 to 8 but 5, with accuracy: 0 2 3 6 8
    other = tmp_path / "other.db"
    make_runs(other)
    target = MLTrackingSDK(db_path=copy)
    theirs = ReadOnlyStore(other)
    try:
        merge_from(target.store, theirs)
    finally:
        theirs.close()
        close_quietly(target)
    assert kept_and_counted(copy) == (5 + 1040, 5 + 1040)


def test_an_older_file_is_counted_when_migrated_and_the_long_way_when_only_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v4.db"
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN")
    apply_migrations(connection, up_to=4)  # a file of the release before 0005
    connection.execute(
        "INSERT INTO runs (key, id, name, collection, collection_is_default, status) "
        "VALUES (1, 'a1', 'a', 'c', 0, 'FINISHED')"
    )
    connection.executemany(
        "INSERT INTO metrics (run_key, name, seq, timestamp, value) VALUES (1, 'm', ?, 0, 0)",
        [(seq,) for seq in (1, 2, 3)],
    )
    connection.execute("COMMIT")
    connection.close()
    reader = ReadOnlyStore(path)  # a reader never migrates: no kept count yet
    assert reader.counts()["values"] == 3
    reader.close()
    write_a_run(path)  # a writer migrates
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert connection.execute("SELECT value FROM stored_counts").fetchone()[0] == 3
    indexes = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    connection.close()
    assert [name for name, _ in MIGRATIONS[4:]] == ["0005_page_indexes", "0006_run_counts"]
    assert {"idx_runs_scenario_collection_start", "idx_latest_metrics_name_value"} <= indexes
    assert "idx_runs_scenario_collection" not in indexes
    # A file from the first release takes every migration, the count included.
    first = tmp_path / "v1.db"
    shutil.copy(FIXTURES / "schema-v1.db", first)
    write_a_run(first)
    connection = sqlite3.connect(first)
    kept = connection.execute("SELECT value FROM stored_counts").fetchone()[0]
    assert kept == connection.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] > 0
    connection.close()


@pytest.mark.parametrize("few", [10_000, 0])
def test_column_names_are_those_of_the_selected_runs(
    store: ReadOnlyStore, monkeypatch: pytest.MonkeyPatch, few: int
) -> None:
    monkeypatch.setattr(reading_module, "_FEW_RUNS", few)  # rows read, or names' index walked
    everything = store.column_names(RunFilter())
    assert everything == {
        "parameters": ["lr", "opt"],
        "metrics": ["accuracy", "loss"],
        "tags": ["group"],
    }
    # Collection "sweep" holds runs 1, 4, 7...: none has a metric. Run 5 alone has "loss".
    assert store.column_names(RunFilter(collections=("sweep",)))["metrics"] == []
    assert store.column_names(RunFilter(collections=("other",)))["metrics"] == ["accuracy", "loss"]
    assert store.column_names(RunFilter(collections=("train.py",)))["metrics"] == ["accuracy"]
    assert store.column_names(RunFilter(scenarios=("nowhere",))) == {
        "parameters": [],
        "metrics": [],
        "tags": [],
    }


def test_text_is_decoded_in_c_until_a_file_holds_text_that_is_not_utf8(
    store: ReadOnlyStore,
) -> None:
    assert len(store.select_runs(RunFilter())) == 60
    assert store.decoding_leniently is False
    with sqlite3.connect(store.path) as connection:
        connection.execute("UPDATE runs SET name = CAST(x'66ff6f' AS TEXT) WHERE name = 'r3'")
    names = {record.row["name"] for record in store.select_runs(RunFilter())}
    assert "f\ufffdo" in names and store.decoding_leniently is True
    _, page = search_run_records(ReadOnlyStore(store.path), "name LIKE 'f%'", [], 10)
    assert [record.row["name"] for record in page] == ["f\ufffdo"]


def test_a_stored_run_becomes_a_run_field_by_field(store: ReadOnlyStore) -> None:
    """runs_from_records builds Runs by position, fast: each field lands where it belongs."""
    from sapdi_local.model import utc_from_seconds
    from sapdi_local.records import runs_from_records

    records = store.select_runs(RunFilter())
    for record, run in zip(records, runs_from_records(records), strict=True):
        row = record.row
        start, end = utc_from_seconds(row["start_time"]), utc_from_seconds(row["end_time"])
        assert start is not None and end is not None
        assert run._asdict() == {
            "id": row["id"],
            "name": row["name"],
            "collection": row["collection"],
            "collection_is_default": bool(row["collection_is_default"]),
            "scenario": row["scenario"],
            "scenario_version": row["scenario_version"],
            "notebook": row["notebook"],
            "pipeline": row["pipeline"],
            "execution": row["execution"],
            "status": row["status"],
            "start_time": start,
            "end_time": end,
            "parameters": {**record.parameters, "start": start.isoformat(), "end": end.isoformat()},
            "tags": {**record.tags, "runName": row["name"]},
            "labels": {},
            "metrics": record.metrics,
            "unreadable": (),
        }
