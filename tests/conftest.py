"""Shared fixtures: every test gets its own database file and its own default SDK."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


def close_quietly(instance: MLTrackingSDK) -> None:
    """Close an SDK; a test may leave its database unwritable on purpose, and closing only
    warns then."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        instance.close()


@contextmanager
def as_default_sdk(instance: MLTrackingSDK) -> Iterator[MLTrackingSDK]:
    """Make ``instance`` the SDK of the module functions, then restore the previous one."""
    previous = tracking.set_default_sdk(instance)
    try:
        yield instance
    finally:
        tracking.set_default_sdk(previous)
        close_quietly(instance)


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
    with as_default_sdk(instance):
        yield instance


@pytest.fixture
def sdk_factory() -> Iterator[Callable[..., MLTrackingSDK]]:
    """Build MLTrackingSDKs with any arguments; each is closed when the test ends."""
    made: list[MLTrackingSDK] = []

    def make(**arguments: Any) -> MLTrackingSDK:
        instance = MLTrackingSDK(**arguments)
        made.append(instance)
        return instance

    yield make
    for instance in made:
        close_quietly(instance)


@contextmanager
def read_only(db: Path) -> Iterator[sqlite3.Connection]:
    """A connection that can only read the database file, closed afterwards."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        yield connection
    finally:
        connection.close()


def run_python(
    code: str,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
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


def fixture_script(name: str) -> Any:
    """A script of tests/fixtures loaded as a module, by path: putting that folder on
    sys.path would also make its data folders importable (tests/fixtures/trackio would pass
    for the trackio package)."""
    import importlib.util

    path = Path(__file__).with_name("fixtures") / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"fixtures_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
