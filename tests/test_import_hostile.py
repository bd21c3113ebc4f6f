"""Importing hostile stores: MLflow and trackio files in those trackers' own table layouts
holding junk (text and blobs where numbers belong, NULL times and steps, times of 1e300,
ids and names megabytes long or holding NUL, configs and rows that are not JSON objects),
written by tests/fixtures/make_hostile_stores.py.

Through the real command (click's runner, and a real process once): every import ends
with exit code 0, the good runs in, each malformed run skipped whole and named with its
reason (text and --json), each malformed trackio row counted and listed; no traceback, no
megabyte value printed, no row of a skipped run written; `runs` and `export` read the
result. A property test fills the junk columns at random and checks that the import raises
nothing but TrackingError and stores only what every rule accepts.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sapdi_local.cli import main
from sapdi_local.errors import TrackingError
from sapdi_local.interop import read_mlflow_file
from sapdi_local.run_rules import check_run_content, shown
from sapdi_local.store import RUN_CHILD_TABLES, Store, import_runs
from sapdi_local.validation import MAX_TIMESTAMP, MIN_TIMESTAMP

FIXTURES = Path(__file__).with_name("fixtures")


def fixture_script() -> ModuleType:
    """tests/fixtures/make_hostile_stores.py, imported for its functions."""
    name = "make_hostile_stores"
    spec = importlib.util.spec_from_file_location(name, FIXTURES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


stores = fixture_script()

# What each MLflow case's reason says (the field and what is wrong with it).
MLFLOW_REASONS = {
    "text_value": "metric 'loss' holds text 'abc' as a value, not a number",
    "blob_value": "metric 'loss' holds a blob b'\\x00\\x01' as a value, not a number",
    "null_value": "metric 'loss' holds NULL as a value, not a number",
    "null_timestamp": "timestamp of metric 'loss' is NULL, not milliseconds since 1970",
    "text_timestamp": "timestamp of metric 'loss' is text '2026-11-17', not milliseconds",
    "huge_timestamp": "timestamp of metric 'loss' 1e+300 is not a finite time within",
    "null_step": "step of metric 'loss' is NULL, not an integer",
    "text_step": "step of metric 'loss' is text 'first', not an integer",
    "blob_step": "step of metric 'loss' is a blob b'\\x01', not an integer",
    "text_start_time": "start_time is text 'yesterday', not milliseconds since 1970",
    "text_end_time": "end_time is text 'tomorrow', not milliseconds since 1970",
    "huge_start_time": "start_time 1e+300 is not a finite time within 1678-01-01 to 2262-01-01",
    "huge_name": "run name 'nnnnnnnn",
    "huge_id": "run id 'aaaaaaaa",
    "nul_name": "run name 'bad\\x00name' contains a NUL character",
    "nul_id": "run id 'cccccccccccccccc\\x00ccccccccccccccc' is not",
    "blob_param": "parameter 'lr' holds a blob b'\\xff\\xfe', not text",
    "long_experiment": "is 300 characters long; the limit is 256",
    "nul_experiment": "run collection name 'exp\\x00eriment' contains a NUL character",
}
# What the import does with each trackio case: the run skipped whole, one row left out,
# or values counted as NaN or infinite; and what the report says.
TRACKIO_OUTCOMES: dict[str, tuple[str, str | int]] = {
    "config_not_json": ("run", "config '{lr: 0.1' is not JSON"),
    "config_a_list": ("run", "config is a JSON list, not an object"),
    "config_too_deep": ("run", "is not JSON (maximum recursion depth exceeded"),
    "metrics_not_json": ("row", "metrics '{loss: 0.1' is not JSON"),
    "metrics_a_list": ("row", "metrics is a JSON list, not an object"),
    "metrics_not_utf8": ("row", "metrics is not UTF-8 text"),
    "timestamp_not_parseable": ("row", "timestamp 'yesterday' is not an ISO 8601 time"),
    "timestamp_out_of_range": ("row", "timestamp '9999-12-31T23:59:59+00:00' is not a finite"),
    "step_text": ("row", "step is text 'third', not an integer"),
    "nan": ("non_finite", 2),
    "beyond_double": ("non_finite", 1),
}


def test_every_case_has_an_expectation() -> None:
    assert set(MLFLOW_REASONS) == set(stores.MLFLOW_CASES)
    assert set(TRACKIO_OUTCOMES) == set(stores.TRACKIO_CASES)


def invoke(*arguments: str) -> Result:
    return CliRunner().invoke(main, list(arguments))


def succeeded(result: Result) -> str:
    """The standard output of a command that ended well: exit 0, no traceback on either
    stream, nothing huge."""
    assert result.exit_code == 0, result.output
    assert result.exception is None, result.exception
    assert "Traceback" not in result.output
    assert len(result.output) < 100_000  # no megabyte id or name printed
    return result.stdout


def stored_ids(db: Path) -> set[str]:
    """The run ids of ``db``, after checking that no row of a child table lacks its run."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as connection:
        for table in RUN_CHILD_TABLES:
            (orphans,) = connection.execute(
                f"SELECT COUNT(*) FROM {table} WHERE run_key NOT IN (SELECT key FROM runs)"
            ).fetchone()
            assert orphans == 0, table
        return {row[0] for row in connection.execute("SELECT id FROM runs")}


