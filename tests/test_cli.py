"""The sapdi-local command, through click's runner on real database files."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import run_python
from filelock import FileLock

from sapdi_local import MLTrackingSDK
from sapdi_local.cli import main
from sapdi_local.store import SCHEMA_VERSION

CONTEXT = {
    "scenario": "churn",
    "scenario_version": "v1",
    "pipeline": "train.py",
    "execution": "exec-1",
}


def invoke(*arguments: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(arguments), input=stdin)


def fill(sdk: MLTrackingSDK) -> dict[str, str]:
    """Three runs: two in collection "baseline", one in the default collection."""
    ids = {}
    for index, rate in enumerate(("0.01", "0.1")):
        run = sdk.start_run(run_collection_name="baseline", run_name=f"lr-{rate}")
        sdk.log_parameters({"learning_rate": rate, "epochs": 3})
        sdk.set_tags({"dataset": "v2" if index else "v1"})
        sdk.set_labels({"accuracy": {"format_string": "percentage"}})
        for step in range(4):
            sdk.log_metric("loss", 1.0 / (step + 1 + index), step=step)
        sdk.log_metric("accuracy", 0.90 + index * 0.02)
        sdk.end_run()
        ids[f"lr-{rate}"] = run.id
    run = sdk.start_run()
    sdk.log_metric("accuracy", 0.8)
    sdk.end_run()
    ids["default"] = run.id
    return ids


@pytest.fixture
def filled(db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]) -> tuple[Path, dict[str, str]]:
    """A database with three finished runs, and their ids by name."""
    sdk = sdk_factory(db_path=db_path, **CONTEXT)
    ids = fill(sdk)
    sdk.close()
    return db_path, ids


def parsed(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# ---------------------------------------------------------------- where, collections, runs


def test_where_prints_path_schema_and_counts(filled: tuple[Path, dict[str, str]]) -> None:
    """where names the file and counts scenarios, collections, runs and values."""
    db, _ = filled
    result = invoke("where", "--db", str(db))
    assert result.exit_code == 0
    assert str(db) in result.output
    assert f"schema       version {SCHEMA_VERSION}" in result.output
    data = parsed(invoke("where", "--db", str(db), "--json"))
    assert data["path"] == str(db)
    assert (data["scenarios"], data["collections"], data["runs"]) == (1, 2, 3)
    assert data["values"] == 2 * 4 + 2 + 1
    assert data["bytes"] > 0


def test_db_before_the_command_and_environment_are_honoured(
    filled: tuple[Path, dict[str, str]],
) -> None:
    """--db works before the command name, and SAPDI_LOCAL_DB is the default."""
    db, _ = filled
    assert parsed(invoke("--db", str(db), "where", "--json"))["runs"] == 3
    assert parsed(invoke("where", "--json"))["path"] == str(db)  # db_path set SAPDI_LOCAL_DB


def test_collections_with_counts_and_default_marked(filled: tuple[Path, dict[str, str]]) -> None:
    """collections lists run counts and marks default collections."""
    result = invoke("collections")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert any("baseline" in line and line.split()[-3] == "2" for line in lines)
    assert any("train.py (Default)" in line for line in lines)
    data = parsed(invoke("collections", "--json"))
    assert {(c["collection"], c["is_default"], c["runs"]) for c in data} == {
        ("baseline", False, 2),
        ("train.py", True, 1),
    }


def test_runs_newest_first_with_metric_columns(filled: tuple[Path, dict[str, str]]) -> None:
    """runs lists newest first, with a column per --metric."""
    _, ids = filled
    result = invoke("runs", "--metric", "accuracy")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    expected = ["id", "name", "collection", "status", "start", "duration", "accuracy"]
    headers = lines[0].split()  # a header may be cut to make room: "collecti…"
    assert len(headers) == len(expected)
    pairs = zip(headers, expected, strict=True)
    assert all(full.startswith(shown.rstrip("…")) for shown, full in pairs)
    assert [line[:8] for line in lines[2:]] == [
        ids["default"][:8],
        ids["lr-0.1"][:8],
        ids["lr-0.01"][:8],
    ]
    assert lines[3].split()[-1] == "0.92"
    data = parsed(invoke("runs", "--json"))
    assert [run["id"] for run in data] == [ids["default"], ids["lr-0.1"], ids["lr-0.01"]]
    assert data[0]["duration"] >= 0


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--collection", "baseline"], {"lr-0.01", "lr-0.1"}),
        (["--collection", "train.py (Default)"], {"default"}),
        (["--tag", "dataset=v2"], {"lr-0.1"}),
        (["--status", "finished", "--limit", "1"], {"default"}),
        (["--status", "FAILED"], set()),
        (["--scenario", "other"], set()),
        (["--pipeline", "train.py", "--since", "1d"], {"lr-0.01", "lr-0.1", "default"}),
        (["--since", "2999-01-01"], set()),
    ],
)
def test_runs_filters(
    filled: tuple[Path, dict[str, str]], options: list[str], expected: set[str]
) -> None:
    """Each filter of runs keeps exactly the matching runs."""
    _, ids = filled
    data = parsed(invoke("runs", "--json", *options))
    assert {run["id"] for run in data} == {ids[name] for name in expected}


def test_runs_tell_killed_runs_from_running_ones(
    db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]
) -> None:
    """--status KILLED lists a run whose process died without ending it; RUNNING does not."""
    run_python(
        f"""
        import os
        from sapdi_local import MLTrackingSDK
        sdk = MLTrackingSDK(db_path={str(db_path)!r}, scenario="s")
        sdk.start_run(run_name="killed")
        sdk.persist_run()
        os._exit(0)
        """
    )
    live = sdk_factory(db_path=db_path, scenario="s")
    live.start_run(run_name="live")
    live.persist_run()
    assert [run["name"] for run in parsed(invoke("runs", "--json", "--status", "killed"))] == [
        "killed"
    ]
    assert [run["name"] for run in parsed(invoke("runs", "--json", "--status", "RUNNING"))] == [
        "live"
    ]


def test_runs_table_fits_80_columns(
    db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]
) -> None:
    """Long names and collections are cut with an ellipsis so that lines fit 80 columns."""
    sdk = sdk_factory(db_path=db_path, **CONTEXT)
    sdk.start_run(run_collection_name="c" * 100, run_name="n" * 100)
    sdk.log_metric("accuracy", 0.5)
    sdk.end_run()
    result = invoke("runs", "--metric", "accuracy")
    assert result.exit_code == 0
    assert all(len(line) <= 80 for line in result.output.splitlines())
    assert "…" in result.output
    assert result.output.splitlines()[2].split()[-1] == "0.5"


# ---------------------------------------------------------------- show, compare, history


def test_show_by_name_and_prefix(filled: tuple[Path, dict[str, str]]) -> None:
    """show finds a run by name or id prefix and prints everything it holds."""
    _, ids = filled
    by_name = invoke("show", "lr-0.01")
    assert by_name.exit_code == 0
    assert ids["lr-0.01"] in by_name.output
    for text in ("learning_rate", "0.01", "dataset", "v1", '{"format_string": "percentage"}'):
        assert text in by_name.output
    loss = next(line for line in by_name.output.splitlines() if line.startswith("loss"))
    assert loss.split() == ["loss", "0.25", "4", "0.25", "1"]  # last, count, min, max
    assert invoke("show", ids["lr-0.01"][:10]).output == by_name.output


def test_show_json(filled: tuple[Path, dict[str, str]]) -> None:
    """show --json gives the run's to_dict() plus metric statistics."""
    _, ids = filled
    data = parsed(invoke("show", ids["lr-0.1"], "--json"))
    assert data["name"] == "lr-0.1"
    assert data["parameters"]["learning_rate"] == "0.1"
    assert data["metric_stats"]["loss"] == {"last": 0.2, "count": 4, "min": 0.2, "max": 0.5}


