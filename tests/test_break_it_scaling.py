"""Attacks on the large-file reads (issue 15) and the package layout (issue 16), kept as
regression tests: each checks a shortcut against the plain answer, or a path a user or a
hostile file takes, on real files and real processes.

- Pages of a file past the index-walk threshold, against a sort in Python of ``get_runs``:
  default collections beside collections literally named "X (Default)", scenarios NULL,
  runs lacking the metric, ties in values and start times, the largest finite values.
- The kept count of stored values against ``COUNT(*)`` after concurrent writers and writers
  killed mid-persist (processes), merges with conflicts and refused runs, deletes and gc.
- Files of schema 4: read without migrating, migrated once by writers opening together.
- Files edited by hand: the count's table dropped or made a view, its row deleted.
- Text that is not UTF-8 read through the command line and its exports.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import child_environment, cli_on, close_quietly, edited

from sapdi_local import MLTrackingSDK
from sapdi_local.errors import StorageError
from sapdi_local.store import ReadOnlyStore, RunFilter, search_run_records
from sapdi_local.store import search as search_module
from sapdi_local.store.counts import recount_runs
from sapdi_local.store.schema import SCHEMA_VERSION, apply_migrations

# The folder holding the package these tests import, which child processes import too.
# More runs than the threshold at which a page sorted by a metric walks the metric's index.
RUNS = search_module._METRIC_WALK_FROM + 120
# Values with ties, signed zeros and the largest finite doubles.
VALUES = (0.0, -0.0, 1.0, 1.0, 0.5, -1e308, 1.7976931348623157e308, -1.7976931348623157e308, 3.0)


def stored_and_kept(path: Path) -> tuple[int, int]:
    """The kept count of stored metric values, and the values counted one by one."""
    connection = sqlite3.connect(path)
    try:
        (kept,) = connection.execute(
            "SELECT value FROM stored_counts WHERE name = 'metric_values'"
        ).fetchone()
        (counted,) = connection.execute("SELECT COUNT(*) FROM metrics").fetchone()
    finally:
        connection.close()
    return int(kept), int(counted)


# ---------------------------------------------------------------- pages of a large file


@pytest.fixture(scope="module")
def large_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RUNS runs from two SDKs (scenario s, pipeline X; scenario t, pipeline other), in the
    default collections X and other, a collection named "X (Default)" literally, Y, and a
    non-default X; a quarter lack metric m; then, as older imports leave them, every 11th
    run's scenario NULL and every 13th run started at the same time as the first."""
    path = tmp_path_factory.mktemp("large") / "runs.db"
    first = MLTrackingSDK(db_path=path, scenario="s", pipeline="X")
    second = MLTrackingSDK(db_path=path, scenario="t", pipeline="other")
    try:
        for index in range(RUNS):
            sdk = first if index % 2 == 0 else second
            collection = (None, "X", "X (Default)", "Y", None)[index % 5]
            sdk.start_run(run_collection_name=collection, run_name=f"r{index}")
            if index % 4 != 3:
                sdk.log_metric("m", VALUES[index * 7 % len(VALUES)])
            if index % 7 == 0:
                sdk.log_metric("n", float(index % 50))
            sdk.log_parameters({"p": str(index % 3)})
            sdk.end_run()
    finally:
        close_quietly(first)
        close_quietly(second)
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("UPDATE runs SET scenario = NULL WHERE key % 11 = 0")
        connection.execute(
            "UPDATE runs SET start_time = (SELECT MIN(start_time) FROM runs) WHERE key % 13 = 0"
        )
        # Runs so left were counted when the file was migrated to the kept run counts.
        recount_runs(connection)
    connection.close()
    return path