def stored_loss(db: Path, run_id: str) -> list[tuple[int, float, int]]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as connection:
        return connection.execute(
            "SELECT seq, value, step FROM metrics JOIN runs ON runs.key = run_key "
            "WHERE runs.id = ? AND metrics.name = 'loss' ORDER BY seq",
            (run_id,),
        ).fetchall()


def assert_readable(db: Path, tmp_path: Path) -> None:
    """`runs` and `export --format json` read the imported file without a fault."""
    listing = succeeded(invoke("runs", "--db", str(db)))
    assert "good-1" in listing and "good-2" in listing
    out = tmp_path / "export.json"
    succeeded(invoke("export", str(out), "--format", "json", "--db", str(db)))
    exported = json.loads(out.read_text())
    assert {run["id"] for run in exported["runs"]} == stored_ids(db)


def import_both_ways(kind: str, source: Path, tmp_path: Path) -> tuple[str, dict[str, Any], Path]:
    """Import ``source`` as text (into one file) and as --json (into another): the text
    output, the JSON report and the file the JSON import wrote."""
    text = succeeded(invoke("import", kind, str(source), "--db", str(tmp_path / "text.db")))
    db = tmp_path / "json.db"
    report = json.loads(succeeded(invoke("import", kind, str(source), "--db", str(db), "--json")))
    assert stored_ids(tmp_path / "text.db") == stored_ids(db)
    return text, report, db


@pytest.mark.parametrize("case", sorted(stores.MLFLOW_CASES))
def test_mlflow_malformed_run_is_skipped_whole_and_reported(case: str, tmp_path: Path) -> None:
    """An MLflow file with two good runs (one without start or end time) and one malformed
    run: the good runs come in, the malformed one is named (id shown cut and escaped) with
    its reason on a line of its own and under "runs_skipped", and nothing of it is stored."""
    source = tmp_path / "mlflow.db"
    good, bad = stores.write_mlflow_case(source, case)
    text, report, db = import_both_ways("mlflow", source, tmp_path)
    assert sorted(report["added"]) == sorted(good)
    assert report["runs_read"] == 2
    [skipped] = report["runs_skipped"]
    assert skipped["run"] == shown(bad)
    assert len(skipped["run"]) <= 64
    assert MLFLOW_REASONS[case] in skipped["reason"]
    assert len(skipped["reason"]) <= 303
    assert "left out: 1 malformed run (skipped whole)" in text
    [line] = [line for line in text.splitlines() if line.startswith("skipped run ")]
    assert line.startswith(f"skipped run {shown(bad)}: ")
    assert len(line) < 260  # the reason shortened to fit a line
    assert stored_ids(db) == set(good)
    assert_readable(db, tmp_path)
    # A second import finds the good runs and reports the malformed one again.
    again = json.loads(
        succeeded(invoke("import", "mlflow", str(source), "--db", str(db), "--json"))
    )
    assert again["added"] == [] and sorted(again["unchanged"]) == sorted(good)
    assert again["runs_skipped"] == report["runs_skipped"]


