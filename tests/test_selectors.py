"""Which runs get_runs returns and delete_runs deletes, for every selector and form.

Runs are made by several MLTrackingSDK instances on one database file, each with its
own context (scenario, version, notebook or pipeline, execution), like runs recorded
by different scripts, notebooks and processes of a project.
"""

from __future__ import annotations

import sqlite3
import warnings
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import sapdi
from sapdi_local import MLTrackingSDK, Notebook, Run, Scenario, tracking
from sapdi_local.errors import InvalidFilterError, PersistWarning, RunNotFoundError

A, B, C = "scenario-a", "scenario-b", "scenario-c"
ALL_SCENARIOS = [A, B, C]
NOTEBOOK = "explore.ipynb"
TABLES = ("metrics", "latest_metrics", "parameters", "tags", "labels")

# label -> (SDK context, tags). Runs are started in this order, one after the other.
RUN_PLAN: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
    "a1": (
        {"scenario": A, "scenario_version": "v1", "pipeline": "train.py", "execution": "exec-1"},
        {"team": "x", "stage": "dev"},
    ),
    "a2": (
        {"scenario": A, "scenario_version": "v1", "pipeline": "train.py", "execution": "exec-1"},
        {"team": "x", "stage": "prod", "epochs": 2},
    ),
    "a3": (
        {"scenario": A, "scenario_version": "v2", "pipeline": "eval.py", "execution": "exec-2"},
        {"team": "y"},
    ),
    "a4": (
        {"scenario": A, "scenario_version": "v1", "notebook": NOTEBOOK, "execution": "exec-3"},
        {"team": "x", "stage": "dev"},
    ),
    "b1": (
        {"scenario": B, "scenario_version": "v1", "pipeline": "train.py", "execution": "exec-4"},
        {"team": "x", "stage": "dev"},
    ),
    "c1": (
        {"scenario": C, "scenario_version": "v9", "notebook": NOTEBOOK, "execution": "exec-5"},
        {"team": "z"},
    ),
}
ALL_LABELS = set(RUN_PLAN)
NEWEST_FIRST = list(reversed(RUN_PLAN))


@dataclass
class World:
    """The runs by label, and the SDK of each context."""

    db_path: Path
    runs: dict[str, Run] = field(default_factory=dict)
    sdks: dict[tuple[tuple[str, str], ...], MLTrackingSDK] = field(default_factory=dict)

    def sdk_for(self, context: dict[str, str]) -> MLTrackingSDK:
        key = tuple(sorted(context.items()))
        if key not in self.sdks:
            self.sdks[key] = MLTrackingSDK(db_path=self.db_path, **context)
        return self.sdks[key]

    def close(self, keep: MLTrackingSDK | None = None) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for instance in self.sdks.values():
                if instance is not keep:
                    instance.close()


def build_world(db_path: Path, main: MLTrackingSDK) -> World:
    """Record the runs of RUN_PLAN; `main` is used for the context it was made with."""
    world = World(db_path)
    world.sdks[tuple(sorted(RUN_PLAN["a1"][0].items()))] = main
    for label, (context, tags) in RUN_PLAN.items():
        instance = world.sdk_for(context)
        world.runs[label] = instance.start_run(run_name=label)
        instance.log_metric("loss", 0.5)
        instance.log_metric("loss", 0.25)
        instance.log_parameters({"lr": 0.1})
        instance.set_tags(tags)
        instance.set_labels({"unit": "%"})
        instance.end_run()
    return world


def labels_of(runs: list[Run]) -> set[str]:
    return {run.name for run in runs}  # each run is named by its label


def all_labels_left(db_path: Path) -> set[str]:
    return labels_of(MLTrackingSDK(db_path=db_path).get_runs(scenario=ALL_SCENARIOS))


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def shared_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world for the tests that only read: get_runs changes nothing."""
    db_path = tmp_path_factory.mktemp("selectors") / "tracking.db"
    main = MLTrackingSDK(db_path=db_path, **RUN_PLAN["a1"][0])
    world = build_world(db_path, main)
    yield world
    world.close()


@pytest.fixture
def reader(shared_world: World) -> Iterator[World]:
    """The shared world, with its scenario-a pipeline SDK as the default one."""
    main = shared_world.sdk_for(RUN_PLAN["a1"][0])
    previous = tracking.set_default_sdk(main)
    try:
        yield shared_world
    finally:
        tracking.set_default_sdk(previous)


@pytest.fixture
def world(sdk: MLTrackingSDK, db_path: Path) -> Iterator[World]:
    """A fresh world in the test's own database, for tests that delete."""
    built = build_world(db_path, sdk)  # `sdk` has the context of a1 and a2
    yield built
    built.close(keep=sdk)  # conftest closes `sdk` itself


