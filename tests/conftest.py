"""Shared fixtures: every test gets its own database file and its own default SDK."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from sapdi_local import MLTrackingSDK, tracking

CONTEXT_VARIABLES = (
    "SAPDI_LOCAL_DB",
    "SAPDI_SCENARIO",
    "SAPDI_SCENARIO_VERSION",
    "SAPDI_NOTEBOOK",
    "SAPDI_PIPELINE",
    "SAPDI_EXECUTION",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SAPDI_* variable from the machine leaks into a test."""
    for name in CONTEXT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh database file in tmp_path, also set as SAPDI_LOCAL_DB."""
    path = tmp_path / "tracking.db"
    monkeypatch.setenv("SAPDI_LOCAL_DB", str(path))
    return path


@pytest.fixture
def sdk(db_path: Path) -> Iterator[MLTrackingSDK]:
    """A fresh default SDK (what the module functions use) with a fixed context."""
    instance = MLTrackingSDK(
        db_path=db_path,
        scenario="scenario-a",
        scenario_version="v1",
        pipeline="train.py",
        execution="exec-1",
    )
    previous = tracking.set_default_sdk(instance)
    try:
        yield instance
    finally:
        tracking.set_default_sdk(previous)
        with warnings.catch_warnings():
            # A test may leave the database unwritable on purpose; closing only warns then.
            warnings.simplefilter("ignore")
            instance.close()


def run_python(code: str, *, env: dict[str, str] | None = None, cwd: Path | None = None,
               timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (dedented), with SAPDI_* taken from ``env``."""
    full_env = {k: v for k, v in os.environ.items() if k not in CONTEXT_VARIABLES}
    full_env.update(env or {})
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"child exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result
