"""Where a run comes from: scenario, version, notebook or pipeline, execution, process."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import CONTEXT_VARIABLES, run_python

import sapdi
from sapdi_local import MLTrackingSDK, Run, Scenario, TrackingError, context, tracking

NOTEBOOK_VARIABLES = ("JPY_SESSION_NAME", "NOTEBOOK_PATH")


@pytest.fixture(autouse=True)
def no_notebook_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """No notebook path from the machine leaks into a test."""
    for name in NOTEBOOK_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_sdk(
    db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]
) -> Callable[..., MLTrackingSDK]:
    """Build SDKs on the test's database; each is closed when the test ends."""
    return lambda **arguments: sdk_factory(db_path=db_path, **arguments)


def origin(run: Run) -> dict[str, str | None]:
    return {
        "scenario": run.scenario,
        "scenario_version": run.scenario_version,
        "notebook": run.notebook,
        "pipeline": run.pipeline,
        "execution": run.execution,
    }


def stored_run(db_path: Path, run_id: str) -> Run:
    reader = MLTrackingSDK(db_path=db_path)
    try:
        [run] = reader.get_runs(run=run_id)
    finally:
        reader.close()
    return run


def child_env(db_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a child interpreter: this one's, minus SAPDI_* and notebook paths."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in CONTEXT_VARIABLES and k not in NOTEBOOK_VARIABLES
    }
    env["SAPDI_LOCAL_DB"] = str(db_path)
    env.update(extra)
    return env


START_AND_END = """
from sapdi_local import tracking
run = tracking.start_run()
tracking.end_run()
print(run.id)
"""


def run_in_child(db_path: Path, cwd: Path, **extra_env: str) -> Run:
    """Start and end one run in a fresh `python -c` in ``cwd``; return it as stored."""
    result = run_python(START_AND_END, env=child_env(db_path, **extra_env), cwd=cwd, timeout=60)
    return stored_run(db_path, result.stdout.strip())


# ---------------------------------------------------------------- arguments and environment


@pytest.mark.parametrize(
    "source",
    [{"notebook": "explore.ipynb"}, {"pipeline": "train_job.py"}],
    ids=["notebook", "pipeline"],
)
def test_arguments_are_recorded_on_every_run(
    make_sdk: Callable[..., MLTrackingSDK], source: dict[str, str]
) -> None:
    """scenario, scenario_version, notebook or pipeline and execution arguments go on every run."""
    instance = make_sdk(scenario="churn", scenario_version="abc123", execution="exec-42", **source)
    ids = []
    for _ in range(2):
        ids.append(instance.start_run().id)
        instance.end_run()
    expected = {
        "scenario": "churn",
        "scenario_version": "abc123",
        "notebook": source.get("notebook"),
        "pipeline": source.get("pipeline"),
        "execution": "exec-42",
    }
    runs = instance.get_runs(run=ids)
    assert len(runs) == 2
    assert all(origin(run) == expected for run in runs)
    assert {run.collection for run in runs} == {next(iter(source.values()))}


def test_notebook_and_pipeline_together_are_refused(
    make_sdk: Callable[..., MLTrackingSDK], db_path: Path
) -> None:
    """notebook= and pipeline= together raise a TrackingError and record nothing."""
    with pytest.raises(TrackingError) as info:
        instance = make_sdk(scenario="s", notebook="a.ipynb", pipeline="b.py")
        instance.start_run()
    assert "notebook" in str(info.value) and "pipeline" in str(info.value)
    if db_path.exists():
        reader = MLTrackingSDK(db_path=db_path)
        assert reader.get_runs(scenario="s") == []
        reader.close()


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [("SAPDI_NOTEBOOK", "env.ipynb", "notebook"), ("SAPDI_PIPELINE", "env_job.py", "pipeline")],
)
def test_environment_is_used_without_arguments(
    make_sdk: Callable[..., MLTrackingSDK],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    field: str,
) -> None:
    """SAPDI_SCENARIO, _SCENARIO_VERSION, _NOTEBOOK or _PIPELINE and _EXECUTION fill the context."""
    monkeypatch.setenv("SAPDI_SCENARIO", "env-scenario")
    monkeypatch.setenv("SAPDI_SCENARIO_VERSION", "env-version")
    monkeypatch.setenv("SAPDI_EXECUTION", "env-execution")
    monkeypatch.setenv(variable, value)
    instance = make_sdk()
    run = instance.start_run()
    instance.end_run()
    expected = {
        "scenario": "env-scenario",
        "scenario_version": "env-version",
        "notebook": None,
        "pipeline": None,
        "execution": "env-execution",
    }
    expected[field] = value
    [stored] = instance.get_runs(run=run)
    assert origin(stored) == expected
    assert stored.collection == value and stored.collection_is_default