def python_order(path: Path, chosen: Any, metric: str | None, descending: bool) -> list[str]:
    """The ids of the runs ``chosen`` picks, sorted in Python as the search promises: by
    the metric (runs lacking it last), ties newest first (start time, then key)."""
    connection = sqlite3.connect(path)
    raw = {
        i: (key, start)
        for i, key, start in connection.execute("SELECT id, key, start_time FROM runs")
    }
    connection.close()
    sdk = MLTrackingSDK(db_path=path)
    try:
        runs = [run for run in sdk.get_runs(run=sorted(raw)) if chosen(run)]
    finally:
        close_quietly(sdk)

    def newest_first(run: Any) -> tuple[bool, float, int]:
        key, start = raw[run.id]
        return (start is None, -(start or 0.0), -key)

    runs.sort(key=newest_first)
    if metric is not None:
        having = [run for run in runs if metric in run.metrics]
        lacking = [run for run in runs if metric not in run.metrics]
        having.sort(key=lambda run: run.metrics[metric], reverse=descending)  # stable: ties stay
        runs = having + lacking
    return [run.id for run in runs]


SELECTIONS: list[tuple[str | None, Any]] = [
    (None, lambda run: True),
    ("collection = 'X'", lambda run: run.collection == "X"),
    # Both X's default runs (shown "X (Default)") and the collection literally so named.
    (
        "collection = 'X (Default)'",
        lambda run: "X (Default)" in (run.collection, run.collection_display_name),
    ),
    (
        "collection IN ('other (Default)', 'Y')",
        lambda run: run.collection_display_name in ("other (Default)", "Y"),
    ),
    ("scenario IN ('t', 's')", lambda run: run.scenario in ("t", "s")),
    ("scenario IS NULL", lambda run: run.scenario is None),
]
ORDERS: list[tuple[str | None, bool]] = [
    (None, True),
    ("m", True),
    ("m", False),
    ("n", True),
    ("n", False),
    ("absent", False),
]


@pytest.mark.parametrize("walk_from", [search_module._METRIC_WALK_FROM, 0])
def test_pages_of_a_large_file_are_those_of_a_sort_in_python(
    large_file: Path, monkeypatch: pytest.MonkeyPatch, walk_from: int
) -> None:
    monkeypatch.setattr(search_module, "_METRIC_WALK_FROM", walk_from)
    store = ReadOnlyStore(large_file)
    try:
        for (expression, chosen), (metric, descending) in itertools.product(SELECTIONS, ORDERS):
            order = [f"metrics.{metric} {'DESC' if descending else 'ASC'}"] if metric else []
            wanted = python_order(large_file, chosen, metric, descending)
            total, everything = search_run_records(store, expression, order)
            assert total == len(wanted), (expression, order)
            assert [record.row["id"] for record in everything] == wanted, (expression, order)
            pages = [
                (1, 0),
                (200, 0),
                (200, 1_900),
                (50, max(0, len(wanted) - 25)),
                (7, len(wanted)),
            ]
            for limit, offset in pages:
                total, page = search_run_records(store, expression, order, limit, offset)
                assert total == len(wanted), (expression, order, limit, offset)
                ids = [record.row["id"] for record in page]
                assert ids == wanted[offset : offset + limit], (expression, order, limit, offset)
    finally:
        store.close()


CONDITIONS = [
    "metrics.m > 0",
    "metrics.m IS NULL",
    "not metrics.m = 3",
    "metrics.n > 5 or metrics.m < 1",
    "metrics.m >= -1e308 and collection = 'X (Default)'",
]
SORTS = [
    ["metrics.m ASC", "metrics.n DESC"],
    ["metrics.m DESC", "name ASC"],
    ["metrics.m DESC", "metrics.m ASC"],
]