# ---------------------------------------------------------------- selection tables

Select = Callable[[dict[str, Run]], dict[str, Any]]

# (selectors built from the runs, labels selected). Used by get_runs and delete_runs.
SELECTIONS: dict[str, tuple[Select, set[str]]] = {
    # scenario
    "scenario-object": (lambda r: {"scenario": Scenario(A)}, {"a1", "a2", "a3", "a4"}),
    "scenario-object-with-version": (
        lambda r: {"scenario": Scenario(B, version="v1")},
        {"b1"},
    ),
    "scenario-id": (lambda r: {"scenario": B}, {"b1"}),
    "scenario-comma": (lambda r: {"scenario": f"{B},{C}"}, {"b1", "c1"}),
    "scenario-comma-spaces": (lambda r: {"scenario": f"{B}, {C}"}, {"b1", "c1"}),
    "scenario-list": (lambda r: {"scenario": [Scenario(B), C]}, {"b1", "c1"}),
    "scenario-current": (
        lambda r: {"scenario": sapdi.get_current_scenario()},
        {"a1", "a2", "a3", "a4"},
    ),
    # scenario_version
    "version-id": (lambda r: {"scenario_version": "v2"}, {"a3"}),
    "version-shared-by-scenarios": (
        lambda r: {"scenario_version": "v1"},
        {"a1", "a2", "a4", "b1"},
    ),
    "version-comma": (lambda r: {"scenario_version": "v2,v9"}, {"a3", "c1"}),
    "version-list": (lambda r: {"scenario_version": ["v9"]}, {"c1"}),
    "version-object": (lambda r: {"scenario_version": SimpleNamespace(id="v9")}, {"c1"}),
    # pipeline
    "pipeline-id": (lambda r: {"pipeline": "train.py"}, {"a1", "a2", "b1"}),
    "pipeline-comma": (lambda r: {"pipeline": "eval.py,train.py"}, {"a1", "a2", "a3", "b1"}),
    "pipeline-list-with-object": (
        lambda r: {"pipeline": ["eval.py", SimpleNamespace(id="train.py")]},
        {"a1", "a2", "a3", "b1"},
    ),
    # execution
    "execution-id": (lambda r: {"execution": "exec-2"}, {"a3"}),
    "execution-comma": (lambda r: {"execution": "exec-1,exec-5"}, {"a1", "a2", "c1"}),
    "execution-list-object": (lambda r: {"execution": [SimpleNamespace(id="exec-4")]}, {"b1"}),
    # notebook, with scenario or run
    "notebook-object-with-scenario": (
        lambda r: {"scenario": A, "notebook": Notebook(NOTEBOOK)},
        {"a4"},
    ),
    "notebook-id-with-scenario-list": (
        lambda r: {"scenario": [A, C], "notebook": NOTEBOOK},
        {"a4", "c1"},
    ),
    "notebook-list-with-run": (
        lambda r: {"run": [r["a4"], r["a1"], r["c1"]], "notebook": [Notebook(NOTEBOOK)]},
        {"a4", "c1"},
    ),
    # run
    "run-object": (lambda r: {"run": r["a1"]}, {"a1"}),
    "run-id": (lambda r: {"run": r["b1"].id}, {"b1"}),
    "run-comma": (lambda r: {"run": f"{r['a1'].id},{r['c1'].id}"}, {"a1", "c1"}),
    "run-list-mixed": (lambda r: {"run": [r["a2"], r["b1"].id]}, {"a2", "b1"}),
    "run-unknown-object": (lambda r: {"run": Run(id="nope")}, set()),
    # selectors together: all must hold
    "scenario-and-pipeline": (lambda r: {"scenario": A, "pipeline": "train.py"}, {"a1", "a2"}),
    "version-and-execution": (
        lambda r: {"scenario_version": "v1", "execution": "exec-1,exec-4"},
        {"a1", "a2", "b1"},
    ),
    "scenario-and-run-of-another-scenario": (lambda r: {"scenario": A, "run": r["b1"]}, set()),
    # an explicitly empty list selects nothing
    "empty-run-list": (lambda r: {"run": []}, set()),
    "empty-scenario-list": (lambda r: {"scenario": []}, set()),
    "empty-pipeline-list-with-scenario": (lambda r: {"scenario": A, "pipeline": []}, set()),
}

