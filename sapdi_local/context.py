"""Where a run comes from: scenario, version, notebook or pipeline, execution, process.

Each value is taken from, in order: the argument given to MLTrackingSDK, the
environment (SAPDI_SCENARIO, SAPDI_SCENARIO_VERSION, SAPDI_NOTEBOOK,
SAPDI_PIPELINE, SAPDI_EXECUTION), then local facts: the project folder's name,
the git commit, the notebook's or the script's file name, one id per process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from .errors import InvalidValueError
from .validation import check_name

if TYPE_CHECKING:
    from pathlib import Path

NOTEBOOK = "notebook"
PIPELINE = "pipeline"
UNVERSIONED = "unversioned"

_execution: tuple[int, str] | None = None  # (pid, id): a forked child gets its own id


class RunContext(NamedTuple):
    """The origin every run of one SDK instance records."""

    scenario: str
    scenario_version: str
    source_kind: str  # NOTEBOOK or PIPELINE
    source: str  # the notebook's or the pipeline's name
    execution: str

    @property
    def notebook(self) -> str | None:
        return self.source if self.source_kind == NOTEBOOK else None

    @property
    def pipeline(self) -> str | None:
        return self.source if self.source_kind == PIPELINE else None


def resolve_context(
    *,
    scenario: str | None = None,
    scenario_version: str | None = None,
    notebook: str | None = None,
    pipeline: str | None = None,
    execution: str | None = None,
) -> RunContext:
    """Fill every part of a RunContext from arguments, environment and local facts."""
    if notebook is not None and pipeline is not None:
        raise InvalidValueError(
            "a run comes from a notebook or a pipeline, not both: pass notebook= or pipeline="
        )
    from pathlib import Path  # imported when first needed: keeps "import tracking" light

    project = _project_root(Path.cwd())
    scenario_field = _chosen("scenario", scenario, "SAPDI_SCENARIO")
    version_field = _chosen("scenario_version", scenario_version, "SAPDI_SCENARIO_VERSION")
    if notebook is not None or pipeline is not None:
        kind = NOTEBOOK if notebook is not None else PIPELINE
        source_field: tuple[str, str | None] = (kind, notebook or pipeline)
    elif os.environ.get("SAPDI_NOTEBOOK"):
        kind, source_field = NOTEBOOK, ("SAPDI_NOTEBOOK", os.environ["SAPDI_NOTEBOOK"])
    elif os.environ.get("SAPDI_PIPELINE"):
        kind, source_field = PIPELINE, ("SAPDI_PIPELINE", os.environ["SAPDI_PIPELINE"])
    elif (notebook_name := jupyter_notebook_name()) is not None:
        kind, source_field = NOTEBOOK, ("the notebook's name", notebook_name)
    else:
        kind, source_field = PIPELINE, ("the script's name", script_name())
    execution_field = _chosen("execution", execution, "SAPDI_EXECUTION")
    return RunContext(
        scenario=_check(scenario_field, lambda: project.name or "default"),
        scenario_version=_check(version_field, lambda: git_commit(project) or UNVERSIONED),
        source_kind=kind,
        source=_check(source_field, lambda: None),
        execution=_check(execution_field, process_execution_id),
    )


def _chosen(argument_name: str, argument: str | None, variable: str) -> tuple[str, str | None]:
    """The value to use and where it came from, so an error names what to change."""
    if argument is not None:
        return argument_name, argument
    if os.environ.get(variable):
        return variable, os.environ[variable]
    return argument_name, None


def _check(field: tuple[str, str | None], default: Callable[[], str | None]) -> str:
    where, value = field
    return check_name(where, value if value is not None else default())


def new_id() -> str:
    """A random id of 32 hex digits, as unique as a UUID4 (without importing uuid)."""
    return os.urandom(16).hex()


def host_name() -> str:
    """This machine's name, as socket.gethostname() gives it."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket  # where os.uname is missing (Windows)

    return socket.gethostname()


def process_execution_id() -> str:
    """One execution id per process, made when first asked for."""
    global _execution
    pid = os.getpid()
    if _execution is None or _execution[0] != pid:
        _execution = (pid, new_id())
    return _execution[1]


def _project_root(start: Path) -> Path:
    """The folder holding ``.git`` above ``start``, else ``start`` itself."""
    for folder in (start, *start.parents):
        try:
            if (folder / ".git").exists():
                return folder
        except OSError:
            continue  # a folder this process may not look into (EACCES): not its project
    return start


def git_commit(project: Path) -> str | None:
    """The commit checked out in ``project``, read from .git without running git."""
    git_dir = project / ".git"
    try:
        if git_dir.is_file():  # a worktree or submodule: "gitdir: <path>"
            pointer = git_dir.read_text().strip()
            if not pointer.startswith("gitdir:"):
                return None
            git_dir = (project / pointer.split(":", 1)[1].strip()).resolve()
        head = (git_dir / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head[:12] or None
        ref = head.split(":", 1)[1].strip()
        for base in (git_dir, _common_dir(git_dir)):
            ref_file = base / ref
            if ref_file.is_file():
                return ref_file.read_text().strip()[:12] or None
            packed = base / "packed-refs"
            if packed.is_file():
                for line in packed.read_text().splitlines():
                    if line.endswith(" " + ref):
                        return line.split(" ", 1)[0][:12]
    except OSError:
        return None
    return None  # a repository with no commit yet


def _common_dir(git_dir: Path) -> Path:
    common = git_dir / "commondir"
    if common.is_file():
        return (git_dir / common.read_text().strip()).resolve()
    return git_dir


def jupyter_notebook_name() -> str | None:
    """The running notebook's file name when inside a Jupyter kernel, else None."""
    if "ipykernel" not in sys.modules:
        return None
    for variable in ("JPY_SESSION_NAME", "NOTEBOOK_PATH"):
        path = os.environ.get(variable)
        if path:
            return os.path.basename(path)
    try:
        from IPython import get_ipython  # only reached inside a kernel

        shell = get_ipython()
    except ImportError:
        return None
    if shell is None:
        return None
    for variable in ("__vsc_ipynb_file__", "__session__"):
        path = shell.user_ns.get(variable)
        if isinstance(path, str) and path:
            return os.path.basename(path)
    return "notebook"


def script_name() -> str:
    """The running script's file name, or 'python' for -c and the interactive prompt."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv and sys.argv[0] else "")
    if not path or path == "-c" or path.startswith("<"):
        return "python"
    return os.path.basename(path)


class ProcessIdentity(NamedTuple):
    """Enough to tell later whether the process that started a run is still alive."""

    host: str
    pid: int
    started: str | None  # the kernel's start time of the process, when it can be read


def current_process() -> ProcessIdentity:
    pid = os.getpid()
    return ProcessIdentity(host_name(), pid, _process_start(pid))


def _process_stat(pid: int) -> list[str] | None:
    # Fields after the command name in /proc/<pid>/stat: [0] is the state, [19] the start time.
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            stat = stat_file.read()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def _process_start(pid: int) -> str | None:
    fields = _process_stat(pid)
    return fields[19] if fields else None


def process_is_gone(host: str | None, pid: int | None, started: str | None) -> bool:
    """True only when the process is known to have ended: same host, and the pid is gone,
    reused or a zombie."""
    if host is None or pid is None or host != host_name():
        return False
    if pid.__class__ is not int or pid <= 0:
        return False  # not a process id (a hand-edited row): nothing is known of it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, owned by someone else
    except OSError:
        return False
    fields = _process_stat(pid)
    if fields is None:
        return False
    return fields[0] == "Z" or (started is not None and fields[19] != started)
