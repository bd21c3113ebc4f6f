"""The kept run counts per (scenario, collection) of migration 0006 (issue 15): after every
write that adds, deletes or re-files runs they equal the runs counted one by one, a file
of schema 5 is counted when migrated and the long way when only read, counts another tool
wrote out of range are not read, and a lowered count never hides the page read beside it.

Speed is measured in benchmarks/scaling.py, not here: these tests check the plan (the
total of a collection page reads run_counts, no index of runs) and the answers.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_on, close_quietly, edited
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sapdi_local import MLTrackingSDK
from sapdi_local.store import (
    ImportedRun,
    ReadOnlyStore,
    RunFilter,
    import_runs,
    merge_from,
    search_run_records,
)
from sapdi_local.store.schema import MIGRATIONS, SCHEMA_VERSION, apply_migrations

FIXTURES = Path(__file__).parent / "fixtures"
COUNTED = (
    "SELECT scenario, collection, COUNT(*) "
    "FROM runs GROUP BY scenario, collection ORDER BY scenario, collection"
)
KEPT = "SELECT scenario, collection, runs FROM run_counts ORDER BY scenario, collection"


def kept_and_counted(path: Path) -> tuple[list[Any], list[Any]]:
    """The rows of run_counts, and the same numbers counted from runs, in one snapshot."""
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.execute("BEGIN")
            return connection.execute(KEPT).fetchall(), connection.execute(COUNTED).fetchall()
    finally:
        connection.close()


def assert_exact(path: Path) -> list[Any]:
    kept, counted = kept_and_counted(path)
    assert kept == counted
    return kept


def cli(db: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    result = cli_on(db, *arguments)
    assert result.returncode == 0, result.stderr
    return result


def imported(
    run_id: str, collection: str, scenario: str | None, start: float | None
) -> ImportedRun:
    """A run as an import brings it: scenario and start time may be missing."""
    return ImportedRun(
        row={
            "id": run_id,
            "name": run_id,
            "collection": collection,
            "collection_is_default": 0,
            "scenario": scenario,
            "status": "FINISHED",
            "start_time": start,
            "end_time": None if start is None else start + 1,
        },
        parameters={"p": "1"},
        tags={},
        labels={},
        metrics={"m": [(1, 0.5, 0, 1.7e9)]},
    )


def write_runs(path: Path, plan: list[tuple[str, str | None]]) -> list[str]:
    """Runs started and ended by the SDK, one per (scenario, collection) of ``plan`` (a
    collection None is the pipeline's default one); their ids."""
    sdks: dict[str, MLTrackingSDK] = {}
    ids = []
    try:
        for scenario, collection in plan:
            if scenario not in sdks:
                sdks[scenario] = MLTrackingSDK(db_path=path, scenario=scenario, pipeline="p.py")
            sdk = sdks[scenario]
            ids.append(sdk.start_run(run_collection_name=collection).id)
            sdk.log_metric("m", float(len(ids)))
            sdk.end_run()
    finally:
        for sdk in sdks.values():
            close_quietly(sdk)
    return ids


# ---------------------------------------------------------------- every write path

OPERATIONS = st.one_of(
    st.tuples(st.just("start"), st.sampled_from(["s", "t"]), st.sampled_from([None, "a", "b"])),
    st.tuples(
        st.just("import"),
        st.sampled_from([None, "s"]),
        st.sampled_from(["a", "c"]),
        st.sampled_from([None, 1.6e9, 1.9e9]),
    ),
    st.tuples(st.just("refile"), st.integers(0, 30), st.sampled_from(["a", "b", "c", "p.py"])),
    st.tuples(st.just("replace"), st.integers(0, 30), st.sampled_from(["a", "d"])),
    st.tuples(st.just("delete"), st.integers(0, 30)),
    st.tuples(st.just("merge"), st.sampled_from(["s", "u"])),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(OPERATIONS, min_size=1, max_size=14))
def test_kept_counts_equal_the_runs_after_any_sequence_of_writes(
    operations: list[tuple[Any, ...]],
) -> None:
    with tempfile.TemporaryDirectory(prefix="sapdi-run-counts-") as scratch:
        path = Path(scratch) / "runs.db"
        sdks = {
            scenario: MLTrackingSDK(db_path=path, scenario=scenario, pipeline="p.py")
            for scenario in ("s", "t")
        }
        ids: list[str] = []
        imports: list[ImportedRun] = []
        try:
            sdks["s"].store.connection()  # made and migrated on first use
            for number, operation in enumerate(operations):
                kind = operation[0]
                if kind == "start":
                    sdk = sdks[operation[1]]
                    ids.append(sdk.start_run(run_collection_name=operation[2]).id)
                    sdk.end_run()
                elif kind == "import":
                    _, scenario, collection, start = operation
                    run = imported(f"imported{number:04d}", collection, scenario, start)
                    assert import_runs(sdks["s"].store, [run]).added == [run.row["id"]]
                    imports.append(run)
                    ids.append(run.row["id"])
                elif kind == "refile" and ids:
                    run_id = ids[operation[1] % len(ids)]
                    sdks["s"].update_run_info(run=run_id, run_collection_name=operation[2])
                    sdks["s"].persist_run()
                elif kind == "replace" and imports:
                    run = imports[operation[1] % len(imports)]
                    replacement = imported(run.row["id"], operation[2], "r", 1.8e9)
                    report = import_runs(sdks["t"].store, [replacement], replace=True)
                    assert run.row["id"] in report.replaced + report.unchanged + report.added
                elif kind == "delete" and ids:
                    run_id = ids.pop(operation[1] % len(ids))
                    imports = [run for run in imports if run.row["id"] != run_id]
                    assert sdks["t"].delete_runs(run=run_id) == 1
                elif kind == "merge":
                    other = Path(scratch) / f"other{number}.db"
                    ids.extend(write_runs(other, [(operation[1], "a"), (operation[1], None)]))
                    theirs = ReadOnlyStore(other)
                    try:
                        assert len(merge_from(sdks["s"].store, theirs).added) == 2
                    finally:
                        theirs.close()
                assert_exact(path)
        finally:
            for sdk in sdks.values():
                close_quietly(sdk)


def test_the_command_line_keeps_the_counts_exact(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    ids = write_runs(path, [("s", "a"), ("s", None), ("t", "a"), ("t", "b"), ("s", "a")] * 3)
    assert len(assert_exact(path)) == 4
    cli(path, "delete", "--run", ids[0], "--yes")
    assert_exact(path)
    cli(path, "delete", "--where", "collection = 'b'", "--yes")
    assert ("t", "b") not in [(row[0], row[1]) for row in assert_exact(path)]
    cli(path, "gc")
    assert_exact(path)
    other = tmp_path / "other.db"
    write_runs(other, [("u", "a"), ("s", "a")])
    cli(path, "merge", str(other))
    assert_exact(path)
    before = sum(row[2] for row in assert_exact(path))
    cli(path, "import", "trackio", str(FIXTURES / "trackio" / "demo.db"))
    assert sum(row[2] for row in assert_exact(path)) > before
    in_a = sum(row[2] for row in assert_exact(path) if row[1] == "a")
    exported = tmp_path / "some.db"
    cli(path, "export", str(exported), "--format", "db", "--where", "collection = 'a'")
    kept = assert_exact(exported)
    assert {row[1] for row in kept} == {"a"} and sum(row[2] for row in kept) == in_a == 10
    everything = tmp_path / "all.db"
    cli(path, "export", str(everything), "--format", "db")
    assert assert_exact(everything) == assert_exact(path)
    listed = json.loads(cli(path, "collections", "--json").stdout)
    assert sum(item["runs"] for item in listed) == sum(row[2] for row in assert_exact(path))


def test_a_collection_emptied_by_re_filing_its_runs_leaves_no_row(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    ids = write_runs(path, [("s", "a"), ("s", "a"), ("s", "b")])
    sdk = MLTrackingSDK(db_path=path, scenario="s", pipeline="p.py")
    try:
        for run_id in ids[:2]:
            sdk.update_run_info(run=run_id, run_collection_name="b")
        sdk.update_run_info(run=ids[2], run_collection_name="b")  # where it already is
        sdk.persist_run()
    finally:
        close_quietly(sdk)
    assert assert_exact(path) == [("s", "b", 3)]


def test_an_imported_run_without_notebook_or_pipeline_is_re_filed(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    sdk = MLTrackingSDK(db_path=path, scenario="s", pipeline="p.py")
    try:
        import_runs(sdk.store, [imported("i1", "a", None, None)])
        sdk.update_run_info(run="i1", run_collection_name="p.py")  # ended: persisted now
        (run,) = sdk.get_runs(run="i1")
        assert (run.collection, run.collection_is_default) == ("p.py", False)
    finally:
        close_quietly(sdk)
    assert assert_exact(path) == [(None, "p.py", 1)]


# ---------------------------------------------------------------- older files


def schema_5_file(path: Path) -> None:
    """A file of the release before migration 0006, as its writers leave one: a NULL
    scenario (imported), a start time missing, default and named collections."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN")
    apply_migrations(connection, up_to=5)
    rows = [
        (key, f"id{key:04d}", f"r{key}", collection, is_default, scenario, start)
        for key, (collection, is_default, scenario, start) in enumerate(
            [
                ("p.py", 1, "s", 1.7e9),
                ("p.py", 1, "s", 1.7e9 + 5),
                ("a", 0, "s", 1.7e9 + 1),
                ("a", 0, None, 1.7e9 + 2),
                ("a", 0, None, None),
                ("b", 0, None, None),
                ("a", 0, "t", 1.7e9 + 3),
                ("5", 0, "", 1.7e9 + 4),
            ]
            * 40,
            start=1,
        )
    ]
    connection.executemany(
        "INSERT INTO runs (key, id, name, collection, collection_is_default, scenario, status, "
        "start_time) VALUES (?, ?, ?, ?, ?, ?, 'FINISHED', ?)",
        rows,
    )
    connection.execute("COMMIT")
    connection.close()


def user_version(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        return int(connection.execute("PRAGMA user_version").fetchone()[0])
    finally:
        connection.close()


def test_a_schema_5_file_is_counted_by_the_migration(tmp_path: Path) -> None:
    assert MIGRATIONS[5][0] == "0006_run_counts" and SCHEMA_VERSION == 6
    path = tmp_path / "v5.db"
    schema_5_file(path)
    reader = ReadOnlyStore(path)  # a reader never migrates: no kept counts, counted the long way
    try:
        before = (reader.counts(), reader.collections())
        assert before[0] == {"scenarios": 3, "collections": 6, "runs": 320, "values": 0}
        assert search_run_records(reader, "collection = 'a'", [], 5)[0] == 160
        assert search_run_records(reader, "scenario IS NULL", [], 5)[0] == 120
    finally:
        reader.close()
    assert user_version(path) == 5
    sdk = MLTrackingSDK(db_path=path, scenario="s", pipeline="p.py")
    try:
        sdk.store.connection()  # a writer migrates on opening
    finally:
        close_quietly(sdk)
    assert user_version(path) == SCHEMA_VERSION
    kept = assert_exact(path)
    assert (None, "a", 80) in kept and (None, "b", 40) in kept
    assert ("s", "p.py", 80) in kept
    reader = ReadOnlyStore(path)
    try:
        assert (reader.counts(), reader.collections()) == before
    finally:
        reader.close()
    connection = sqlite3.connect(path)
    names = [name for (name,) in connection.execute("SELECT name FROM _sqlite_migrations")]
    connection.close()
    assert names.count("0006_run_counts") == 1


def test_a_file_of_the_first_release_is_counted_by_the_migrations(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    shutil.copy(FIXTURES / "schema-v1.db", path)
    write_runs(path, [("s", "later")])
    assert sum(row[2] for row in assert_exact(path)) > 1


def test_a_table_named_run_counts_in_a_schema_5_file_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    schema_5_file(path)
    edited(
        path,
        "CREATE TABLE run_counts (scenario TEXT, collection TEXT, runs INTEGER); "
        "INSERT INTO run_counts VALUES ('s', 'a', 1);",
    )
    reader = ReadOnlyStore(path)
    try:
        assert reader.counts()["runs"] == 320
        assert search_run_records(reader, "collection = 'a'", [], 5)[0] == 160
    finally:
        reader.close()


# ---------------------------------------------------------------- counts another tool wrote


@pytest.fixture
def collection_file(tmp_path: Path) -> Iterator[Path]:
    """30 runs in collection a, 10 in b, 5 in the default collection, scenario s."""
    path = tmp_path / "runs.db"
    write_runs(path, [("s", "a")] * 30 + [("s", "b")] * 10 + [("s", None)] * 5)
    yield path


def summaries(path: Path) -> tuple[Any, ...]:
    reader = ReadOnlyStore(path)
    try:
        return (
            reader.counts(),
            reader.collections(),
            search_run_records(reader, "collection = 'a'", [], 10)[0],
            search_run_records(reader, None, [], 10)[0],
            search_run_records(reader, "collection = 'b'", [], 5, 5)[0],
        )
    finally:
        reader.close()


@pytest.mark.parametrize(
    "forged",
    [
        "UPDATE run_counts SET runs = 'many' WHERE collection = 'a'",
        "UPDATE run_counts SET runs = -3 WHERE collection = 'a'",
        "UPDATE run_counts SET runs = 2.5 WHERE collection = 'a'",
        "UPDATE run_counts SET runs = x'00' WHERE collection = 'a'",
        # Whole, but past what the float sums of counts hold exactly.
        "UPDATE run_counts SET runs = 9007199254740993 WHERE collection = 'a'",
        "UPDATE run_counts SET runs = 9223372036854775807 WHERE collection = 'a'",
    ],
)
def test_counts_out_of_range_are_counted_the_long_way(collection_file: Path, forged: str) -> None:
    honest = summaries(collection_file)
    assert honest[0] == {"scenarios": 1, "collections": 3, "runs": 45, "values": 45}
    assert honest[2:] == (30, 45, 10)
    edited(collection_file, forged)
    assert summaries(collection_file) == honest


@pytest.mark.parametrize("script", ["UPDATE run_counts SET runs = 1", "DELETE FROM run_counts"])
def test_a_lowered_count_never_hides_the_page_read(collection_file: Path, script: str) -> None:
    edited(collection_file, script)
    reader = ReadOnlyStore(collection_file)
    try:
        for limit, offset in [(10, 0), (10, 10), (10, 25), (7, 28), (100, 0)]:
            total, page = search_run_records(reader, "collection = 'a'", [], limit, offset)
            shown = min(limit, 30 - offset)
            assert len(page) == shown
            assert total >= offset + shown
            if shown < limit:  # the last page: the matches end there
                assert total == 30
    finally:
        reader.close()


@pytest.mark.parametrize(
    "script",
    [
        "UPDATE run_counts SET runs = 1000 WHERE collection = 'a'",
        "DELETE FROM runs WHERE collection = 'a' AND rowid % 3 = 0",
    ],
)
def test_a_raised_count_is_corrected_by_the_page_that_ends_the_runs(
    collection_file: Path, script: str
) -> None:
    """A count higher than the runs (raised, or runs deleted by another tool) promises more
    pages; the page that ends the runs, full or not, or an empty one past them, says the
    truth."""
    edited(collection_file, script)
    connection = sqlite3.connect(collection_file)
    (real,) = connection.execute("SELECT COUNT(*) FROM runs WHERE collection = 'a'").fetchone()
    connection.close()
    reader = ReadOnlyStore(collection_file)
    try:
        total, page = search_run_records(reader, "collection = 'a'", [], 10)
        assert len(page) == 10 and total > 10
        # The full page that ends the runs, a short one, and empty ones past them.
        for offset in (real - 10, real - 5, real, real + 10):
            total, page = search_run_records(reader, "collection = 'a'", [], 10, offset)
            assert len(page) == max(0, real - offset)
            assert total == real
    finally:
        reader.close()


# ---------------------------------------------------------------- which searches read them


def statements_of(reader: ReadOnlyStore, *arguments: Any, **options: Any) -> list[str]:
    """The statements a search runs, as SQLite traced them."""
    statements: list[str] = []
    connection = reader.connection()
    connection.set_trace_callback(statements.append)
    try:
        search_run_records(reader, *arguments, **options)
    finally:
        connection.set_trace_callback(None)
    return statements


def count_plans(reader: ReadOnlyStore, *arguments: Any, **options: Any) -> list[str]:
    """The statements that count a search's matches, each with its query plan."""
    connection = reader.connection()
    return [
        statement
        + " => "
        + " | ".join(row[-1] for row in connection.execute(f"EXPLAIN QUERY PLAN {statement}"))
        for statement in statements_of(reader, *arguments, **options)
        if statement.startswith(("SELECT COUNT(*)", "SELECT TOTAL("))
    ]


@pytest.mark.parametrize(
    ("expression", "selection", "total"),
    [
        ("collection = 'a'", None, 30),
        ("scenario = 's' and collection IN ('a', 'b')", None, 40),
        ("collection = 'p.py'", None, 5),
        (None, None, 45),
        (None, RunFilter(collections=("a",)), 30),
        ("collection = 'a'", RunFilter(scenarios=("s",)), 30),
        ("scenario = 'elsewhere'", None, 0),
    ],
)
def test_the_total_of_a_collection_page_reads_the_kept_counts(
    collection_file: Path, expression: str | None, selection: RunFilter | None, total: int
) -> None:
    reader = ReadOnlyStore(collection_file)
    try:
        (plan,) = count_plans(reader, expression, [], 20, base_selection=selection)
        assert " FROM run_counts AS runs " in plan and "idx_runs" not in plan, plan
        found, page = search_run_records(reader, expression, [], 20, base_selection=selection)
        assert found == total and len(page) == min(20, total)
    finally:
        reader.close()


@pytest.mark.parametrize(
    ("expression", "selection", "total"),
    [
        ("collection = 'a' and metrics.m > 10", None, 20),
        ("collection = 'p.py (Default)'", None, 5),  # the hint sits beside the condition
        ("not collection = 'a'", None, 15),
        ("collection = 'a'", RunFilter(names=("nobody",)), 0),
        (None, RunFilter(collections=("a",), started_after=0.0), 30),
    ],
)
def test_other_searches_count_their_matches(
    collection_file: Path, expression: str | None, selection: RunFilter | None, total: int
) -> None:
    reader = ReadOnlyStore(collection_file)
    try:
        plans = count_plans(reader, expression, [], 20, base_selection=selection)
        assert plans and all("run_counts" not in plan for plan in plans), plans
        assert search_run_records(reader, expression, [], 20, base_selection=selection)[0] == total
    finally:
        reader.close()


def test_kept_totals_equal_counted_totals_for_every_pair_selection(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    schema_5_file(path)
    write_runs(path, [("s", "a"), ("u", "b")])  # migrates, then counts as it writes
    reader = ReadOnlyStore(path)
    connection = sqlite3.connect(path)
    try:
        for expression, where in [
            ("collection = 'a'", "collection = 'a'"),
            ("collection IN ('a', 'b', 'zz')", "collection IN ('a', 'b', 'zz')"),
            ("scenario = ''", "scenario = ''"),
            ("collection = '5'", "collection = '5'"),
            ("scenario = 's' and collection = 'p.py'", "scenario = 's' AND collection = 'p.py'"),
            ("scenario IN ('t', 'u')", "scenario IN ('t', 'u')"),
            (None, "1"),
        ]:
            (counted,) = connection.execute(f"SELECT COUNT(*) FROM runs WHERE {where}").fetchone()
            assert search_run_records(reader, expression, [], 3)[0] == counted, expression
    finally:
        connection.close()
        reader.close()