@pytest.mark.parametrize("case", sorted(stores.TRACKIO_CASES))
def test_trackio_malformed_config_row_or_value_is_reported(case: str, tmp_path: Path) -> None:
    """A trackio file with two good runs and one hostile: a config that is not a JSON
    object skips its run whole (its parameters cannot be known); a row that is not a JSON
    object, or whose time or step cannot be read, is left out of its run, counted and
    listed; NaN and values beyond the double range are counted. Every count that is not 0
    is in the text output."""
    source = tmp_path / "hostile.db"
    good, bad = stores.write_trackio_case(source, case)
    text, report, db = import_both_ways("trackio", source, tmp_path)
    outcome, expected = TRACKIO_OUTCOMES[case]
    if outcome == "run":
        assert sorted(report["added"]) == sorted(good)
        [skipped] = report["runs_skipped"]
        assert skipped["run"] == bad
        assert str(expected) in skipped["reason"]
        assert "left out: 1 malformed run (skipped whole)" in text
        assert f"skipped run {bad}: " in text
        assert stored_ids(db) == set(good)
    else:
        assert sorted(report["added"]) == sorted([*good, bad])
        assert report["runs_skipped"] == []
        # The hostile run keeps its two good values, numbered from 1.
        assert stored_loss(db, bad) == [(1, 0.5, 0), (2, 0.25, 1)]
    if outcome == "row":
        assert report["malformed_rows_skipped"] == 1
        [row] = report["malformed_rows"]
        assert row["run"] == bad and isinstance(row["row"], int)
        assert str(expected) in row["reason"]
        assert "left out: 1 malformed row" in text
        assert f"skipped row {row['row']} of run {bad}: " in text
    else:
        assert report["malformed_rows_skipped"] == 0 and report["malformed_rows"] == []
    if outcome == "non_finite":
        assert report["non_finite_values_skipped"] == expected
        assert f"left out: {expected} NaN or infinite value" in text
    assert_readable(db, tmp_path)


def test_mlflow_text_that_is_not_utf8_skips_its_run_not_the_import(tmp_path: Path) -> None:
    """A run name whose bytes are not UTF-8 (which SQLite keeps as text all the same) no
    longer stops the whole read: that run is skipped, named, and the others come in."""
    source = tmp_path / "mlflow.db"
    good, bad = stores.write_mlflow_case(source, "text_value")
    with closing(sqlite3.connect(source)) as connection:
        connection.execute("DELETE FROM metrics WHERE run_uuid = ?", (bad,))
        connection.execute(
            "UPDATE runs SET name = CAST(x'6261640aff' AS TEXT) WHERE run_uuid = ?", (bad,)
        )
        connection.commit()
    text, report, db = import_both_ways("mlflow", source, tmp_path)
    assert sorted(report["added"]) == sorted(good)
    [skipped] = report["runs_skipped"]
    assert skipped["run"] == bad
    assert "run name 'bad\\n\\udcff' contains a lone surrogate" in skipped["reason"]
    assert f"skipped run {bad}: run name" in text
    assert stored_ids(db) == set(good)


