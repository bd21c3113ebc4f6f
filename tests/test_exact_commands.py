"""Commands that delete, write files or take a payload do exactly what they say.

Through the real entry point: click's runner for most, a real ``python -m sapdi_local``
process where timing, a terminal or a kernel limit matters (a prompt that waits while
another run starts, a pseudo-terminal on stdin, a file size limit that makes a persist fail).
"""

from __future__ import annotations

import json
import os
import pty
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import CONTEXT_VARIABLES, close_quietly

from sapdi_local import MLTrackingSDK
from sapdi_local.cli import main

PROCESS_TIMEOUT = 120


def invoke(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "sapdi_local", *args]


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CONTEXT_VARIABLES}
    env.update(extra)
    return env


def finished_runs(db: Path, scenario: str, names: list[str]) -> dict[str, str]:
    ids = {}
    with MLTrackingSDK(db_path=db, scenario=scenario) as sdk:
        for name in names:
            ids[name] = sdk.start_run(run_name=name).id
            sdk.log_metric("loss", 0.5)
            sdk.end_run()
    return ids


def run_names(db: Path) -> list[str]:
    connection = sqlite3.connect(db)
    try:
        return sorted(row[0] for row in connection.execute("SELECT name FROM runs"))
    finally:
        connection.close()


# ---------------------------------------------------------------- delete


def read_until(stream: Any, marker: str) -> str:
    seen = ""
    while marker not in seen:
        character = stream.read(1)
        if not character:
            raise AssertionError(f"the command ended before {marker!r}; it printed {seen!r}")
        seen += character
    return seen


@pytest.mark.timeout(120)  # a child process that hangs would otherwise block a read
def test_delete_deletes_exactly_the_runs_it_listed(tmp_path: Path) -> None:
    """A run started in the scenario while the prompt waits is not deleted: the command
    deletes the listed runs by id, not by running its selectors again."""
    db = tmp_path / "t.db"
    finished_runs(db, "s", ["a", "b"])
    process = subprocess.Popen(
        command("delete", "--scenario", "s", "--db", str(db)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        assert process.stderr is not None and process.stdin is not None
        read_until(process.stderr, "Delete 2 runs?")
        finished_runs(db, "s", ["started-while-asking"])
        process.stdin.write("y\n")
        process.stdin.flush()
        out, err = process.communicate(timeout=PROCESS_TIMEOUT)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "deleted 2 runs" in out
    assert run_names(db) == ["started-while-asking"]


def test_delete_keeps_a_run_whose_process_is_running_unless_told(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    finished_runs(db, "s", ["done"])
    live = MLTrackingSDK(db_path=db, scenario="s")
    live.start_run(run_name="training")
    live.log_metric("loss", 0.1)
    live.persist_run()
    try:
        result = invoke("delete", "--scenario", "s", "--yes", "--db", str(db))
        assert result.exit_code == 0, result.output
        assert "kept: run" in result.stderr and "(training) is still running" in result.stderr
        assert "deleted 1 run" in result.stdout
        assert run_names(db) == ["training"]
        as_json = invoke("delete", "--scenario", "s", "--yes", "--json", "--db", str(db))
        assert json.loads(as_json.stdout)["kept_running"] == [live.active_run.id]
        forced = invoke("delete", "--scenario", "s", "--yes", "--include-running", "--db", str(db))
        assert "deleted 1 run" in forced.stdout
        assert run_names(db) == []
    finally:
        close_quietly(live)  # it warns that its run was deleted under it, as it should


# ---------------------------------------------------------------- files written


@pytest.mark.parametrize("fmt", ["db", "json", "csv"])
def test_export_refuses_an_existing_file_unless_told_and_never_writes_through_a_link(
    tmp_path: Path, fmt: str
) -> None:
    db = tmp_path / "t.db"
    finished_runs(db, "s", ["a"])
    out = tmp_path / ("out" if fmt == "csv" else f"out.{fmt}")
    victim = tmp_path / "passwd"
    victim.write_text("root:x:0:0\n")
    existing = out / "runs.csv" if fmt == "csv" else out
    existing.parent.mkdir(exist_ok=True)
    existing.symlink_to(victim)

    refused = invoke("export", str(out), "--format", fmt, "--db", str(db))
    assert refused.exit_code == 2
    assert "already exists" in refused.output and "--replace" in refused.output
    assert victim.read_text() == "root:x:0:0\n"

    replaced = invoke("export", str(out), "--format", fmt, "--replace", "--db", str(db))
    assert replaced.exit_code == 0, replaced.output
    assert victim.read_text() == "root:x:0:0\n"  # the link was replaced, not its target
    assert not existing.is_symlink()
    written = [out / "runs.csv", out / "metrics.csv"] if fmt == "csv" else [out]
    for path in written:
        assert path.stat().st_mode & 0o777 == 0o600
    assert not [p for p in tmp_path.rglob("*.partial")]


@pytest.mark.parametrize("fmt", ["db", "json", "csv"])
def test_export_files_are_private_unless_shared(tmp_path: Path, fmt: str) -> None:
    db = tmp_path / "t.db"
    finished_runs(db, "s", ["a"])
    for shared, mode in ((False, 0o600), (True, 0o644)):
        out = tmp_path / f"out-{shared}"
        flags = ["--shared"] if shared else []
        assert invoke("export", str(out), "--format", fmt, *flags, "--db", str(db)).exit_code == 0
        written = [out / "runs.csv", out / "metrics.csv"] if fmt == "csv" else [out]
        for path in written:
            assert path.stat().st_mode & 0o777 == mode


# ---------------------------------------------------------------- submit


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ('{"n": ' + "9" * 5000 + "}", "cannot be read as metrics"),
        ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "cannot be read as metrics"),
        ("{}", "empty object: nothing to submit"),
        ("", "stdin is empty"),
        ("   \n", "stdin is empty"),
        ('{"loss": 1e999}', "not a finite number"),
        ('{"loss": {"nested": 1}}', "must have a numeric value"),
    ],
    ids=["5000 digits", "deep nesting", "empty object", "empty", "blank", "inf", "nested"],
)
def test_submit_refuses_bad_payloads_in_one_line_with_exit_2(
    tmp_path: Path, payload: str, expected: str
) -> None:
    db = tmp_path / "t.db"
    result = invoke("submit", "--db", str(db), input=payload)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not db.exists() or run_names(db) == []


