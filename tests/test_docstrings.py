"""The docstring examples run: every ``>>>`` in a module of sapdi_local or sapdi is a doctest,
run against a copy of the tour database (scripts/build_tour_db.py), so an example that no
longer says what the code does fails here.

Each docstring's examples run in a namespace of their own: the module's names, plus the
names the examples share. HOME is a temporary folder holding the tour's database where the
per-user database is (``SAPDI_LOCAL_DB`` names it too) and trackio's ``demo`` project
(tests/fixtures/trackio/demo.db) where trackio keeps it; the working directory is a folder
beside it (with ``mlflow.db``, written by MLflow, for the examples that read one); the
environment holds the tour's context (scenario ``churn``, pipeline ``train.py``). The names:

- ``tracking``, ``sapdi``, ``MLTrackingSDK``, ``Path``: what a reader imports;
- ``sdk``: the default SDK of ``tracking`` (what the module functions use), on that database;
- ``store``: ``sdk.store``, the database opened for writing;
- ``run``: the tour's run ``lr-0.01`` (a Run), ``first`` and ``second`` its runs ``lr-0.1``
  and ``lr-0.01``, ``scenario``: ``"churn"``.

Examples that cannot run in a test (a live MLflow server, a browser) are marked
``# doctest: +SKIP`` with the reason beside them; they are counted below, so that a new one
is a decision, not an accident.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import as_default_sdk, repository_script

import sapdi
import sapdi_local
from sapdi_local import MLTrackingSDK, tracking

build_tour_db = repository_script("build_tour_db")

ROOT = Path(__file__).parent.parent
PACKAGES = (sapdi_local, sapdi)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
# The examples that do not run, by docstring: each says why beside it.
EXPECTED_SKIPPED = {
    "sapdi_local.ui.server.Explorer": 1,  # serving the explorer runs until stopped
}
TOUR_CONTEXT = {
    "SAPDI_SCENARIO": "churn",
    "SAPDI_SCENARIO_VERSION": "1a2b3c4d5e6f",
    "SAPDI_PIPELINE": "train.py",
    "SAPDI_EXECUTION": "9c1e5b7d2a4f4e8c8b3a6d0f1e2c4b5a",
}


def module_names() -> list[str]:
    names = []
    for package in PACKAGES:
        names.append(package.__name__)
        names.extend(
            found.name for found in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
        )
    return sorted(names)


def imported(name: str) -> ModuleType | str:
    """The module, or why it cannot be imported here (an optional extra not installed)."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        return f"{name} cannot be imported without an optional extra: {error}"


MODULES = {name: imported(name) for name in module_names()}
FINDER = doctest.DocTestFinder()


def docstrings() -> list[Any]:
    """One pytest param per docstring with examples; one skip per module not importable."""
    found: list[Any] = []
    for name, module in MODULES.items():
        if isinstance(module, str):
            found.append(pytest.param(None, id=name, marks=pytest.mark.skip(reason=module)))
            continue
        found.extend(
            pytest.param(test, id=test.name) for test in FINDER.find(module) if test.examples
        )
    return sorted(found, key=lambda param: str(param.id))


DOCSTRINGS = docstrings()


def collected() -> list[doctest.DocTest]:
    return [param.values[0] for param in DOCSTRINGS if param.values[0] is not None]


@pytest.fixture(scope="module")
def tour_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built: Path = build_tour_db.build(tmp_path_factory.mktemp("tour") / "tracking.db")
    return built


@pytest.fixture(scope="module")
def mlflow_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite file written by MLflow's own client: experiment ``churn`` with the
    runs ``lr-0.1`` and ``lr-0.01``, each a learning rate and three values of ``loss``."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{path}")
    experiment = client.create_experiment("churn")
    for name, rate in (("lr-0.1", "0.1"), ("lr-0.01", "0.01")):
        run_id = client.create_run(experiment, start_time=1_700_000_000_000, run_name=name)
        client.log_param(run_id.info.run_id, "learning_rate", rate)
        for step, loss in enumerate((0.9, 0.5, 0.3)):
            client.log_metric(run_id.info.run_id, "loss", loss, 1_700_000_000_000 + step, step)
        client.set_terminated(run_id.info.run_id, "FINISHED", end_time=1_700_000_060_000)
    return path


@pytest.fixture
def example_names(
    tour_database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """The folder, environment and names the examples run with; all put back afterwards."""
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    # Where the per-user database is on Linux (platformdirs), so that examples show it.
    database = home / ".local" / "share" / "sapdi-local" / "tracking.db"
    database.parent.mkdir(parents=True)
    shutil.copyfile(tour_database, database)
    # trackio's project database where trackio keeps it: tests/fixtures/trackio/demo.db.
    trackio = home / ".cache" / "huggingface" / "trackio"
    trackio.mkdir(parents=True)
    shutil.copyfile(ROOT / "tests" / "fixtures" / "trackio" / "demo.db", trackio / "demo.db")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("SAPDI_CHROMIUM", raising=False)  # chromium_path shows its own search
    monkeypatch.setenv("SAPDI_LOCAL_DB", str(database))
    for variable, value in TOUR_CONTEXT.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.chdir(work)
    with as_default_sdk(MLTrackingSDK()) as sdk:
        runs = {found.name: found for found in sdk.get_runs(scenario="churn")}
        yield {
            "tracking": tracking,
            "sapdi": sapdi,
            "MLTrackingSDK": MLTrackingSDK,
            "Path": Path,
            "sdk": sdk,
            "store": sdk.store,
            "run": runs["lr-0.01"],
            "first": runs["lr-0.1"],
            "second": runs["lr-0.01"],
            "scenario": "churn",
        }


@pytest.mark.timeout(120)
@pytest.mark.parametrize("test", DOCSTRINGS)
def test_docstring_examples_run(
    test: doctest.DocTest, example_names: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    if any("mlflow.db" in example.source for example in test.examples):
        # Written once, and only for the examples that read it: MLflow takes seconds to load.
        shutil.copyfile(request.getfixturevalue("mlflow_file"), Path.cwd() / "mlflow.db")
    test.globs = {**test.globs, **example_names}
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    result = runner.run(test, out=report.append)
    assert result.failed == 0, "".join(report)


def skipped_examples() -> dict[str, int]:
    counted: dict[str, int] = {}
    for test in collected():
        skipped = sum(1 for example in test.examples if example.options.get(doctest.SKIP))
        if skipped:
            counted[test.name] = skipped
    return counted


def test_the_examples_that_do_not_run_are_few_and_named() -> None:
    assert skipped_examples() == EXPECTED_SKIPPED
    assert sum(EXPECTED_SKIPPED.values()) <= 10


def test_every_example_in_the_sources_is_collected() -> None:
    """A ``>>>`` the finder does not reach (a docstring of an object it does not visit) would
    never run: every such line of the sources is an example of a collected docstring."""
    prompt = re.compile(r"^\s*>>>", re.M)
    written = 0
    for package in PACKAGES:
        for path in Path(str(package.__file__)).parent.rglob("*.py"):
            written += len(prompt.findall(path.read_text()))
    assert written == sum(len(test.examples) for test in collected())
    assert written >= 80