@pytest.mark.parametrize(
    ("argument", "value", "changes"),
    [
        ("scenario", "arg-scenario", {"scenario": "arg-scenario"}),
        ("scenario_version", "arg-version", {"scenario_version": "arg-version"}),
        ("execution", "arg-execution", {"execution": "arg-execution"}),
        ("notebook", "arg.ipynb", {"notebook": "arg.ipynb"}),
        # A pipeline argument wins over a notebook from the environment.
        ("pipeline", "arg_job.py", {"notebook": None, "pipeline": "arg_job.py"}),
    ],
)
def test_arguments_beat_environment(
    make_sdk: Callable[..., MLTrackingSDK],
    monkeypatch: pytest.MonkeyPatch,
    argument: str,
    value: str,
    changes: dict[str, str | None],
) -> None:
    """An argument given to MLTrackingSDK wins over its SAPDI_* variable; the rest come from env."""
    monkeypatch.setenv("SAPDI_SCENARIO", "env-scenario")
    monkeypatch.setenv("SAPDI_SCENARIO_VERSION", "env-version")
    monkeypatch.setenv("SAPDI_NOTEBOOK", "env.ipynb")
    monkeypatch.setenv("SAPDI_EXECUTION", "env-execution")
    instance = make_sdk(**{argument: value})
    run = instance.start_run()
    instance.end_run()
    expected: dict[str, str | None] = {
        "scenario": "env-scenario",
        "scenario_version": "env-version",
        "notebook": "env.ipynb",
        "pipeline": None,
        "execution": "env-execution",
    }
    expected.update(changes)
    [stored] = instance.get_runs(run=run)
    assert origin(stored) == expected


# ---------------------------------------------------------------- local facts: folder and git