def test_unknown_run_is_a_clear_error(filled: tuple[Path, dict[str, str]]) -> None:
    """An unknown run gives one line on stderr and exit code 2, no traceback."""
    result = invoke("show", "nope")
    assert result.exit_code == 2
    assert "no run with id, id prefix or name 'nope'" in result.stderr
    assert "Traceback" not in result.output


def test_ambiguous_name_lists_candidates(
    db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]
) -> None:
    """A name shared by two runs is refused, and both candidates are listed."""
    sdk = sdk_factory(db_path=db_path, **CONTEXT)
    ids = []
    for _ in range(2):
        ids.append(sdk.start_run(run_name="same").id)
        sdk.end_run()
    result = invoke("show", "same")
    assert result.exit_code == 2
    assert "'same' names 2 runs" in result.stderr
    assert all(run_id in result.stderr for run_id in ids)


def test_compare_marks_differences(filled: tuple[Path, dict[str, str]]) -> None:
    """compare puts values side by side and marks the rows that differ."""
    result = invoke("compare", "lr-0.01", "lr-0.1")
    assert result.exit_code == 0
    rows = {line.split()[-3]: line for line in result.output.splitlines()[2:]}
    assert rows["epochs"].startswith(" ")
    assert rows["learning_rate"].startswith("*")
    assert rows["accuracy"].split()[-2:] == ["0.9", "0.92"]
    data = parsed(invoke("compare", "lr-0.01", "lr-0.1", "--json"))
    differs = {(f["kind"], f["name"]): f["differs"] for f in data["fields"]}
    assert differs == {
        ("parameter", "epochs"): False,
        ("parameter", "learning_rate"): True,
        ("metric", "accuracy"): True,
        ("metric", "loss"): True,
    }


