"""Exports and ``runs --json`` stream: runs are read a batch at a time inside one read
snapshot and written as they are read, so that a command's peak memory does not grow with
the number of runs, while its output stays byte for byte what writing the whole at once
gave."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from sapdi_local import MLTrackingSDK
from sapdi_local.cli import main
from sapdi_local.cli.formats import (
    json_array_text,
    json_scalar,
    metric_history_json,
    metric_values_csv,
)
from sapdi_local.cli.tables import duration_seconds
from sapdi_local.records import histories_from_rows, run_from_record
from sapdi_local.store import ReadOnlyStore, RunFilter, search_run_records
from sapdi_local.store.streaming import RunStream, streamed_runs

# ---------------------------------------------------------------- a file to read


@pytest.fixture
def tracked(tmp_path: Path) -> Path:
    """Seven runs in two collections, with text that JSON and CSV must escape, a run
    without metrics and a metric whose last value has no stored history."""
    path = tmp_path / "tracking.db"
    sdk = MLTrackingSDK(db_path=path, scenario="churn")
    for index in range(6):
        sdk.start_run(
            run_collection_name="baseline" if index % 2 else "tuned",
            run_name=f"run-{index} “ünïcode”\nsecond line",
        )
        sdk.log_parameters({"lr": str(10**-index), "note": 'say "hi", then\ttab'})
        sdk.set_tags({"owner": f"u{index % 3}", f"only-{index % 2}": "x"})
        sdk.set_labels({"flags": [index, {"deep": None}]})
        for step in range(4):
            sdk.log_metrics({"accuracy": 0.5 + index / 10 + step / 100, "loss": 1.0 / (step + 1)})
        sdk.end_run()
    sdk.start_run(run_name="bare")
    sdk.end_run()
    sdk.close()
    connection = sqlite3.connect(path)
    with connection:
        (key,) = connection.execute("SELECT key FROM runs WHERE name LIKE 'run-2%'").fetchone()
        connection.execute("DELETE FROM metrics WHERE run_key = ? AND name = 'loss'", (key,))
    connection.close()
    return path


@pytest.fixture
def store(tracked: Path) -> Iterator[ReadOnlyStore]:
    opened = ReadOnlyStore(tracked)
    yield opened
    opened.close()


def invoke(*arguments: str) -> Any:
    result = CliRunner().invoke(main, list(arguments))
    assert result.exit_code == 0, result.output
    return result


# ---------------------------------------------------------------- streamed_runs


def read_all(selection: RunStream) -> list[str]:
    return [record.row["id"] for records in selection.record_batches() for record in records]


@pytest.mark.parametrize(
    ("expression", "order_by", "limit"),
    [
        (None, (), None),
        ("collection = 'baseline'", (), None),
        ("metrics.accuracy > 0.6", ["metrics.accuracy DESC"], None),
        ("name ILIKE 'RUN-%'", ["params.lr ASC"], 3),
        (None, ["status"], 2),
    ],
)
def test_streamed_runs_select_and_sort_what_a_search_does(
    store: ReadOnlyStore, expression: str | None, order_by: list[str], limit: int | None
) -> None:
    total, records = search_run_records(store, expression, order_by, limit)
    for batch_size in (1, 2, 500):
        with streamed_runs(store, expression, order_by, limit, batch_size=batch_size) as chosen:
            batches = list(chosen.record_batches())
            assert all(len(batch) <= batch_size for batch in batches)
            streamed = [record for batch in batches for record in batch]
            assert streamed == records  # rows, parameters, tags, labels and last metrics
            assert chosen.count() == len(records)
            assert list(chosen.ids()) == [record.row["id"] for record in records]
    assert total >= len(records)


def test_streamed_runs_take_an_offset_and_the_selectors_of_get_runs(store: ReadOnlyStore) -> None:
    everything = [record.row["id"] for record in store.select_runs(RunFilter())]
    with streamed_runs(store, None, (), 3, 2) as chosen:
        assert read_all(chosen) == everything[2:5]
    base = RunFilter(scenarios=("churn",))
    _, expected = search_run_records(store, "params.lr = '1'", base_selection=base)
    with streamed_runs(store, "params.lr = '1'", base_selection=base) as chosen:
        assert read_all(chosen) == [record.row["id"] for record in expected] != []


def test_column_names_are_those_the_selected_runs_have(store: ReadOnlyStore) -> None:
    with streamed_runs(store, "collection = 'baseline'") as chosen:
        names = chosen.column_names()
    assert names.parameters == ["lr", "note"]
    assert names.tags == ["only-1", "owner"]  # only-0 belongs to the other collection
    assert names.metrics == ["accuracy", "loss"]
    with streamed_runs(store, "name = 'bare'") as chosen:
        assert chosen.column_names() == ([], [], [])


def test_histories_are_what_metric_history_reads_run_by_run(store: ReadOnlyStore) -> None:
    with streamed_runs(store, batch_size=2) as chosen:
        streamed = list(chosen.histories())
    records = store.select_runs(RunFilter())
    assert [run_id for run_id, _ in streamed] == [record.row["id"] for record in records]
    for run_id, stored in streamed:
        expected = store.metric_history(run_id, None)
        assert stored == {name: list(rows) for name, rows in expected.items()}
    emptied = [stored["loss"] for _, stored in streamed if "loss" in stored and not stored["loss"]]
    assert emptied == [[]]  # the last value kept, its history deleted: an empty history


def test_every_pass_reads_one_snapshot_while_another_process_writes(
    tracked: Path, store: ReadOnlyStore
) -> None:
    with streamed_runs(store, batch_size=1) as chosen:
        before = chosen.count()
        batches = chosen.record_batches()
        first = next(batches)
        sdk = MLTrackingSDK(db_path=tracked, scenario="churn")
        sdk.start_run(run_name="written meanwhile")
        sdk.end_run()
        sdk.close()
        rest = [record for batch in batches for record in batch]
        assert 1 + len(rest) == before == chosen.count()
        assert "written meanwhile" not in [record.row["name"] for record in [*first, *rest]]
        assert len(list(chosen.histories())) == before
    with streamed_runs(store) as chosen:
        assert chosen.count() == before + 1


def test_a_batch_size_below_one_is_refused(store: ReadOnlyStore) -> None:
    with (
        pytest.raises(ValueError, match="batch_size is 0; read at least 1"),
        streamed_runs(store, batch_size=0),
    ):
        pass


# ---------------------------------------------------------------- JSON text


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=12,
)


@given(items=st.lists(JSON_VALUES, max_size=4), depth=st.integers(0, 3))
def test_json_array_text_is_json_dumps_of_the_whole(items: list[Any], depth: int) -> None:
    document: Any = items
    for _ in range(depth):
        document = {"k": document}
    whole = json.dumps(document, indent=2, ensure_ascii=False)
    streamed = "".join(json_array_text(items, depth=depth))
    prefix = "".join("{\n" + "  " * (level + 1) + '"k": ' for level in range(depth))
    suffix = "".join("\n" + "  " * level + "}" for level in reversed(range(depth)))
    assert prefix + streamed + suffix == whole


SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text()


@given(value=SCALARS)
def test_json_scalar_is_json_dumps(value: Any) -> None:
    assert json_scalar(value) == json.dumps(value, ensure_ascii=False)


@given(
    run_id=st.text(),
    name=st.text(),
    values=st.lists(
        st.tuples(st.floats() | st.integers(), st.none() | st.integers(), st.floats()),
        max_size=5,
    ),
)
def test_metric_history_json_is_json_dumps(
    run_id: str, name: str, values: list[tuple[Any, Any, Any]]
) -> None:
    item = {
        "run_id": run_id,
        "name": name,
        "values": [{"value": v, "step": s, "timestamp": t} for v, s, t in values],
    }
    assert metric_history_json(run_id, name, values) == json.dumps(
        item, indent=2, ensure_ascii=False
    )


@given(
    run_id=st.text(),
    name=st.text(),
    values=st.lists(
        st.tuples(
            st.floats() | st.integers(),
            st.none() | st.integers() | st.booleans(),
            st.floats() | st.integers(),
        ),
        max_size=5,
    ),
)
def test_metric_values_csv_is_what_csv_writer_writes(
    run_id: str, name: str, values: list[tuple[Any, Any, Any]]
) -> None:
    written = io.StringIO()
    csv.writer(written).writerows([run_id, name, s, v, t] for v, s, t in values)
    assert metric_values_csv(run_id, name, values) == written.getvalue()


# ---------------------------------------------------------------- the commands' bytes


def whole_document(store: ReadOnlyStore, expression: str | None = None) -> dict[str, Any]:
    """The JSON export as it was made before it streamed: every run and history read, then
    dumped at once."""
    _, records = search_run_records(store, expression)
    runs = [run_from_record(record) for record in records]
    metrics = []
    for run in runs:
        for history in histories_from_rows(run.id, store.metric_history(run.id, None)):
            metrics.append(history.to_dict())
    return {"runs": [run.to_dict() for run in runs], "metrics": metrics}


@pytest.mark.parametrize("where", [None, "collection = 'baseline'", "name = 'nothing'"])
def test_export_json_is_the_whole_document_dumped_at_once(
    tracked: Path, store: ReadOnlyStore, tmp_path: Path, where: str | None
) -> None:
    out = tmp_path / "runs.json"
    selection = ["--where", where] if where else []
    invoke("export", str(out), "--format", "json", "--db", str(tracked), *selection)
    expected = json.dumps(whole_document(store, where), indent=2, ensure_ascii=False) + "\n"
    assert out.read_text(encoding="utf-8") == expected


def test_export_csv_has_every_name_as_a_column_and_every_value_as_a_row(
    tracked: Path, store: ReadOnlyStore, tmp_path: Path
) -> None:
    folder = tmp_path / "csv"
    invoke("export", str(folder), "--format", "csv", "--db", str(tracked))
    document = whole_document(store)
    with (folder / "runs.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["id"] for row in rows] == [run["id"] for run in document["runs"]]
    header = list(rows[0])
    extra = ["metric.accuracy", "metric.loss", "param.lr", "param.note"]
    extra += ["tag.only-0", "tag.only-1", "tag.owner"]
    assert header[12:] == extra  # no param.start, param.end nor tag.runName
    for row, run in zip(rows, document["runs"], strict=True):
        assert row["name"] == run["name"] and row["param.note"] == run["parameters"].get("note", "")
        assert row["tag.only-1"] == run["tags"].get("only-1", "")
        assert row["metric.accuracy"] == str(run["metrics"].get("accuracy", ""))
    with (folder / "metrics.csv").open(encoding="utf-8", newline="") as handle:
        values = list(csv.reader(handle))[1:]
    expected = [
        [item["run_id"], item["name"], str(v["step"]), repr(v["value"]), repr(v["timestamp"])]
        for item in document["metrics"]
        for v in item["values"]
    ]
    assert values == expected


@pytest.mark.parametrize(
    "options",
    [[], ["--limit", "3"], ["--where", "params.lr > 0.001", "--order-by", "metrics.loss"]],
)
def test_runs_json_is_the_whole_list_dumped_at_once(
    tracked: Path, store: ReadOnlyStore, options: list[str]
) -> None:
    result = invoke("runs", "--json", "--db", str(tracked), *options)
    limit = int(options[1]) if options[:1] == ["--limit"] else 20
    where = options[1] if options[:1] == ["--where"] else None
    order = options[3:4]
    _, records = search_run_records(store, where, order, limit)
    runs = [run_from_record(record) for record in records]
    listed = [{**run.to_dict(), "duration": duration_seconds(run)} for run in runs]
    assert result.stdout == json.dumps(listed, indent=2, ensure_ascii=False) + "\n"


def test_runs_json_of_no_run_is_an_empty_array(tracked: Path) -> None:
    result = invoke("runs", "--json", "--db", str(tracked), "--where", "name = 'nothing'")
    assert result.stdout == "[]\n"


def test_a_database_export_with_a_selection_keeps_exactly_the_selected_runs(
    tracked: Path, store: ReadOnlyStore, tmp_path: Path
) -> None:
    out = tmp_path / "baseline.db"
    result = invoke("export", str(out), "--collection", "baseline", "--db", str(tracked), "--json")
    _, records = search_run_records(store, "collection = 'baseline'")
    assert json.loads(result.stdout)["runs"] == len(records) == 3
    copy = ReadOnlyStore(out)
    try:
        kept = [record.row["id"] for record in copy.select_runs(RunFilter())]
    finally:
        copy.close()
    assert kept == [record.row["id"] for record in records]


# ---------------------------------------------------------------- memory


def build(path: Path, runs: int, *, history: int = 20) -> None:
    """``runs`` runs of 5 parameters, 3 tags and 3 metrics of ``history`` values: the first
    written by the SDK, the others copied from it with SQL (seconds, not minutes)."""
    sdk = MLTrackingSDK(db_path=path, scenario="bench")
    sdk.start_run(run_collection_name="sweep", run_name="run-0")
    sdk.log_parameters({"lr": "0.1", "optimizer": "adam", "batch": "16", "layers": "1"})
    sdk.log_parameters({"seed": "0"})
    sdk.set_tags({"stage": "dev", "group": "0", "owner": "u0"})
    sdk.log_metrics({"accuracy": 0.5, "loss": 0.5, "f1": 0.5})
    sdk.end_run()
    sdk.close()
    connection = sqlite3.connect(path, isolation_level=None)
    columns = [row[1] for row in connection.execute("PRAGMA table_info(runs)")]
    copied = [column for column in columns if column not in ("key", "id", "name", "start_time")]
    listed = ", ".join(copied)
    connection.execute("BEGIN")
    connection.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        f"INSERT INTO runs (id, name, start_time, {listed}) "
        f"SELECT lower(hex(randomblob(16))), 'run-' || i, start_time + i, {listed} "
        "FROM runs, n WHERE runs.key = 1",
        (runs - 1,),
    )
    for table in ("parameters", "tags"):
        connection.execute(
            f"INSERT INTO {table} (run_key, name, value) SELECT runs.key, t.name, "
            f"t.value || '-' || (runs.key % 97) FROM runs, {table} AS t "
            "WHERE t.run_key = 1 AND runs.key > 1"
        )
    connection.execute("DELETE FROM metrics")
    connection.execute("DELETE FROM latest_metrics")
    for name in ("accuracy", "loss", "f1"):
        connection.execute(
            "WITH RECURSIVE s(seq) AS (SELECT 1 UNION ALL SELECT seq + 1 FROM s WHERE seq < ?) "
            "INSERT INTO metrics (run_key, name, seq, step, timestamp, value) "
            "SELECT key, ?, seq, seq - 1, start_time + seq, (key % 1000) / 1000.0 + seq "
            "FROM runs, s",
            (history, name),
        )
    connection.execute(
        "INSERT INTO latest_metrics (run_key, name, seq, step, timestamp, value) "
        "SELECT run_key, name, seq, step, timestamp, value FROM metrics WHERE seq = ?",
        (history,),
    )
    connection.execute("COMMIT")
    connection.close()


def peak_megabytes(arguments: list[str], folder: Path) -> float:
    """The peak resident memory of a real ``sapdi-local`` process running ``arguments``,
    its stdout and stderr sent to files in ``folder``."""
    with (folder / "stdout").open("wb") as stdout, (folder / "stderr").open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "sapdi_local", *arguments], stdout=stdout, stderr=stderr
        )
        # wait4 gives this one child's usage; RUSAGE_CHILDREN would be the largest of all.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0, (folder / "stderr").read_text()
    return usage.ru_maxrss / 1024  # kilobytes on Linux


COMMANDS: dict[str, Callable[[Path, Path], list[str]]] = {
    "export csv": lambda db, out: ["export", str(out / "csv"), "--format", "csv"],
    "export json": lambda db, out: ["export", str(out / "runs.json"), "--format", "json"],
    "export db --collection": lambda db, out: [
        "export",
        str(out / "c.db"),
        "--collection",
        "sweep",
    ],
    "runs --json": lambda db, out: ["runs", "--json", "--limit", "100000"],
}
SMALL, LARGE = 2_000, 20_000
SLACK_MB = 20.0


@pytest.fixture(scope="module")
def sized_files(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("sized")
    files = {}
    for runs in (SMALL, LARGE):
        files[runs] = folder / f"{runs}.db"
        build(files[runs], runs)
    return files


@pytest.mark.slow
@pytest.mark.parametrize("command", list(COMMANDS))
def test_peak_memory_does_not_grow_with_the_number_of_runs(
    command: str, sized_files: dict[int, Path], tmp_path: Path
) -> None:
    peaks = {}
    for runs, db in sized_files.items():
        out = tmp_path / str(runs)
        out.mkdir()
        peaks[runs] = peak_megabytes([*COMMANDS[command](db, out), "--db", str(db)], out)
    assert peaks[LARGE] - peaks[SMALL] < SLACK_MB, (
        f"{command}: {peaks[SMALL]:.0f} MB at {SMALL:,} runs, {peaks[LARGE]:.0f} MB at "
        f"{LARGE:,}: memory grows with the runs"
    )
    large = tmp_path / str(LARGE)
    if command == "runs --json":
        assert len(json.loads((large / "stdout").read_bytes())) == LARGE
    if command == "export json":
        document = json.loads((large / "runs.json").read_bytes())
        assert len(document["runs"]) == LARGE and len(document["metrics"]) == 3 * LARGE
    if command == "export csv":
        text = (large / "csv" / "metrics.csv").read_text()
        assert sum(1 for _ in csv.reader(io.StringIO(text))) == 1 + LARGE * 3 * 20


# ---------------------------------------------------------------- progress


def on_a_terminal(arguments: list[str], stdout: Path) -> str:
    """Run a real ``sapdi-local`` with stderr on a terminal (a pseudo-terminal) and stdout
    to a file; what the terminal showed."""
    import pty

    controller, terminal = pty.openpty()
    with stdout.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "sapdi_local", *arguments],
            stdout=handle,
            stderr=terminal,
            stdin=subprocess.DEVNULL,
        )
        os.close(terminal)
        shown = bytearray()
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the child is gone and the terminal closed
                break
            if not chunk:
                break
            shown += chunk
        assert process.wait(timeout=120) == 0, shown.decode(errors="replace")
    os.close(controller)
    return shown.decode(errors="replace")


@pytest.mark.parametrize(
    ("command", "label"),
    [
        (["runs", "--json", "--limit", "1000"], "listing runs"),
        (["export", "{out}/csv", "--format", "csv"], "writing metrics.csv"),
        (["export", "{out}/runs.json", "--format", "json"], "writing runs.json (metrics)"),
    ],
)
def test_a_terminal_sees_progress_on_stderr_and_stdout_is_unchanged(
    tracked: Path, tmp_path: Path, command: list[str], label: str
) -> None:
    arguments = [part.format(out=tmp_path) for part in command] + ["--db", str(tracked)]
    shown = on_a_terminal(arguments, tmp_path / "stdout")
    assert label in shown and "100%" in shown
    printed = (tmp_path / "stdout").read_text(encoding="utf-8")
    assert label not in printed
    if command[0] == "runs":
        assert printed == invoke(*arguments).stdout  # the array, as without a terminal
    else:
        assert printed.startswith("wrote 7 runs to ")
