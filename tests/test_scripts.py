"""The scripts beside the package do what their docstrings say."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from sapdi_local.ui.headless import CHROMIUM_ENV_VAR, chromium_path

ROOT = Path(__file__).parent.parent


def test_chromium_path_honours_sapdi_chromium(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = tmp_path / "my-chromium"
    monkeypatch.setenv(CHROMIUM_ENV_VAR, str(browser))
    assert chromium_path() == browser
    monkeypatch.delenv(CHROMIUM_ENV_VAR)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert chromium_path() == Path("/usr/bin/chromium")
    (tmp_path / "chromium").write_text("#!/bin/sh\n")
    (tmp_path / "chromium").chmod(0o755)
    assert chromium_path() == tmp_path / "chromium"


def test_every_launch_of_chromium_goes_through_one_place() -> None:
    for path in (
        ROOT / "scripts" / "explorer_screenshot.py",
        ROOT / "benchmarks" / "explorer.py",
        ROOT / "tests" / "test_ui_browser.py",
    ):
        text = path.read_text()
        assert "chromium_path()" in text and "/usr/bin/chromium" not in text, path


def test_demo_runs_writes_what_it_says(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo_runs.py"), str(db)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    connection = sqlite3.connect(db)
    try:
        statuses = {row[0] for row in connection.execute("SELECT status FROM runs")}
        scenarios = {row[0] for row in connection.execute("SELECT scenario FROM runs")}
        collections = connection.execute(
            "SELECT COUNT(DISTINCT scenario || '/' || collection) FROM runs"
        ).fetchone()[0]
    finally:
        connection.close()
    assert statuses == {"FINISHED"}
    assert scenarios == {"churn", "demand-forecast"}
    assert collections == 4