def test_trackio_malformed_rows_are_all_counted_and_the_first_100_listed(
    tmp_path: Path,
) -> None:
    """250 rows that are not JSON in one run: all counted, the first 100 listed (under
    --json and as lines), the rest said in one line; the run keeps its good values."""
    source = tmp_path / "many.db"
    bad_rows = [(f"2026-11-17T10:01:{n % 60:02d}+00:00", 10 + n, "{") for n in range(250)]
    run = stores.TrackioRun("3" * 32, "many", rows=[*stores.TrackioRun("", "").rows, *bad_rows])
    stores.write_trackio_store(source, [*stores.good_trackio_runs(), run])
    text, report, db = import_both_ways("trackio", source, tmp_path)
    assert len(report["added"]) == 3
    assert report["malformed_rows_skipped"] == 250
    assert len(report["malformed_rows"]) == 100
    assert "left out: 250 malformed rows" in text
    assert text.count("skipped row ") == 100
    assert "... and 150 more malformed rows, counted, not listed" in text
    assert stored_loss(db, run.run_id) == [(1, 0.5, 0), (2, 0.25, 1)]


def test_every_hostile_case_in_one_file_through_a_real_process(tmp_path: Path) -> None:
    """`python -m sapdi_local import ...` of one MLflow file and one trackio file holding
    every case: exit 0, no traceback on stdout or stderr, each malformed run reported once,
    the good runs in; `runs` and `export` in their own processes read the result."""
    mlflow_file = tmp_path / "hostile-mlflow.db"
    trackio_file = tmp_path / "hostile.db"
    subprocess.run(
        [sys.executable, str(FIXTURES / "make_hostile_stores.py"), str(tmp_path)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    db = tmp_path / "tracking.db"

    def run(*arguments: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "sapdi_local", *arguments, "--db", str(db)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        assert len(done.stdout) < 50_000
        return done.stdout

    report = json.loads(run("import", "mlflow", str(mlflow_file), "--json"))
    assert len(report["added"]) == 2
    assert len(report["runs_skipped"]) == len(stores.MLFLOW_CASES)
    text = run("import", "trackio", str(trackio_file))
    skipped_whole = [case for case, (outcome, _) in TRACKIO_OUTCOMES.items() if outcome == "run"]
    rows = [case for case, (outcome, _) in TRACKIO_OUTCOMES.items() if outcome == "row"]
    assert f"left out: {len(skipped_whole)} malformed runs (skipped whole), " in text
    assert f"{len(rows)} malformed rows" in text
    assert text.count("skipped run ") == len(skipped_whole)
    assert text.count("skipped row ") == len(rows)
    assert len(stored_ids(db)) == 2 + 2 + len(stores.TRACKIO_CASES) - len(skipped_whole)
    assert "good-1" in run("runs")
    run("export", str(tmp_path / "all.json"), "--format", "json")
    assert len(json.loads((tmp_path / "all.json").read_text())["runs"]) == len(stored_ids(db))


# ---------------------------------------------------------------- random junk

T0 = stores.T0
junk = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.binary(max_size=12),
)


def mostly(lawful: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``lawful`` seven times in eight, else junk: runs with no junk at all come often
    enough that the import has something to store."""
    return st.integers(min_value=0, max_value=7).flatmap(lambda n: junk if n == 7 else lawful)


times = mostly(st.integers(min_value=T0 - 10**6, max_value=T0 + 10**6))
ends = mostly(st.integers(min_value=T0 + 10**6, max_value=T0 + 2 * 10**6))  # after a start
junk_runs = st.lists(
    st.fixed_dictionaries(
        {
            "start_time": st.one_of(st.none(), times),
            "end_time": st.one_of(st.none(), ends),
            # (value, timestamp, step): each row a metric of its own, so MLflow's primary
            # key (key, timestamp, step, run, value, is_nan) never repeats.
            "metrics": st.lists(
                st.tuples(
                    # NaN is junk: SQLite stores it as NULL (MLflow writes is_nan instead).
                    mostly(st.floats(allow_nan=False, allow_infinity=True)),
                    times,
                    mostly(st.integers(min_value=-(2**63), max_value=2**63 - 1)),
                ),
                max_size=4,
            ),
        }
    ),
    min_size=1,
    max_size=4,
)


def readable_time(cell: object) -> bool:
    """The oracle for a time cell, in MLflow's milliseconds."""
    return (
        isinstance(cell, (int, float))
        and math.isfinite(cell)
        and MIN_TIMESTAMP <= cell / 1000 <= MAX_TIMESTAMP
    )


def expected_imports(source: Path) -> dict[str, int]:
    """The runs the rules take, read from the cells as SQLite holds them (after its type
    affinities), with how many finite values each keeps."""
    expected: dict[str, int] = {}
    with closing(sqlite3.connect(source)) as connection:
        connection.text_factory = bytes  # junk text need not be UTF-8
        runs = connection.execute("SELECT run_uuid, start_time, end_time FROM runs").fetchall()
        for run_id, start, end in runs:
            rows = connection.execute(
                "SELECT value, timestamp, step FROM metrics WHERE run_uuid = CAST(? AS TEXT)",
                (run_id,),
            ).fetchall()
            good = (
                all(cell is None or readable_time(cell) for cell in (start, end))
                and (start is None or end is None or end >= start)
                and all(
                    isinstance(value, (int, float))
                    and readable_time(stamp)
                    and isinstance(step, int)
                    for value, stamp, step in rows
                )
            )
            if good:
                expected[run_id.decode()] = sum(math.isfinite(value) for value, _, _ in rows)
    return expected


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(junk_runs)
def test_random_junk_in_an_mlflow_file_raises_nothing_else_and_stores_only_lawful_runs(
    drawn: list[dict[str, Any]],
) -> None:
    """Any mix of NULL, integers, floats (NaN and infinities too), text and blobs in the
    value, timestamp, step, start_time and end_time columns: reading raises nothing but
    TrackingError; exactly the runs whose every cell is lawful are stored, each passing
    check_run_content read back, with its finite values."""
    runs = [
        stores.MlflowRun(
            f"{index:032x}",
            name=f"run-{index}",
            start_time=spec["start_time"],
            end_time=spec["end_time"],
            metrics=[
                (f"m{number}", value, stamp, step, 0)
                for number, (value, stamp, step) in enumerate(spec["metrics"])
            ],
        )
        for index, spec in enumerate(drawn)
    ]
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "mlflow.db"
        stores.write_mlflow_store(source, runs)
        try:
            read = read_mlflow_file(source)
        except TrackingError:
            return
        expected = expected_imports(source)
        event(f"lawful runs: {len(expected)} of {len(runs)}")
        assert {run.row["id"] for run in read.runs} == set(expected)
        assert len(read.runs_skipped) == len(runs) - len(expected)
        target = Path(folder) / "tracking.db"
        store = Store(target)
        try:
            import_runs(store, read.runs)
        finally:
            store.close()
        for run_id, values in stored_content(target).items():
            check_run_content(*values)
            assert sum(len(rows) for rows in values[4].values()) == expected[run_id]


def stored_content(db: Path) -> dict[str, tuple[Any, ...]]:
    """Per run id: its row, parameters, tags, labels and metric rows, as stored."""
    content: dict[str, tuple[Any, ...]] = {}
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as connection:
        connection.row_factory = sqlite3.Row
        for row in connection.execute("SELECT * FROM runs"):
            key = row["key"]
            pairs = [
                {
                    name: value
                    for name, value in connection.execute(
                        f"SELECT name, value FROM {table} WHERE run_key = ?", (key,)
                    )
                }
                for table in ("parameters", "tags", "labels")
            ]
            metrics: dict[str, list[tuple[Any, ...]]] = {}
            for name, *value in connection.execute(
                "SELECT name, seq, value, step, timestamp FROM metrics WHERE run_key = ? "
                "ORDER BY name, seq",
                (key,),
            ):
                metrics.setdefault(name, []).append(tuple(value))
            record = dict(zip(row.keys(), row, strict=True))
            del record["key"]
            content[row["id"]] = (record, *pairs, metrics)
    return content
