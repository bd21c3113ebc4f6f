"""Hostile inputs to the export's files and the command line that the package withstands:
partial-looking names that are not this user's left partial files, search expressions past
the language's limits, --db naming something that is not a database file, and an export
run inside a program that set its own SIGTERM handler."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sapdi_local.cli import main


def sapdi_local(*arguments: str) -> subprocess.CompletedProcess[str]:
    """``python -m sapdi_local`` in a child, as a user types it."""
    return subprocess.run(
        [sys.executable, "-m", "sapdi_local", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def small_db(tmp_path: Path) -> Path:
    db = tmp_path / "small.db"
    for value in ("1", "2"):
        submitted = sapdi_local("submit", f"accuracy={value}", "--db", str(db))
        assert submitted.returncode == 0, submitted.stderr
    return db


def gone_pid() -> int:
    """The pid of a process that has ended (no partial file of it can still be written)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=60)
    return child.pid


def test_a_folder_named_like_a_left_partial_file_is_kept(small_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    folder = out / f".runs.json.{gone_pid()}-0.partial"
    folder.mkdir()
    (folder / "inside").write_text("kept")
    exported = sapdi_local(
        "export", str(out / "runs.json"), "--format", "json", "--db", str(small_db)
    )
    assert exported.returncode == 0, exported.stderr
    assert (folder / "inside").read_text() == "kept"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_another_users_left_partial_file_is_kept(small_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    theirs = out / f".runs.json.{gone_pid()}-0.partial"
    theirs.write_text("another user's")
    os.chown(theirs, 65534, 65534)
    exported = sapdi_local(
        "export", str(out / "runs.json"), "--format", "json", "--db", str(small_db)
    )
    assert exported.returncode == 0, exported.stderr
    assert theirs.read_text() == "another user's"


@pytest.mark.parametrize(
    ("where", "names"),
    [
        (" or ".join(f"params.lr = {i}" for i in range(201)), "at most 200 conditions"),
        ("(" * 5000 + "params.lr = 1" + ")" * 5000, "at most 10,000 characters"),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "csv", "db"])
def test_an_export_past_the_search_limits_writes_nothing(
    small_db: Path, tmp_path: Path, where: str, names: str, fmt: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = CliRunner().invoke(
        main, ["export", str(out / "x"), "--format", fmt, "--where", where, "--db", str(small_db)]
    )
    assert result.exit_code != 0
    assert names in result.output
    assert "Traceback" not in result.output
    assert os.listdir(out) == []


@pytest.mark.parametrize("given", ["folder", "fifo", "/dev/zero", "loop"])
@pytest.mark.parametrize(
    "command", [["where"], ["runs", "--json"], ["export", "out.json", "--format", "json"]]
)
def test_a_db_that_is_not_a_database_file_is_a_clear_error(
    tmp_path: Path, given: str, command: list[str]
) -> None:
    if given == "folder":
        db = tmp_path / "folder"
        db.mkdir()
    elif given == "fifo":
        db = tmp_path / "fifo"
        os.mkfifo(db)
    elif given == "loop":
        db = tmp_path / "loop1"
        db.symlink_to(tmp_path / "loop2")
        (tmp_path / "loop2").symlink_to(db)
    else:
        db = Path(given)
    exported = subprocess.run(
        [sys.executable, "-m", "sapdi_local", *command, "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert exported.returncode == 2
    assert exported.stderr.splitlines()[-1].startswith("Error: ")
    assert "Traceback" not in exported.stderr
    assert not (tmp_path / "out.json").exists()


def test_an_export_inside_a_program_puts_its_sigterm_handler_back(
    small_db: Path, tmp_path: Path
) -> None:
    def programs_own(signum: int, frame: object) -> None:
        raise AssertionError("not called in this test")

    previous = signal.signal(signal.SIGTERM, programs_own)
    try:
        result = CliRunner().invoke(
            main,
            ["export", str(tmp_path / "x.json"), "--format", "json", "--db", str(small_db)],
        )
        assert result.exit_code == 0, result.output
        assert signal.getsignal(signal.SIGTERM) is programs_own
    finally:
        signal.signal(signal.SIGTERM, previous)