TAG_SELECTIONS: dict[str, tuple[dict[str, Any], set[str]]] = {
    "one-pair": ({"team": "x"}, {"a1", "a2", "a4", "b1"}),
    "all-pairs-must-match": ({"team": "x", "stage": "dev"}, {"a1", "a4", "b1"}),
    "one-pair-missing": ({"team": "x", "stage": "missing"}, set()),
    "value-compared-as-str": ({"epochs": 2}, {"a2"}),
    "unknown-key": ({"nothing": "x"}, set()),
    "runName": ({"runName": "b1"}, {"b1"}),
    "runName-and-tag": ({"runName": "a1", "team": "x"}, {"a1"}),
    "runName-and-other-tag": ({"runName": "a1", "team": "y"}, set()),
    "runName-unknown": ({"runName": "zz"}, set()),
}


@pytest.mark.parametrize(("select", "expected"), SELECTIONS.values(), ids=SELECTIONS.keys())
def test_get_runs_selects(reader: World, select: Select, expected: set[str]) -> None:
    """Each selector form (object, id, comma-separated ids, list) selects the right runs."""
    assert labels_of(tracking.get_runs(**select(reader.runs))) == expected


@pytest.mark.parametrize(("tags", "expected"), TAG_SELECTIONS.values(), ids=TAG_SELECTIONS.keys())
def test_get_runs_tags_filter(reader: World, tags: dict[str, Any], expected: set[str]) -> None:
    """tags= keeps the runs that have every pair; runName filters on the run's name."""
    assert labels_of(tracking.get_runs(scenario=ALL_SCENARIOS, tags=tags)) == expected


def test_get_runs_returns_newest_first(reader: World) -> None:
    """get_runs lists the most recently started run first."""
    runs = tracking.get_runs(scenario=ALL_SCENARIOS)
    assert [run.name for run in runs] == NEWEST_FIRST
    assert [run.start_time for run in runs] == sorted(
        (run.start_time for run in runs), reverse=True
    )


def test_get_runs_returns_complete_runs_whatever_the_selector(reader: World) -> None:
    """The same run read through different selectors carries the same stored data."""
    by_run = tracking.get_runs(run=reader.runs["a4"])[0]
    by_notebook = tracking.get_runs(scenario=A, notebook=NOTEBOOK)[0]
    assert by_run == by_notebook
    assert by_run.notebook == NOTEBOOK and by_run.pipeline is None
    assert by_run.metrics == {"loss": 0.25}
    assert by_run.tags == {"team": "x", "stage": "dev", "runName": "a4"}
    assert by_run.labels == {"unit": "%"}
    assert by_run.parameters["lr"] == "0.1"


# ---------------------------------------------------------------- refused selections

FILTER_ERRORS: dict[str, Callable[[dict[str, Run]], object]] = {
    "get_runs-nothing": lambda r: tracking.get_runs(),
    "delete_runs-nothing": lambda r: tracking.delete_runs(),
    "get_runs-tags-only": lambda r: tracking.get_runs(tags={"team": "x"}),
    "get_runs-notebook-only": lambda r: tracking.get_runs(notebook=Notebook(NOTEBOOK)),
    "delete_runs-notebook-only": lambda r: tracking.delete_runs(notebook=Notebook(NOTEBOOK)),
    "get_runs-notebook-and-pipeline": lambda r: tracking.get_runs(
        notebook=NOTEBOOK, pipeline="train.py"
    ),
    "delete_runs-notebook-and-version": lambda r: tracking.delete_runs(
        notebook=NOTEBOOK, scenario_version="v1"
    ),
    "delete_runs-scenario-list-and-version": lambda r: tracking.delete_runs(
        scenario=[A, B], scenario_version="v1"
    ),
    "delete_runs-scenario-list-and-pipeline": lambda r: tracking.delete_runs(
        scenario=[Scenario(A), Scenario(B)], pipeline="train.py"
    ),
    "delete_runs-scenario-list-and-execution": lambda r: tracking.delete_runs(
        scenario=[A, B], execution="exec-1"
    ),
    "delete_runs-scenario-list-and-notebook": lambda r: tracking.delete_runs(
        scenario=[A, C], notebook=Notebook(NOTEBOOK)
    ),
    "delete_runs-scenario-list-and-run": lambda r: tracking.delete_runs(
        scenario=[A, B], run=r["a1"]
    ),
    "delete_runs-scenario-comma-and-pipeline": lambda r: tracking.delete_runs(
        scenario=f"{A},{B}", pipeline="train.py"
    ),
    "get_runs-selector-of-wrong-type": lambda r: tracking.get_runs(scenario=5),
    "delete_runs-selector-of-wrong-type": lambda r: tracking.delete_runs(run=3.5),
    "get_runs-tags-not-a-dict": lambda r: tracking.get_runs(scenario=A, tags=["team"]),
}