def test_compare_needs_two_runs(filled: tuple[Path, dict[str, str]]) -> None:
    """compare with one run is a usage error."""
    assert invoke("compare", "lr-0.1").exit_code == 2


def test_history_values_json_and_plot(filled: tuple[Path, dict[str, str]]) -> None:
    """history prints step and value in order, as JSON too, and draws a chart."""
    result = invoke("history", "lr-0.01", "loss")
    assert result.exit_code == 0
    steps = [line.split()[:2] for line in result.output.splitlines()[2:]]
    assert steps == [["0", "1"], ["1", "0.5"], ["2", "0.333333"], ["3", "0.25"]]
    data = parsed(invoke("history", "lr-0.01", "loss", "--json"))
    assert [value["value"] for value in data["values"]] == [1.0, 0.5, 1 / 3, 0.25]
    plot = invoke("history", "lr-0.01", "loss", "--plot")
    assert plot.exit_code == 0, plot.output
    assert "loss: 4 values" in plot.output
    assert "┌" in plot.output and "┘" in plot.output  # uniplot's frame


def test_history_unknown_metric(filled: tuple[Path, dict[str, str]]) -> None:
    """A metric the run lacks is an error naming the metrics it has."""
    result = invoke("history", "lr-0.01", "f1")
    assert result.exit_code == 2
    assert "no metric 'f1'; its metrics: accuracy, loss" in result.stderr


# ---------------------------------------------------------------- submit and check