def test_submit_with_a_terminal_on_stdin_and_no_arguments_is_a_usage_error(
    tmp_path: Path,
) -> None:
    """A pseudo-terminal on stdin: the command does not wait for JSON nobody will type."""
    main_end, terminal = pty.openpty()
    try:
        result = subprocess.run(
            command("submit", "--db", str(tmp_path / "t.db")),
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=PROCESS_TIMEOUT,
            env=child_env(),
        )
    finally:
        os.close(terminal)
        os.close(main_end)
    assert result.returncode == 2
    assert "give metrics as NAME=VALUE arguments, or pipe a JSON object" in result.stderr
    assert not (tmp_path / "t.db").exists()


def test_a_submit_whose_persist_fails_says_so_once_and_leaves_no_run(tmp_path: Path) -> None:
    """A file size limit (the kernel's EFBIG, as on a full disk) makes the persist of the
    metrics fail after the run was started: one error line, no warning, and the started run
    is removed rather than left behind shown KILLED."""
    db = tmp_path / "t.db"
    MLTrackingSDK(db_path=db).close()
    finished = MLTrackingSDK(db_path=db, scenario="s")
    finished.get_runs(scenario="s")
    finished.close()
    payload = json.dumps({f"metric_{index:05d}": index for index in range(5000)})

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    result = subprocess.run(
        command("submit", "--db", str(db), "--run-name", "too-big"),
        input=payload,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        env=child_env(),
        preexec_fn=limit_file_size,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "nothing was submitted" in lines[0]
    assert "warning" not in result.stderr.lower()
    assert run_names(db) == []


# ---------------------------------------------------------------- ui --open


@pytest.mark.timeout(120)  # a child process that hangs would otherwise block a read
def test_ui_open_says_when_no_browser_could_be_opened(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    finished_runs(db, "s", ["a"])
    env = child_env(BROWSER="false")
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    process = subprocess.Popen(
        command("ui", "--db", str(db), "--port", "0", "--open"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
    finally:
        process.terminate()
        process.communicate(timeout=PROCESS_TIMEOUT)
    assert "could not open a web browser" in line


# ---------------------------------------------------------------- a replaced file


def test_the_explorer_notices_a_database_file_replaced_under_it(tmp_path: Path) -> None:
    """A new copy moved over the file the explorer serves: the next request shows its runs,
    not the old file's."""
    import httpx

    from sapdi_local.ui.server import Explorer

    db = tmp_path / "t.db"
    finished_runs(db, "s", ["old"])
    app = Explorer(db)
    transport = httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url="http://127.0.0.1:8600") as client:
        names = [run["name"] for run in client.get("/api/runs?scenario=s").json()["runs"]]
        assert names == ["old"]
        fresh = tmp_path / "fresh.db"
        finished_runs(fresh, "s", ["new-1", "new-2"])
        os.replace(fresh, db)
        names = [run["name"] for run in client.get("/api/runs?scenario=s").json()["runs"]]
        assert sorted(names) == ["new-1", "new-2"]
    app.close()


def test_a_writer_whose_file_was_removed_writes_a_new_file_rather_than_nowhere(
    tmp_path: Path,
) -> None:
    db = tmp_path / "t.db"
    sdk = MLTrackingSDK(db_path=db, scenario="s")
    sdk.start_run(run_name="first")
    sdk.end_run()
    for part in tmp_path.glob("t.db*"):
        part.unlink()
    sdk.start_run(run_name="second")
    sdk.log_metric("loss", 0.5)
    sdk.end_run()
    sdk.close()
    assert run_names(db) == ["second"]


def test_discard_pending_drops_what_is_cached_and_logging_goes_on(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    with MLTrackingSDK(db_path=db, scenario="s") as sdk:
        run = sdk.start_run(run_name="r")
        sdk.log_metric("loss", 1.0)
        sdk.persist_run()
        sdk.log_metric("loss", 2.0)
        sdk.log_parameters({"dropped": 1})
        sdk.discard_pending()
        assert not sdk.has_pending()
        sdk.log_metric("loss", 3.0)
        sdk.end_run()
        history = sdk.get_metrics_history(run=run.id, metrics="loss")[0]
        assert [value.value for value in history.values] == [1.0, 3.0]
        assert [value.step for value in history.values] == [0, 1]
        assert "dropped" not in sdk.get_runs(run=run.id)[0].parameters