@pytest.mark.parametrize("call", FILTER_ERRORS.values(), ids=FILTER_ERRORS.keys())
def test_bad_selection_is_refused_and_deletes_nothing(world: World, call) -> None:
    """Missing selectors, notebook alone, or bulk scenarios with more raise InvalidFilterError."""
    with pytest.raises(InvalidFilterError):
        call(world.runs)
    assert all_labels_left(world.db_path) == ALL_LABELS


# ---------------------------------------------------------------- delete_runs


def run_keys(db_path: Path) -> dict[str, int]:
    with closing(sqlite3.connect(db_path)) as connection:
        return dict(connection.execute("SELECT id, key FROM runs"))


def rows_per_run(db_path: Path, keys: list[int]) -> dict[str, dict[int, int]]:
    """For each table, how many rows each run key has (keys without rows are left out)."""
    counts: dict[str, dict[int, int]] = {}
    with closing(sqlite3.connect(db_path)) as connection:
        for table in TABLES:
            counts[table] = {
                key: count
                for key in keys
                for (count,) in connection.execute(
                    f"SELECT COUNT(*) FROM {table} WHERE run_key = ?", (key,)
                )
                if count
            }
    return counts


# Several scenarios at once take no other selector in delete_runs (see FILTER_ERRORS).
DELETIONS = {key: row for key, row in SELECTIONS.items() if key != "notebook-id-with-scenario-list"}


def orphan_rows(db_path: Path) -> dict[str, int]:
    """Rows, per table, that belong to no run."""
    with closing(sqlite3.connect(db_path)) as connection:
        return {
            table: connection.execute(
                f"SELECT COUNT(*) FROM {table} WHERE run_key NOT IN (SELECT key FROM runs)"
            ).fetchone()[0]
            for table in TABLES
        }


@pytest.mark.parametrize(("select", "expected"), DELETIONS.values(), ids=DELETIONS.keys())
def test_delete_runs_deletes_the_selected_runs_and_their_data(
    world: World, select: Select, expected: set[str]
) -> None:
    """delete_runs removes exactly the selected runs, every row logged to them, nothing else."""
    keys = run_keys(world.db_path)
    by_label = {label: keys[run.id] for label, run in world.runs.items()}
    before = rows_per_run(world.db_path, list(by_label.values()))
    # Every run had rows in every table, so "no rows left" below means something.
    assert all(len(counts) == len(ALL_LABELS) for counts in before.values())

    deleted = tracking.delete_runs(**select(world.runs))

    assert deleted == len(expected)
    assert all_labels_left(world.db_path) == ALL_LABELS - expected
    after = rows_per_run(world.db_path, list(by_label.values()))
    for table in TABLES:
        for label, key in by_label.items():
            if label in expected:
                assert key not in after[table], (table, label)
            else:
                assert after[table][key] == before[table][key], (table, label)
    left = run_keys(world.db_path)
    assert {label for label, run in world.runs.items() if run.id not in left} == expected
    assert orphan_rows(world.db_path) == {table: 0 for table in TABLES}
    for label in expected:
        with pytest.raises(RunNotFoundError):
            tracking.get_metrics_history(run=world.runs[label])


def test_delete_runs_scenario_with_notebook_is_allowed(world: World) -> None:
    """One scenario with a notebook deletes that notebook's runs of that scenario only."""
    assert tracking.delete_runs(scenario=Scenario(A), notebook=Notebook(NOTEBOOK)) == 1
    assert all_labels_left(world.db_path) == ALL_LABELS - {"a4"}