def test_submit_pairs_params_and_tags(db_path: Path, sdk: MLTrackingSDK) -> None:
    """submit NAME=VALUE starts and ends a run, and prints its id."""
    result = invoke(
        "submit", "RMSE=0.31", "n=1200", "--run-collection", "nightly",
        "--run-name", "ci-1", "--param", "model=xgb", "--tag", "ci=yes",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run_id = result.stdout.strip()
    run = sdk.get_runs(run=run_id)[0]
    assert (run.name, run.collection, run.status) == ("ci-1", "nightly", "FINISHED")
    assert dict(run.metrics) == {"RMSE": 0.31, "n": 1200.0}
    assert run.parameters["model"] == "xgb"
    assert run.tags["ci"] == "yes"


def test_submit_operator_payload_on_stdin(db_path: Path, sdk: MLTrackingSDK) -> None:
    """The Submit Metrics payload (numbers and numeric strings) is taken as is."""
    result = invoke("submit", stdin='{"RMSE": "0.31", "n": "1200", "k": 3}')
    assert result.exit_code == 0, result.output
    run = sdk.get_runs(run=result.stdout.strip())[0]
    assert dict(run.metrics) == {"RMSE": 0.31, "n": 1200.0, "k": 3.0}


def test_submit_into_existing_run(filled: tuple[Path, dict[str, str]], sdk: MLTrackingSDK) -> None:
    """submit --run adds values to an ended run named by name."""
    _, ids = filled
    result = invoke("submit", "--run", "lr-0.1", "accuracy=0.97")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == ids["lr-0.1"]
    assert sdk.get_runs(run=ids["lr-0.1"])[0].metrics["accuracy"] == 0.97


@pytest.mark.parametrize(
    ("arguments", "stdin", "message"),
    [
        (["RMSE=abc"], None, "'abc' is not a number"),
        ([], '{"RMSE": "fast"}', "'fast' is not a number"),
        ([], '{"ok": true}', "bool"),
        ([], '{"nan": "nan"}', "finite"),
        ([], "[1, 2]", "expected an object"),
        ([], "not json", "stdin is not JSON"),
        (["RMSE"], None, "expected KEY=VALUE"),
        (["RMSE=1", "--param", "novalue"], None, "expected KEY=VALUE"),
        (["RMSE=1", "--param", "start=1"], None, "start"),
    ],
)
def test_submit_refuses_bad_input_and_writes_nothing(
    db_path: Path, arguments: list[str], stdin: str | None, message: str
) -> None:
    """Bad submit input exits 2 with a message, and no run is created."""
    result = invoke("submit", *arguments, stdin=stdin)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not db_path.exists() or parsed(invoke("where", "--json"))["runs"] == 0


@pytest.mark.parametrize(
    ("options", "exit_code", "text"),
    [
        (["--min", "0.9"], 0, "OK: accuracy = 0.92"),
        (["--min", "0.95"], 1, "below the minimum 0.95"),
        (["--max", "0.91"], 1, "above the maximum 0.91"),
        (["--baseline", "lr-0.01"], 0, "OK"),
        (["--baseline", "lr-0.01", "--lower-is-better"], 1, "worse than the baseline's 0.9"),
        (["--baseline", "lr-0.01", "--lower-is-better", "--tolerance", "0.05"], 0, "OK"),
    ],
)
def test_check_gates(
    filled: tuple[Path, dict[str, str]], options: list[str], exit_code: int, text: str
) -> None:
    """check exits 0 inside the bounds and 1 outside, saying why."""
    result = invoke("check", "lr-0.1", "--metric", "accuracy", *options)
    assert result.exit_code == exit_code
    assert text in result.output


def test_check_json_and_missing_metric(filled: tuple[Path, dict[str, str]]) -> None:
    """check --json reports the verdict; a missing metric is an error (2), not a pass."""
    result = invoke("check", "lr-0.1", "--metric", "accuracy", "--min", "0.95", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert (data["ok"], data["value"]) == (False, 0.92)
    assert invoke("check", "lr-0.1", "--metric", "f1", "--min", "0").exit_code == 2
    assert invoke("check", "lr-0.1", "--metric", "accuracy").exit_code == 2  # no bound given


# ---------------------------------------------------------------- reading safely


def test_missing_file_is_an_error_and_not_created(tmp_path: Path) -> None:
    """A missing database is named in the error, and no file is created."""
    missing = tmp_path / "none.db"
    for command in (["where"], ["runs"], ["show", "x"], ["export", str(tmp_path / "o.db")]):
        result = invoke(*command, "--db", str(missing))
        assert result.exit_code == 2
        assert f"no database at {missing}" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_not_a_database_and_newer_schema(
    tmp_path: Path, filled: tuple[Path, dict[str, str]]
) -> None:
    """A file that is not a tracking database, or a newer one, is refused in one line."""
    text_file = tmp_path / "notes.db"
    text_file.write_text("hello, this is not SQLite" * 100)
    result = invoke("runs", "--db", str(text_file))
    assert result.exit_code == 2
    assert "not a database" in result.stderr
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE things (x)")
    assert "not a sapdi-local database" in invoke("where", "--db", str(other)).stderr
    db, _ = filled
    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA user_version = 99")
    result = invoke("where", "--db", str(db))
    assert result.exit_code == 2
    assert "schema version 99" in result.stderr


def test_reading_never_takes_the_lock(filled: tuple[Path, dict[str, str]]) -> None:
    """Reading commands work while a writer holds the lock."""
    db, ids = filled
    with FileLock(str(db) + ".lock", timeout=1):
        assert parsed(invoke("runs", "--json"))[0]["id"] == ids["default"]
        assert invoke("show", "lr-0.1").exit_code == 0


# ---------------------------------------------------------------- export and merge


def test_export_database_copy_with_selection(
    filled: tuple[Path, dict[str, str]], tmp_path: Path, sdk_factory: Callable[..., MLTrackingSDK]
) -> None:
    """export OUT.db copies the file, optionally only the selected runs, and refuses to
    overwrite."""
    _, ids = filled
    whole, part = tmp_path / "whole.db", tmp_path / "part.db"
    assert invoke("export", str(whole)).exit_code == 0
    assert invoke("export", str(part), "--collection", "baseline").exit_code == 0
    assert len(sdk_factory(db_path=whole).get_runs(scenario="churn")) == 3
    copied = sdk_factory(db_path=part).get_runs(scenario="churn")
    assert {run.id for run in copied} == {ids["lr-0.01"], ids["lr-0.1"]}
    assert len(sdk_factory(db_path=part).get_metrics_history(run=ids["lr-0.1"])) == 2
    again = invoke("export", str(part))
    assert again.exit_code == 2
    assert "already exists" in again.stderr


def test_export_csv_and_json(filled: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """export --format csv writes runs.csv and metrics.csv; json one document."""
    _, ids = filled
    folder = tmp_path / "csv"
    assert invoke("export", str(folder), "--format", "csv").exit_code == 0
    runs_csv = (folder / "runs.csv").read_text().splitlines()
    assert len(runs_csv) == 4
    assert "param.learning_rate" in runs_csv[0] and "metric.accuracy" in runs_csv[0]
    metrics_csv = (folder / "metrics.csv").read_text().splitlines()
    assert metrics_csv[0] == "run_id,metric,step,value,timestamp"
    assert len(metrics_csv) == 1 + 2 * 5 + 1
    document = tmp_path / "runs.json"
    result = invoke("export", str(document), "--format", "json", "--run", "lr-0.1")
    assert result.exit_code == 0
    data = json.loads(document.read_text())
    assert [run["id"] for run in data["runs"]] == [ids["lr-0.1"]]
    loss = next(m for m in data["metrics"] if m["name"] == "loss")
    assert [v["step"] for v in loss["values"]] == [0, 1, 2, 3]


def test_merge_adds_once_and_reports_conflicts(
    tmp_path: Path, sdk_factory: Callable[..., MLTrackingSDK]
) -> None:
    """merge brings in missing runs, adds nothing the second time, and never overwrites a
    run that differs."""
    ours, theirs = tmp_path / "ours.db", tmp_path / "theirs.db"
    mine = sdk_factory(db_path=ours, **CONTEXT)
    shared = mine.start_run(run_name="shared")
    mine.log_metric("accuracy", 0.5)
    mine.end_run()
    mine.close()
    shutil.copy(ours, theirs)
    colleague = sdk_factory(db_path=theirs, **CONTEXT)
    colleague.log_metric("accuracy", 0.99, run=shared.id)  # same id, different content
    new_ids = set(fill(colleague).values())
    colleague.close()

    first = parsed(invoke("merge", str(theirs), "--db", str(ours), "--json"))
    assert set(first["added"]) == new_ids
    assert first["conflicts"] == [shared.id]
    second = invoke("merge", str(theirs), "--db", str(ours))
    assert second.exit_code == 0
    assert "added 0 runs, 3 already here, 1 conflict" in second.stdout
    assert f"conflict: run {shared.id}" in second.stdout
    reader = sdk_factory(db_path=ours)
    assert reader.get_runs(run=shared.id)[0].metrics["accuracy"] == 0.5
    assert len(reader.get_runs(scenario="churn")) == 4
    history = reader.get_metrics_history(run=first["added"][0])
    assert history and all(h.values for h in history)


def test_merge_missing_file(filled: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """Merging a file that does not exist is an error, and creates nothing."""
    result = invoke("merge", str(tmp_path / "absent.db"))
    assert result.exit_code == 2
    assert "no database at" in result.stderr
    assert not (tmp_path / "absent.db").exists()


# ---------------------------------------------------------------- entry points


def test_installed_entry_point(filled: tuple[Path, dict[str, str]]) -> None:
    """The installed sapdi-local script runs as a real process."""
    script = shutil.which("sapdi-local", path=str(Path(sys.executable).parent))
    assert script is not None
    db, _ = filled
    result = subprocess.run(
        [script, "where", "--db", str(db), "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["runs"] == 3
    missing = subprocess.run(
        [script, "runs", "--db", str(db.with_name("absent.db"))],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert missing.returncode == 2
    assert missing.stderr.startswith("Error: no database at")


def test_python_dash_m(filled: tuple[Path, dict[str, str]]) -> None:
    """python -m sapdi_local is the same command."""
    db, ids = filled
    result = subprocess.run(
        [sys.executable, "-m", "sapdi_local", "show", "lr-0.1", "--db", str(db), "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["id"] == ids["lr-0.1"]


def test_every_command_has_help_with_an_example() -> None:
    """Each command's --help shows an example line."""
    for name in main.commands:  # type: ignore[attr-defined]
        result = invoke(name, "--help")
        assert result.exit_code == 0
        assert "sapdi-local " + name in result.output, name
        assert "--db" in result.output


# ---------------------------------------------------------------- delete and gc


def run_names(db: Path) -> set[str]:
    with sqlite3.connect(db) as connection:
        return {row[0] for row in connection.execute("SELECT name FROM runs")}


def test_delete_shows_the_runs_and_asks_first(filled: tuple[Path, dict[str, str]]) -> None:
    """delete lists what it would delete and deletes nothing when the answer is no."""
    db, _ = filled
    result = invoke("delete", "--db", str(db), "--run", "lr-0.01", stdin="n\n")
    assert result.exit_code == 1  # click's abort
    assert "lr-0.01" in result.output and "Delete 1 run?" in result.output
    assert "lr-0.01" in run_names(db)


def test_delete_removes_the_selected_runs_with_their_values(
    filled: tuple[Path, dict[str, str]],
) -> None:
    """delete --yes removes the runs named by prefix or name, and every row they held."""
    db, ids = filled
    result = invoke(
        "delete", "--db", str(db), "--run", ids["lr-0.01"][:10], "--run", "lr-0.1", "--yes"
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("deleted 2 runs")
    assert run_names(db) == {ids["default"]}
    with sqlite3.connect(db) as connection:
        keys = connection.execute("SELECT key FROM runs").fetchall()
        for table in ("metrics", "latest_metrics", "parameters", "tags", "labels"):
            rows = connection.execute(f"SELECT DISTINCT run_key FROM {table}").fetchall()
            assert set(rows) <= set(keys), table


def test_delete_by_scenario_with_json(filled: tuple[Path, dict[str, str]]) -> None:
    """delete --scenario ... --json deletes the scenario's runs and lists their ids."""
    db, ids = filled
    data = parsed(invoke("delete", "--db", str(db), "--scenario", "churn", "--yes", "--json"))
    assert data["deleted"] == 3 and set(data["runs"]) == set(ids.values())
    assert run_names(db) == set()
    assert parsed(invoke("delete", "--db", str(db), "--scenario", "churn", "--json")) == {
        "deleted": 0,
        "runs": [],
        "kept_running": [],
    }


@pytest.mark.parametrize(
    "arguments, message",
    [
        ((), "at least one of scenario"),
        (("--notebook", "nb.ipynb"), "notebook= needs scenario= or run="),
        (("--scenario", "a,b", "--pipeline", "p"), "scenario= alone"),
        (("--run", "no-such-run"), "no run with id, id prefix or name"),
    ],
)
def test_delete_refuses_a_bad_selection(
    filled: tuple[Path, dict[str, str]], arguments: tuple[str, ...], message: str
) -> None:
    """delete follows delete_runs' rules: a bad selection exits 2 and deletes nothing."""
    db, _ = filled
    result = invoke("delete", "--db", str(db), "--yes", *arguments)
    assert result.exit_code == 2
    assert message in result.output
    assert len(run_names(db)) == 3


def test_gc_gives_back_the_space_of_deleted_runs(
    db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]
) -> None:
    """After deleting a large run, gc makes the file smaller and keeps the other runs."""
    sdk = sdk_factory(db_path=db_path, **CONTEXT)
    big = sdk.start_run(run_name="big")
    for index in range(200):
        for step in range(1000):
            sdk.log_metric(f"m{index}", step * 0.5)
    sdk.end_run()
    small = sdk.start_run(run_name="small")
    sdk.log_metric("kept", 1.0)
    sdk.end_run()
    sdk.delete_runs(run=big)
    sdk.close()
    data = parsed(invoke("gc", "--db", str(db_path), "--json"))
    assert data["bytes_after"] < data["bytes_before"] / 4
    assert run_names(db_path) == {"small"}
    assert MLTrackingSDK(db_path=db_path).get_runs(run=small)[0].metrics == {"kept": 1.0}
    result = invoke("gc", "--db", str(db_path))
    assert result.exit_code == 0 and "before" in result.output and "after" in result.output


def test_history_plot_without_uniplot_names_the_extra(
    filled: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the optional uniplot, --plot exits 2 and says which extra to install."""
    monkeypatch.setitem(sys.modules, "uniplot", None)  # makes "import uniplot" fail
    db, _ = filled
    result = invoke("history", "lr-0.01", "loss", "--plot", "--db", str(db))
    assert result.exit_code == 2
    assert "sapdi-local[plot]" in result.output


def test_submit_and_export_answer_in_json(
    filled: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """submit --json gives the run id and the metrics; export --json names what it wrote."""
    db, ids = filled
    submitted = parsed(invoke("submit", "--db", str(db), "--json", "RMSE=0.31", "n=1200"))
    assert submitted["metrics"] == {"RMSE": 0.31, "n": 1200.0}
    assert len(submitted["run_id"]) == 32
    copy = parsed(invoke("export", str(tmp_path / "copy.db"), "--db", str(db), "--json"))
    assert copy == {"format": "db", "files": [str(tmp_path / "copy.db")], "runs": 4}
    one = parsed(
        invoke(
            "export",
            str(tmp_path / "one.json"),
            "--format",
            "json",
            "--run",
            "lr-0.1",
            "--db",
            str(db),
            "--json",
        )
    )
    assert one == {"format": "json", "files": [str(tmp_path / "one.json")], "runs": 1}
    assert json.loads((tmp_path / "one.json").read_text())["runs"][0]["id"] == ids["lr-0.1"]