def git(cwd: Path, *arguments: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    result = subprocess.run(
        ["git", *arguments],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout.strip()


@pytest.fixture
def git_project(tmp_path: Path) -> Path:
    """A project folder "churn-model" with a real git repository and one commit."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    project = tmp_path / "churn-model"
    project.mkdir()
    git(project, "init", "-q")
    git(project, "config", "user.name", "Test User")
    git(project, "config", "user.email", "test@example.com")
    git(project, "config", "commit.gpgsign", "false")
    (project / "train.py").write_text("print('train')\n")
    git(project, "add", "train.py")
    git(project, "commit", "-q", "-m", "first")
    return project


def test_scenario_and_version_from_git_project(git_project: Path, db_path: Path) -> None:
    """In a git project the scenario is the folder's name and the version HEAD's first 12 chars."""
    head = git(git_project, "rev-parse", "HEAD")
    run = run_in_child(db_path, git_project)
    assert run.scenario == "churn-model"
    assert run.scenario_version == head[:12]
    assert len(run.scenario_version) == 12


def test_scenario_and_version_from_a_subfolder(git_project: Path, db_path: Path) -> None:
    """From a subfolder of the repository, scenario and version still come from the project root."""
    deep = git_project / "src" / "models"
    deep.mkdir(parents=True)
    run = run_in_child(db_path, deep)
    assert run.scenario == "churn-model"
    assert run.scenario_version == git(git_project, "rev-parse", "HEAD")[:12]


def test_packed_refs_still_give_the_commit(git_project: Path, db_path: Path) -> None:
    """After `git pack-refs --all` (no loose branch file) the version is still the commit."""
    branch = git(git_project, "symbolic-ref", "HEAD")
    git(git_project, "pack-refs", "--all")
    assert not (git_project / ".git" / branch).exists()  # really read from packed-refs
    run = run_in_child(db_path, git_project)
    assert run.scenario_version == git(git_project, "rev-parse", "HEAD")[:12]


def test_detached_head_gives_the_checked_out_commit(git_project: Path, db_path: Path) -> None:
    """With a detached HEAD the version is the commit checked out, not the branch tip."""
    first = git(git_project, "rev-parse", "HEAD")
    (git_project / "train.py").write_text("print('train v2')\n")
    git(git_project, "commit", "-q", "-am", "second")
    assert git(git_project, "rev-parse", "HEAD") != first
    git(git_project, "checkout", "-q", "--detach", first)
    run = run_in_child(db_path, git_project)
    assert run.scenario == "churn-model"
    assert run.scenario_version == first[:12]


def test_folder_without_git_is_unversioned(tmp_path: Path, db_path: Path) -> None:
    """Outside git, the scenario is the folder's name and the version "unversioned"."""
    plain = tmp_path / "plain-project"
    plain.mkdir()
    run = run_in_child(db_path, plain)
    assert run.scenario == "plain-project"
    assert run.scenario_version == "unversioned"


# ---------------------------------------------------------------- pipeline and notebook


PIPELINE_SCRIPT = START_AND_END


@pytest.mark.parametrize("invocation", ["relative", "absolute-from-elsewhere"])
def test_script_file_is_the_pipeline_and_default_collection(
    tmp_path: Path, db_path: Path, invocation: str
) -> None:
    """`python my_pipeline.py` records pipeline and default collection "my_pipeline.py"."""
    folder = tmp_path / "jobs"
    folder.mkdir()
    script = folder / "my_pipeline.py"
    script.write_text(PIPELINE_SCRIPT)
    if invocation == "relative":
        command, cwd = [sys.executable, "my_pipeline.py"], folder
    else:
        command, cwd = [sys.executable, str(script)], tmp_path
    result = subprocess.run(
        command, cwd=cwd, env=child_env(db_path), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    run = stored_run(db_path, result.stdout.strip())
    assert run.pipeline == "my_pipeline.py"
    assert run.notebook is None
    assert run.collection == "my_pipeline.py"
    assert run.collection_is_default
    assert run.collection_display_name == "my_pipeline.py (Default)"


def test_python_dash_c_is_pipeline_python(tmp_path: Path, db_path: Path) -> None:
    """Code run with `python -c` records pipeline "python"."""
    run = run_in_child(db_path, tmp_path)
    assert run.pipeline == "python"
    assert run.notebook is None
    assert run.collection == "python"


NOTEBOOK_CHILD = """
import json, sys, types
sys.modules["ipykernel"] = types.ModuleType("ipykernel")  # as inside a Jupyter kernel
from sapdi_local import tracking
ids = []
for _ in range(2):
    ids.append(tracking.start_run(run_collection_name="RC1").id)
    tracking.end_run()
for _ in range(2):
    ids.append(tracking.start_run().id)
    tracking.end_run()
print(json.dumps(ids))
"""


def test_notebook_runs_give_two_collections(tmp_path: Path, db_path: Path) -> None:
    """In notebook abc.ipynb, runs in RC1 and runs without a collection make RC1 and "abc.ipynb"."""
    project = tmp_path / "nb-project"
    project.mkdir()
    result = run_python(
        NOTEBOOK_CHILD,
        env=child_env(db_path, JPY_SESSION_NAME="/some/dir/abc.ipynb"),
        cwd=project,
        timeout=60,
    )
    ids = json.loads(result.stdout)
    reader = MLTrackingSDK(db_path=db_path)
    try:
        runs = reader.get_runs(scenario="nb-project", notebook="abc.ipynb")
    finally:
        reader.close()
    assert sorted(run.id for run in runs) == sorted(ids)
    assert all(run.notebook == "abc.ipynb" and run.pipeline is None for run in runs)
    assert {run.collection for run in runs} == {"RC1", "abc.ipynb"}
    assert {run.collection_display_name for run in runs} == {"RC1", "abc.ipynb (Default)"}
    defaults = [run.id for run in runs if run.collection_is_default]
    assert sorted(defaults) == sorted(ids[2:])


@pytest.mark.parametrize("variable", NOTEBOOK_VARIABLES)
def test_jupyter_notebook_name_inside_a_kernel(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """jupyter_notebook_name() gives the notebook's file name when a kernel is loaded."""
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setenv(variable, "/some/dir/abc.ipynb")
    assert context.jupyter_notebook_name() == "abc.ipynb"


def test_jupyter_notebook_name_outside_a_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a Jupyter kernel, jupyter_notebook_name() is None even if a notebook path is set."""
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.setenv("JPY_SESSION_NAME", "/some/dir/abc.ipynb")
    assert context.jupyter_notebook_name() is None


@pytest.mark.parametrize(
    ("main_file", "argv0", "expected"),
    [
        ("/home/user/jobs/my_pipeline.py", "/home/user/jobs/my_pipeline.py", "my_pipeline.py"),
        ("relative/train.py", "relative/train.py", "train.py"),
        (None, "-c", "python"),
        (None, "", "python"),
        ("<stdin>", "-", "python"),
    ],
    ids=["script", "relative-script", "dash-c", "interactive", "stdin"],
)
def test_script_name(
    monkeypatch: pytest.MonkeyPatch, main_file: str | None, argv0: str, expected: str
) -> None:
    """script_name() is the running script's file name, or "python" for -c and the prompt."""
    main = types.ModuleType("__main__")
    if main_file is not None:
        main.__file__ = main_file
    monkeypatch.setitem(sys.modules, "__main__", main)
    monkeypatch.setattr(sys, "argv", [argv0])
    assert context.script_name() == expected


# ---------------------------------------------------------------- execution


def test_runs_of_one_process_share_the_execution(make_sdk: Callable[..., MLTrackingSDK]) -> None:
    """Two runs in one process (even from two SDKs) share one execution id."""
    first_sdk = make_sdk(scenario="s", pipeline="p.py")
    second_sdk = make_sdk(scenario="s", pipeline="p.py")
    first = first_sdk.start_run()
    first_sdk.end_run()
    second = second_sdk.start_run()
    second_sdk.end_run()
    stored = {run.id: run.execution for run in first_sdk.get_runs(run=[first, second])}
    assert stored[first.id] == stored[second.id] == context.process_execution_id()
    assert stored[first.id]


def _report_execution(queue: Any) -> None:
    queue.put(context.process_execution_id())


def test_processes_get_their_own_execution(tmp_path: Path, db_path: Path) -> None:
    """Two processes (and a forked child) get different execution ids."""
    first = run_in_child(db_path, tmp_path)
    second = run_in_child(db_path, tmp_path)
    assert first.execution and second.execution
    assert first.execution != second.execution
    assert context.process_execution_id() not in {first.execution, second.execution}

    parent_id = context.process_execution_id()
    fork = multiprocessing.get_context("fork")
    queue = fork.Queue()
    child = fork.Process(target=_report_execution, args=(queue,))
    child.start()
    try:
        child_id = queue.get(timeout=30)
    finally:
        child.join(timeout=30)
    assert child.exitcode == 0
    assert child_id != parent_id


def test_sapdi_execution_overrides(
    make_sdk: Callable[..., MLTrackingSDK],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    db_path: Path,
) -> None:
    """SAPDI_EXECUTION replaces the per-process id, in this process and in others."""
    monkeypatch.setenv("SAPDI_EXECUTION", "nightly-2024-01-01")
    instance = make_sdk(scenario="s", pipeline="p.py")
    run = instance.start_run()
    instance.end_run()
    assert instance.get_runs(run=run)[0].execution == "nightly-2024-01-01"
    other = run_in_child(db_path, tmp_path, SAPDI_EXECUTION="nightly-2024-01-01")
    assert other.execution == "nightly-2024-01-01"


# ---------------------------------------------------------------- the context stays fixed


def test_logging_to_an_ended_run_keeps_its_context(
    make_sdk: Callable[..., MLTrackingSDK], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """After end_run, log_metric(run=run) records into that run; the SDK's context stays."""
    monkeypatch.setenv("SAPDI_SCENARIO", "first-scenario")
    monkeypatch.setenv("SAPDI_SCENARIO_VERSION", "first-version")
    monkeypatch.setenv("SAPDI_PIPELINE", "first.py")
    monkeypatch.setenv("SAPDI_EXECUTION", "first-execution")
    instance = make_sdk()
    run = instance.start_run()
    instance.log_metric("accuracy", 0.5)
    instance.end_run()
    context_before = instance.context

    # The environment and the folder change: the SDK keeps what it was initialised with.
    monkeypatch.setenv("SAPDI_SCENARIO", "second-scenario")
    monkeypatch.setenv("SAPDI_SCENARIO_VERSION", "second-version")
    monkeypatch.delenv("SAPDI_PIPELINE")
    monkeypatch.setenv("SAPDI_NOTEBOOK", "second.ipynb")
    monkeypatch.setenv("SAPDI_EXECUTION", "second-execution")
    monkeypatch.chdir(tmp_path)

    instance.log_metric("accuracy", 0.9, run=run)
    instance.persist_run()
    later = instance.start_run()
    instance.end_run()

    assert instance.context == context_before
    expected = {
        "scenario": "first-scenario",
        "scenario_version": "first-version",
        "notebook": None,
        "pipeline": "first.py",
        "execution": "first-execution",
    }
    stored = {r.id: r for r in instance.get_runs(run=[run, later])}
    assert origin(stored[run.id]) == expected
    assert origin(stored[later.id]) == expected
    assert stored[run.id].metrics == {"accuracy": 0.9}
    assert stored[run.id].status == "FINISHED"
    [history] = instance.get_metrics_history(run=run, metrics="accuracy")
    assert [v.value for v in history.values] == [0.5, 0.9]


# ---------------------------------------------------------------- is the process gone?


def test_current_process_is_not_gone() -> None:
    """process_is_gone is False for the running process."""
    me = context.current_process()
    assert me.pid == os.getpid()
    assert context.process_is_gone(me.host, me.pid, me.started) is False


def test_finished_child_is_gone() -> None:
    """process_is_gone is False while a child runs and True once it has finished."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        started = context._process_start(child.pid)
        host = socket.gethostname()
        assert context.process_is_gone(host, child.pid, started) is False
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)
    assert context.process_is_gone(host, child.pid, started) is True


def test_zombie_child_is_gone() -> None:
    """A child that has exited but is not yet reaped (a zombie) counts as gone."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = context._process_start(child.pid)
    try:
        deadline = time.monotonic() + 30
        while (context._process_stat(child.pid) or ["Z"])[0] != "Z":
            assert time.monotonic() < deadline, "the child did not exit"
            time.sleep(0.02)
        assert context.process_is_gone(socket.gethostname(), child.pid, started) is True
    finally:
        child.wait(timeout=30)


def test_process_on_another_host_is_not_known_to_be_gone() -> None:
    """process_is_gone is False for another host name, even for a pid that does not exist here."""
    assert context.process_is_gone("another-host.invalid", os.getpid(), None) is False
    assert context.process_is_gone("another-host.invalid", 2**22 + 12345, None) is False


# ---------------------------------------------------------------- sapdi.get_current_scenario


def test_get_current_scenario_is_the_default_sdks(sdk: MLTrackingSDK) -> None:
    """sapdi.get_current_scenario() gives the default SDK's scenario id and version."""
    scenario = sapdi.get_current_scenario()
    assert scenario == Scenario(id="scenario-a", version="v1")
    assert scenario.name == "scenario-a"


def test_get_current_scenario_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, db_path: Path
) -> None:
    """With a default SDK made without arguments, the current scenario comes from SAPDI_*."""
    monkeypatch.setenv("SAPDI_SCENARIO", "env-scenario")
    monkeypatch.setenv("SAPDI_SCENARIO_VERSION", "env-version")
    previous = tracking.set_default_sdk(MLTrackingSDK())
    try:
        assert sapdi.get_current_scenario() == Scenario(id="env-scenario", version="env-version")
    finally:
        tracking.set_default_sdk(previous).close()


def test_list_scenarios_has_stored_and_current(
    sdk: MLTrackingSDK, make_sdk: Callable[..., MLTrackingSDK]
) -> None:
    """sapdi.list_scenarios() lists the scenarios of stored runs and the current one."""
    for scenario, version in (("scenario-b", "v7"), ("scenario-c", "unversioned")):
        other = make_sdk(scenario=scenario, scenario_version=version, pipeline="p.py")
        other.start_run()
        other.end_run()
    listed = sapdi.list_scenarios()
    assert Scenario(id="scenario-b", version="v7") in listed
    assert Scenario(id="scenario-c", version="unversioned") in listed
    assert Scenario(id="scenario-a", version="v1") in listed  # current, no run stored yet
    assert len({s.id for s in listed}) == len(listed)
    assert tracking.get_runs(scenario="scenario-a") == []