def test_delete_runs_bulk_scenarios(world: World) -> None:
    """A list of scenarios alone deletes every run of each, and the count is returned."""
    assert tracking.delete_runs(scenario=[Scenario(A), B]) == 5
    assert all_labels_left(world.db_path) == {"c1"}
    assert tracking.delete_runs(scenario=f"{A},{B}") == 0  # already gone


def test_delete_runs_empty_list_deletes_nothing(world: World) -> None:
    """An explicitly empty selector list deletes nothing and returns 0."""
    assert tracking.delete_runs(scenario=[]) == 0
    assert tracking.delete_runs(run=[]) == 0
    assert tracking.delete_runs(scenario=A, execution=[]) == 0
    assert all_labels_left(world.db_path) == ALL_LABELS


def test_delete_runs_unknown_run_deletes_nothing(world: World) -> None:
    """Deleting an id that does not exist returns 0 and leaves every run in place."""
    assert tracking.delete_runs(run=Run(id="nope")) == 0
    assert tracking.delete_runs(run="nope,also-nope") == 0
    assert all_labels_left(world.db_path) == ALL_LABELS


def test_runs_deleted_by_another_sdk_are_gone_for_everyone(world: World) -> None:
    """A delete through one SDK is seen by the others; late writes to it do not revive it."""
    other = world.sdk_for(RUN_PLAN["c1"][0])
    assert other.delete_runs(run=world.runs["a1"]) == 1
    assert tracking.get_runs(run=world.runs["a1"]) == []
    # The SDK that made a1 may still write to it: the values are dropped, with a warning
    # (from the call itself, which persists what it logs to a run other than the active one).
    with pytest.warns(PersistWarning, match=world.runs["a1"].id):
        tracking.log_metric("loss", 1.0, run=world.runs["a1"])
    assert run_keys(world.db_path).get(world.runs["a1"].id) is None
    # An SDK that never saw a1 refuses it at once.
    with pytest.raises(RunNotFoundError):
        MLTrackingSDK(db_path=world.db_path).log_metric("loss", 1.0, run=world.runs["a1"])


# ---------------------------------------------------------------- unknown runs

UNKNOWN_RUN_CALLS: dict[str, Callable[[Any], object]] = {
    "log_metric": lambda run: tracking.log_metric("m", 1.0, run=run),
    "log_metric-step": lambda run: tracking.log_metric("m", 1.0, run=run, step=1),
    "log_metrics": lambda run: tracking.log_metrics({"m": 1.0}, run=run),
    "log_parameters": lambda run: tracking.log_parameters({"p": 1}, run=run),
    "set_tags": lambda run: tracking.set_tags({"t": 1}, run=run),
    "set_labels": lambda run: tracking.set_labels({"l": 1}, run=run),
    "update_run_info": lambda run: tracking.update_run_info(run=run, run_name="x"),
    "get_metrics_history": lambda run: tracking.get_metrics_history(run=run),
}


@pytest.mark.parametrize("as_object", [False, True], ids=["id", "Run"])
@pytest.mark.parametrize("call", UNKNOWN_RUN_CALLS.values(), ids=UNKNOWN_RUN_CALLS.keys())
def test_unknown_run_raises_run_not_found(sdk: MLTrackingSDK, call, as_object: bool) -> None:
    """A run= that names no stored run raises RunNotFoundError, even with a run active."""
    active = tracking.start_run()
    tracking.log_metric("m", 0.5)
    with pytest.raises(RunNotFoundError) as raised:
        call(Run(id="no-such-id") if as_object else "no-such-id")
    assert isinstance(raised.value, LookupError)
    assert "no-such-id" in str(raised.value)
    tracking.end_run()
    # Nothing went to the active run instead.
    [stored] = tracking.get_runs(run=active)
    assert stored.metrics == {"m": 0.5}
    assert stored.name == active.id
    assert set(stored.parameters) == {"start", "end"}
    assert stored.tags == {"runName": active.id} and stored.labels == {}


def test_get_runs_of_unknown_run_is_empty(sdk: MLTrackingSDK) -> None:
    """get_runs(run=Run(id='nope')) is an empty list, not an error."""
    assert tracking.get_runs(run=Run(id="nope")) == []
    assert tracking.get_runs(run="nope") == []
