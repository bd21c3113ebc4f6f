"""Shared fixtures: every test gets its own database file and its own default SDK."""

from __future__ import annotations

import functools
import importlib.util
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


# Variables that code outside the tests sets in this process; put back after each test, but
# no test's fault: pytest names the test running.
SET_BY_OTHERS = frozenset({"PYTEST_CURRENT_TEST"})


# The folder holding this checkout's package, for child processes to import it from.
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def process_state_is_restored() -> Iterator[None]:
    """Each test starts with a default SDK of its own, not yet opened (so it resolves its file
    under this test's SAPDI_LOCAL_DB), and must leave the process as it found it: the default
    SDK, the environment, the working directory and sys.path. A test that changes one without
    restoring it fails, naming what it left changed, and the state is put back so that the
    tests after it do not depend on the order they run in.

    Set up before monkeypatch (clean_environment asks for it first), so its check runs
    after monkeypatch has undone its changes."""
    environment = dict(os.environ)
    cwd = os.getcwd()
    search_path = list(sys.path)
    fresh = MLTrackingSDK()
    previous = tracking.set_default_sdk(fresh)
    yield
    left = tracking.set_default_sdk(previous)
    close_quietly(fresh)
    changed = []
    if left is not fresh:
        changed.append("the default SDK (restore it: conftest.as_default_sdk)")
    if dict(os.environ) != environment:
        differing = {name for name, _ in set(os.environ.items()) ^ set(environment.items())}
        if differing - SET_BY_OTHERS:
            changed.append(f"environment variables {sorted(differing - SET_BY_OTHERS)}")
        for name in differing - {"PYTEST_CURRENT_TEST"}:  # pytest's own, kept up to date by it
            if name in environment:
                os.environ[name] = environment[name]
            else:
                del os.environ[name]
    if os.getcwd() != cwd:
        changed.append(f"the working directory ({os.getcwd()})")
        os.chdir(cwd)
    if sys.path != search_path:
        changed.append("sys.path")
        sys.path[:] = search_path
    if changed:
        pytest.fail(
            "the test left process-wide state changed: "
            + "; ".join(changed)
            + " (use monkeypatch, or try/finally)",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def clean_environment(process_state_is_restored: None, monkeypatch: pytest.MonkeyPatch) -> None:
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


def child_environment() -> dict[str, str]:
    """The environment of a child process that imports this checkout's package, without
    the SAPDI_* variables of the test run."""
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("SAPDI_")
    }
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(PACKAGE_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    return environment


def cli_on(db: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """``sapdi-local --db DB ARGUMENTS`` in a child process, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "sapdi_local", "--db", str(db), *arguments],
        capture_output=True,
        text=True,
        env=child_environment(),
        timeout=120,
    )


def edited(path: Path, script: str) -> None:
    """Change a database file with SQL, as another tool or a hand edit would."""
    connection = sqlite3.connect(path)
    try:
        connection.executescript(script)
        connection.commit()
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
    return _module_at(Path(__file__).with_name("fixtures") / f"{name}.py", f"fixtures_{name}")


def repository_script(name: str) -> Any:
    """A script of the repository's scripts/ folder loaded as a module, by path: a test
    that put scripts/ on sys.path would change it for every test after it."""
    return _module_at(Path(__file__).parent.parent / "scripts" / f"{name}.py", f"scripts_{name}")


@functools.cache
def _module_at(path: Path, module_name: str) -> Any:
    # Loaded once: a script's dataclasses look their module up in sys.modules while made.
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