def test_a_walked_page_under_conditions_on_its_own_metric_is_the_sorted_page(
    large_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ReadOnlyStore(large_file)
    try:
        for expression, order, selection in itertools.product(
            CONDITIONS, SORTS, [None, RunFilter(scenarios=("s",))]
        ):
            monkeypatch.setattr(search_module, "_METRIC_WALK_FROM", 10**9)  # never walk
            total, everything = search_run_records(store, expression, order, None, 0, selection)
            wanted = [record.row["id"] for record in everything]
            monkeypatch.setattr(search_module, "_METRIC_WALK_FROM", 0)  # always walk
            for limit, offset in [(1, 0), (37, 1_000), (500, 1_800), (10, len(wanted) + 5)]:
                page_total, page = search_run_records(
                    store, expression, order, limit, offset, selection
                )
                assert page_total == total, (expression, order, limit, offset)
                ids = [record.row["id"] for record in page]
                assert ids == wanted[offset : offset + limit], (expression, order, limit, offset)
    finally:
        store.close()


# ---------------------------------------------------------------- the kept count

WRITER = """
import sys
from sapdi_local import MLTrackingSDK
path, tag, runs, values = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sdk = MLTrackingSDK(db_path=path, scenario="w", pipeline=tag, cache_limit_bytes=200_000)
for number in range(runs):
    sdk.start_run(run_name=f"{tag}-{number}")
    for step in range(values):
        sdk.log_metric("a", float(step))
        sdk.log_metric("b", float(-step))
        if step % 500 == 0:
            sdk.persist_run()
    sdk.end_run()
print("started", flush=True)
"""


def writers(path: Path, tags: list[str], runs: int, values: int) -> list[subprocess.Popen[str]]:
    script = path.parent / "writer.py"
    script.write_text(textwrap.dedent(WRITER))
    return [
        subprocess.Popen(
            [sys.executable, str(script), str(path), tag, str(runs), str(values)],
            env=child_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in tags
    ]


def test_concurrent_writers_past_the_window_keep_the_count(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    processes = writers(path, ["A", "B", "C"], 2, 1_600)  # 1,600 values: trimmed to 1,000
    for process in processes:
        _, error = process.communicate(timeout=300)
        assert process.returncode == 0, error
    kept, counted = stored_and_kept(path)
    assert kept == counted == 3 * 2 * 2 * 1_000


def test_writers_killed_mid_persist_leave_the_count_right(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    for round_number in range(4):
        processes = writers(path, [f"K{round_number}a", f"K{round_number}b"], 4, 3_000)
        # Killed whenever they are: before, during or after any persist, the count is right.
        time.sleep(0.5 + round_number * 0.4)
        for process in processes:
            process.send_signal(signal.SIGKILL)
        for process in processes:
            process.communicate(timeout=120)
        if path.exists():
            kept, counted = stored_and_kept(path)
            assert kept == counted, round_number


def test_merge_with_conflicts_and_refused_runs_delete_and_gc_keep_the_count(
    tmp_path: Path,
) -> None:
    mine, theirs = tmp_path / "mine.db", tmp_path / "theirs.db"
    for process in writers(mine, ["P"], 3, 1_200):
        assert process.wait(timeout=300) == 0
    theirs.write_bytes(mine.read_bytes())
    for process in writers(theirs, ["Q"], 2, 700):
        assert process.wait(timeout=300) == 0
    connection = sqlite3.connect(theirs)
    with connection:
        # A conflict (a run of both files that differs) and a run refused by the rules.
        connection.execute("UPDATE metrics SET value = value + 1 WHERE run_key = 1 AND seq = 600")
        connection.execute(
            "UPDATE metrics SET value = 'oops' WHERE seq = 500 AND run_key = "
            "(SELECT key FROM runs WHERE name = 'Q-0')"
        )
    connection.close()
    merged = cli_on(mine, "merge", str(theirs), "--json")
    assert merged.returncode == 0, merged.stderr
    report = json.loads(merged.stdout)
    assert len(report["conflicts"]) == 1 and len(report["skipped"]) == 1
    assert stored_and_kept(mine) == (3 * 2 * 1_000 + 2 * 700, 3 * 2 * 1_000 + 2 * 700)
    deleted = cli_on(mine, "delete", "--where", "name = 'P-1'", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert cli_on(mine, "gc").returncode == 0
    assert stored_and_kept(mine) == (2 * 2 * 1_000 + 2 * 700, 2 * 2 * 1_000 + 2 * 700)
    exported = tmp_path / "some.db"
    assert cli_on(mine, "export", str(exported), "--where", "name = 'P-0'").returncode == 0
    assert stored_and_kept(exported) == (2_000, 2_000)


# ---------------------------------------------------------------- older and edited files


def schema_4_file(path: Path, runs: int) -> None:
    """A file of the release before migration 0005, with ``runs`` runs of two values each."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN")
    apply_migrations(connection, up_to=4)
    connection.executemany(
        "INSERT INTO runs (key, id, name, collection, collection_is_default, scenario, status, "
        "start_time, end_time) VALUES (?, ?, ?, ?, ?, 's', 'FINISHED', ?, ?)",
        [
            (k, f"id{k:06d}", f"r{k}", "cd"[k % 2], k % 2, 1.7e9 + k, 1.7e9 + k + 1)
            for k in range(1, runs + 1)
        ],
    )
    connection.executemany(
        "INSERT INTO metrics (run_key, name, seq, timestamp, value) VALUES (?, 'm', ?, 0, ?)",
        [(k, seq, k + seq) for k in range(1, runs + 1) for seq in (1, 2)],
    )
    connection.executemany(
        "INSERT INTO latest_metrics (run_key, name, seq, timestamp, value) "
        "VALUES (?, 'm', 2, 0, ?)",
        [(k, k + 2.0) for k in range(1, runs + 1)],
    )
    connection.executemany(
        "INSERT INTO parameters (run_key, name, value) VALUES (?, 'p', ?)",
        [(k, str(k % 4)) for k in range(1, runs + 1)],
    )
    connection.execute("COMMIT")
    connection.close()


def user_version(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        return int(connection.execute("PRAGMA user_version").fetchone()[0])
    finally:
        connection.close()


def test_a_schema_4_file_is_read_searched_and_counted_without_a_migration(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v4.db"
    schema_4_file(path, 2_500)
    store = ReadOnlyStore(path)
    try:
        assert store.counts() == {"scenarios": 1, "collections": 2, "runs": 2_500, "values": 5_000}
        assert store.column_names(RunFilter()) == {
            "parameters": ["p"],
            "metrics": ["m"],
            "tags": [],
        }
        total, page = search_run_records(store, "collection = 'c'", ["metrics.m DESC"], 3)
        assert total == 1_250
        assert [record.row["id"] for record in page] == ["id002500", "id002498", "id002496"]
    finally:
        store.close()
    shown = cli_on(path, "runs", "--where", "metrics.m > 10", "--limit", "2", "--json")
    assert shown.returncode == 0, shown.stderr
    assert [run["id"] for run in json.loads(shown.stdout)] == ["id002500", "id002499"]
    assert user_version(path) == 4  # read, never migrated


OPENER = """
import sys
from sapdi_local import MLTrackingSDK
sdk = MLTrackingSDK(db_path=sys.argv[1], scenario="s", pipeline="p")
sdk.start_run(run_name="writer")
sdk.log_metric("m", 1.0)
sdk.end_run()
sdk.close()
"""


def test_writers_opening_a_schema_4_file_together_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "v4.db"
    schema_4_file(path, 3_000)
    script = tmp_path / "opener.py"
    script.write_text(textwrap.dedent(OPENER))
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), str(path)],
            env=child_environment(),
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for process in processes:
        _, error = process.communicate(timeout=300)
        assert process.returncode == 0, error
    assert user_version(path) == SCHEMA_VERSION
    connection = sqlite3.connect(path)
    names = [name for (name,) in connection.execute("SELECT name FROM _sqlite_migrations")]
    connection.close()
    assert names.count("0005_page_indexes") == 1
    assert stored_and_kept(path) == (6_000 + 4, 6_000 + 4)


@pytest.fixture
def small_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "runs.db"
    sdk = MLTrackingSDK(db_path=path, scenario="s", pipeline="p")
    try:
        for index in range(5):
            sdk.start_run(run_collection_name="c", run_name=f"r{index}")
            sdk.log_parameters({"lr": "0.1", "opt": "adam"})
            sdk.set_tags({"g": "x"})
            sdk.log_metric("acc", index / 10)
            sdk.end_run()
    finally:
        close_quietly(sdk)
    yield path


@pytest.mark.parametrize(
    "script",
    [
        "DROP TABLE stored_counts",
        "DROP TABLE stored_counts; CREATE VIEW stored_counts AS "
        "SELECT 'metric_values' AS name, 7 AS value",
        "DROP TABLE stored_counts; CREATE TABLE stored_counts (name TEXT PRIMARY KEY)",
    ],
)
def test_a_file_whose_count_table_was_replaced_is_refused_with_a_clear_error(
    small_file: Path, script: str
) -> None:
    edited(small_file, script)
    with pytest.raises(StorageError, match="stored_counts"):
        ReadOnlyStore(small_file).counts()
    shown = cli_on(small_file, "where")
    assert shown.returncode == 2 and "stored_counts" in shown.stderr
    assert "Traceback" not in shown.stderr


def test_a_file_whose_count_row_was_deleted_is_counted_the_long_way(small_file: Path) -> None:
    edited(small_file, "DELETE FROM stored_counts")
    store = ReadOnlyStore(small_file)
    try:
        assert store.counts()["values"] == 5
    finally:
        store.close()
    sdk = MLTrackingSDK(db_path=small_file, scenario="s", pipeline="p")
    try:
        sdk.start_run()
        sdk.log_metric("acc", 1.0)
        sdk.end_run()
    finally:
        close_quietly(sdk)
    store = ReadOnlyStore(small_file)
    try:
        assert store.counts()["values"] == 6
    finally:
        store.close()


# ---------------------------------------------------------------- text that is not UTF-8

NOT_UTF8 = """
UPDATE runs SET name = CAST(x'66ff6f' AS TEXT) WHERE name = 'r1';
UPDATE parameters SET value = CAST(x'c328' AS TEXT) WHERE run_key = 2 AND name = 'opt';
UPDATE parameters SET name = CAST(x'6c72fe' AS TEXT) WHERE run_key = 3 AND name = 'lr';
UPDATE tags SET value = CAST(x'80' AS TEXT) WHERE run_key = 4;
UPDATE runs SET collection = CAST(x'63ff' AS TEXT) WHERE key = 5;
"""


def test_every_command_shows_text_that_is_not_utf8_with_a_replacement(
    small_file: Path, tmp_path: Path
) -> None:
    edited(small_file, NOT_UTF8)
    connection = sqlite3.connect(small_file)
    ids = [run_id for (run_id,) in connection.execute("SELECT id FROM runs ORDER BY key")]
    connection.close()
    commands = [
        ["where"],
        ["collections"],
        ["runs"],
        ["runs", "--json"],
        ["runs", "--collection", "c", "--json"],
        ["runs", "--where", "name LIKE 'f%'"],
        ["runs", "--order-by", "metrics.acc DESC", "--metric", "acc"],
        ["show", ids[1]],
        ["show", ids[2], "--json"],
        ["compare", ids[1], ids[2], ids[4]],
        ["export", str(tmp_path / "out.json"), "--format", "json"],
        ["export", str(tmp_path / "csv"), "--format", "csv"],
        ["export", str(tmp_path / "copy.db")],
    ]
    for command in commands:
        result = cli_on(small_file, *command)
        assert result.returncode == 0, (command, result.stderr)
        assert "Traceback" not in result.stderr, command
    assert "\ufffd" in cli_on(small_file, "runs", "--json").stdout
    assert "f\ufffdo" in (tmp_path / "out.json").read_text(encoding="utf-8")
    assert "c\ufffd" in (tmp_path / "csv" / "runs.csv").read_text(encoding="utf-8")


def test_an_export_of_no_runs_writes_empty_files(small_file: Path, tmp_path: Path) -> None:
    nobody = ["--where", "name = 'nobody'"]
    assert (
        cli_on(
            small_file, "export", str(tmp_path / "none.json"), "--format", "json", *nobody
        ).returncode
        == 0
    )
    assert json.loads((tmp_path / "none.json").read_text()) == {"runs": [], "metrics": []}
    assert (
        cli_on(small_file, "export", str(tmp_path / "none"), "--format", "csv", *nobody).returncode
        == 0
    )
    assert (tmp_path / "none" / "metrics.csv").read_text().splitlines() == [
        "run_id,metric,step,value,timestamp"
    ]
    assert cli_on(small_file, "export", str(tmp_path / "none.db"), *nobody).returncode == 0
    assert stored_and_kept(tmp_path / "none.db") == (0, 0)


# ---------------------------------------------------------------- the layout


def test_the_tracking_module_imports_nothing_heavy() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import sapdi_local.tracking; import sapdi"],
        capture_output=True,
        text=True,
        env=child_environment(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()}
    assert not imported & {"click", "sqlite_utils", "pandas", "plotly", "numpy"}


def test_every_command_has_help_through_python_dash_m() -> None:
    commands = [
        [], ["check"], ["collections"], ["compare"], ["delete"], ["export"], ["gc"],
        ["history"], ["import"], ["import", "mlflow"], ["import", "trackio"], ["merge"],
        ["push"], ["runs"], ["show"], ["submit"], ["ui"], ["where"],
    ]  # fmt: skip
    for command in commands:
        result = subprocess.run(
            [sys.executable, "-m", "sapdi_local", *command, "--help"],
            capture_output=True,
            text=True,
            env=child_environment(),
            timeout=120,
        )
        assert result.returncode == 0 and result.stdout.startswith("Usage:"), command


# ---- found by trying to break it, then fixed


@pytest.mark.parametrize("value", ["'abc'", "x'00ff'"])
def test_a_count_that_is_not_a_number_is_an_error_not_a_traceback(
    small_file: Path, value: str
) -> None:
    edited(small_file, f"UPDATE stored_counts SET value = {value}")
    shown = cli_on(small_file, "where")
    assert "Traceback" not in shown.stderr, shown.stderr[-300:]


def test_ilike_reads_a_file_with_text_that_is_not_utf8(small_file: Path) -> None:
    edited(small_file, "UPDATE runs SET name = CAST(x'66ff6f' AS TEXT) WHERE name = 'r1'")
    store = ReadOnlyStore(small_file)
    total, page = search_run_records(store, "name ILIKE 'F%'", [], 10)
    assert [record.row["name"] for record in page] == ["f\ufffdo"]


def big_file(path: Path) -> None:
    connection = sqlite3.connect(path)
    from sapdi_local.store.schema import apply_migrations

    connection.isolation_level = None
    connection.execute("BEGIN")
    apply_migrations(connection)
    connection.executemany(
        "INSERT INTO runs (key, id, name, collection, collection_is_default, scenario, status, "
        "start_time) VALUES (?, ?, ?, 'c', 0, 's', 'FINISHED', ?)",
        [(k, f"id{k}", f"r{k}", 1.7e9 + k) for k in range(1, 20001)],
    )
    connection.executemany(
        "INSERT INTO metrics (run_key, name, seq, timestamp, value) VALUES (?, 'm', ?, 0, ?)",
        [(k, s, float(s)) for k in range(1, 20001) for s in range(1, 41)],
    )
    connection.executemany(
        "INSERT INTO latest_metrics (run_key, name, seq, timestamp, value) "
        "VALUES (?, 'm', 40, 0, 40)",
        [(k,) for k in range(1, 20001)],
    )
    connection.execute("UPDATE stored_counts SET value = 800000")
    recount_runs(connection)
    connection.execute("COMMIT")
    connection.close()


def interrupted_export(db: Path, target: Path, fmt: str, sig: signal.Signals, *extra: str) -> str:
    """Start an export, wait until it writes metrics, send ``sig``; its stderr."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sapdi_local",
            "--db",
            str(db),
            "export",
            str(target),
            "--format",
            fmt,
            *extra,
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=child_environment(),
    )
    assert process.stderr is not None
    seen = ""
    while "metrics" not in seen:
        line = process.stderr.readline()
        assert line, seen
        seen += line
    time.sleep(0.3)
    process.send_signal(sig)
    return seen + process.stderr.read() + str(process.wait(timeout=120))


def test_an_interrupted_csv_export_never_pairs_new_runs_with_old_metrics(
    small_file: Path, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    assert cli_on(small_file, "export", str(target), "--format", "csv").returncode == 0
    before = {name: (target / name).read_bytes() for name in ("runs.csv", "metrics.csv")}
    db = tmp_path / "big.db"
    big_file(db)
    interrupted_export(db, target, "csv", signal.SIGINT, "--replace")
    after = {name: (target / name).read_bytes() for name in ("runs.csv", "metrics.csv")}
    # Either the old export whole, or the new one whole.
    assert after == before or after["metrics.csv"] != before["metrics.csv"], (
        "runs.csv new, metrics.csv old"
    )


def test_sigint_during_a_json_export_prints_no_traceback(tmp_path: Path) -> None:
    db = tmp_path / "big.db"
    big_file(db)
    stderr = interrupted_export(db, tmp_path / "out.json", "json", signal.SIGINT)
    assert "Traceback" not in stderr, stderr


def test_sigterm_during_an_export_leaves_no_partial_file(tmp_path: Path) -> None:
    db = tmp_path / "big.db"
    big_file(db)
    out = tmp_path / "out"
    out.mkdir()
    interrupted_export(db, out / "out.json", "json", signal.SIGTERM)
    assert os.listdir(out) == []


def test_partial_files_of_a_killed_export_are_removed_by_the_next_one(tmp_path: Path) -> None:
    from sapdi_local.files import _host, new_text_file

    host = _host()
    # A process that held a partial file and was killed: its pid is gone.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=60)
    target = tmp_path / "out.json"
    left = tmp_path / f".out.json.{host}.{gone.pid}-0.partial"
    left.write_text("half an export")
    journal = tmp_path / f".out.json.{host}.{gone.pid}-0.partial-journal"
    journal.write_text("SQLite's journal of a killed database export")
    kept = {
        # a process that still runs (another export under way)
        tmp_path / f".out.json.{host}.{os.getppid()}-0.partial": "under way",
        # another machine's, sharing the folder: its process ids mean nothing here
        tmp_path / f".out.json.elsewhere.{gone.pid}-0.partial": "another machine",
        # another name's partial, and a longer name that only starts like this one's
        tmp_path / f".other.json.{host}.{gone.pid}-0.partial": "another name",
        tmp_path / f".out.json.2024-06.json.{host}.{os.getppid()}-0.partial": "a longer name",
        # names of the form's shape that are not one: digits that are not ASCII, too many
        tmp_path / f".out.json.{host}.\u00b2-0.partial": "superscript",
        tmp_path / f".out.json.{host}.99999999999999999999-0.partial": "too large",
    }
    for path, text in kept.items():
        path.write_text(text)
    link = tmp_path / f".out.json.{host}.{gone.pid}-1.partial"
    link.symlink_to(tmp_path / f".other.json.{host}.{gone.pid}-0.partial")
    with new_text_file(target) as handle:
        handle.write("{}")
    assert target.read_text() == "{}"
    assert not left.exists() and not journal.exists()
    assert {path: path.read_text() for path in kept} == kept
    assert link.is_symlink()


def test_a_refused_csv_export_publishes_neither_file(small_file: Path, tmp_path: Path) -> None:
    """runs.csv made by someone else while metrics.csv was written: neither is published."""
    from sapdi_local.files import new_text_files

    out = tmp_path / "out"
    out.mkdir()
    targets = [out / "runs.csv", out / "metrics.csv"]
    with (
        pytest.raises(StorageError, match="runs.csv already exists"),
        new_text_files(targets) as (runs, metrics),
    ):
        runs.write("new runs")
        metrics.write("new metrics")
        (out / "runs.csv").write_text("someone else's")
    assert sorted(path.name for path in out.iterdir()) == ["runs.csv"]
    assert (out / "runs.csv").read_text() == "someone else's"


def test_an_export_keeps_a_sigterm_handler_or_ignored_sigterm_of_its_process(
    small_file: Path, tmp_path: Path
) -> None:
    """In a program that handles SIGTERM (the SDK ends its run TERMINATED) or ignores it,
    an export run in the same process leaves that as it is."""
    script = textwrap.dedent(
        """
        import signal
        from sapdi_local.cli import main
        from sapdi_local.cli.common import exits_on_sigterm
        def mine(signum, frame):
            pass
        for handler in (mine, signal.SIG_IGN):
            signal.signal(signal.SIGTERM, handler)
            with exits_on_sigterm():
                assert signal.getsignal(signal.SIGTERM) is handler
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with exits_on_sigterm():
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
