"""Starting and ending runs: the active run, its info, and which run a call means."""

from __future__ import annotations

from collections.abc import Mapping
from time import time
from typing import TYPE_CHECKING, Any

from ..context import current_process, new_id
from ..errors import (
    InvalidTypeError,
    NoActiveRunError,
    RunAlreadyActiveError,
    RunNotFoundError,
)
from ..model import (
    FINISHED,
    RUNNING,
    Run,
    utc_from_seconds,
)
from ..validation import (
    check_optional_text,
    check_tag,
    name_value_pairs,
)
from . import lifecycle

if TYPE_CHECKING:
    from types import TracebackType


from .base import SdkBase


class ActiveRun(Run):
    """The run ``start_run`` returns: a Run that, used as ``with start_run() as run:``, ends
    itself when the block exits (FAILED if an exception escapes it, the exception going on).
    """

    # No __slots__ here, unlike Run: the instance keeps the SDK that started it.
    _sdk: RunControl

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._sdk._end_if_active(self.id, error)


class RunControl(SdkBase):
    """Starting and ending runs, the active one and its info."""

    # ------------------------------------------------------------ runs

    def start_run(
        self, run_collection_name: str | None = None, run_name: str | None = None
    ) -> ActiveRun:
        """Start a run and make it the active one.

        Without ``run_collection_name`` the run goes to the default collection of its
        notebook or pipeline; without ``run_name`` it is named by its id.

        >>> run = tracking.start_run(run_collection_name="rc1", run_name="lr-0.01")
        """
        if self._active is not None:
            raise RunAlreadyActiveError(
                f"run {self._active.id} ({self._active.name}) is still active; call end_run() "
                "before starting another run"
            )
        collection = check_optional_text("run_collection_name", run_collection_name)
        name = check_optional_text("run_name", run_name)
        planned = self._next_run_info
        collection = collection or planned.get("collection")
        name = name or planned.get("name")
        context = self.context
        run_id = new_id()
        started = time()
        process = current_process()
        run = ActiveRun(
            id=run_id,
            name=name or run_id,
            collection=collection or context.source,
            # A collection named after the run's own notebook or pipeline is its default one.
            collection_is_default=collection is None or collection == context.source,
            scenario=context.scenario,
            scenario_version=context.scenario_version,
            notebook=context.notebook,
            pipeline=context.pipeline,
            execution=context.execution,
            status=RUNNING,
            start_time=utc_from_seconds(started),
        )
        self.store.insert_run(
            {
                "id": run.id,
                "name": run.name,
                "collection": run.collection,
                "collection_is_default": int(run.collection_is_default),
                "scenario": run.scenario,
                "scenario_version": run.scenario_version,
                "notebook": run.notebook,
                "pipeline": run.pipeline,
                "execution": run.execution,
                "status": RUNNING,
                "start_time": started,
                "host": process.host,
                "pid": process.pid,
                "pid_started": process.started,
            }
        )
        run._sdk = self
        self._known_runs.add(run_id)
        self._active = run
        self._windows = self._cache.windows(run_id)
        self._next_steps = self._cache.steps(run_id)
        self._next_run_info = {}
        lifecycle.hold(self)
        lifecycle.watch_for_sigterm()
        if planned.get("tags"):
            self._cache.stage(self._cache.tags, run_id, planned["tags"])
        return run

    def end_run(self) -> None:
        """End the active run (FINISHED) and persist everything logged.

        >>> run = tracking.start_run(run_collection_name="rc1")
        >>> tracking.end_run()
        """
        self._end_active_run(FINISHED, explicit=True)

    def _end_active_run(self, status: str, *, explicit: bool, at_exit: bool = False) -> None:
        if self._active is None:
            if explicit:
                raise NoActiveRunError(
                    "end_run() was called but no run is active; call start_run() first"
                )
            return
        run_id = self._active.id
        self._cache.stage(
            self._cache.run_updates, run_id, {"status": status, "end_time": time()}.items()
        )
        # The run is over in memory even if the persist below fails: its end stays
        # in the cache and is written by the next persist.
        self._active = None
        self._windows = {}
        self._next_steps = {}
        self._persist(explicit=explicit, at_exit=at_exit)

    # ------------------------------------------------------------ run info

    def update_run_info(
        self,
        run: Run | str | None = None,
        run_name: str | None = None,
        run_collection_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Rename a run, move it to another collection or set tags; during or after the run.

        >>> tracking.update_run_info(run_collection_name="LR", run_name="LR_6")
        """
        name = check_optional_text("run_name", run_name)
        collection = check_optional_text("run_collection_name", run_collection_name)
        checked_tags = (
            []
            if tags is None
            else [
                check_tag(key, value)
                for key, value in name_value_pairs("update_run_info", tags, None, None)
            ]
        )
        if run is None and self._active is None:
            # Before the run: what is given here applies to the next start_run().
            planned = self._next_run_info
            planned.update({"name": name} if name is not None else {})
            planned.update({"collection": collection} if collection is not None else {})
            planned["tags"] = [*planned.get("tags", []), *checked_tags]
            return
        run_id = self._run_id(run)
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if collection is not None:
            changes["collection"] = collection  # the store decides whether it is the default
        if changes:
            self._cache.stage(self._cache.run_updates, run_id, changes.items())
        if checked_tags:
            self._cache.stage(self._cache.tags, run_id, checked_tags)
        if self._active is not None and self._active.id == run_id:
            self._active = self._active._replace(
                name=name or self._active.name,
                collection=collection or self._active.collection,
                collection_is_default=(
                    self._active.collection_is_default
                    if collection is None
                    else collection == self.context.source
                ),
            )
        self._persist(explicit=True)

    def _run_id(self, run: Run | str | None) -> str:
        """The id of ``run``, or of the active run; unknown ids raise at once."""
        if run is None:
            if self._active is None:
                raise NoActiveRunError(
                    "no run is active: call start_run() first, or pass run= to name an ended run"
                )
            return self._active.id
        run_id = run.id if isinstance(run, Run) else run
        if not isinstance(run_id, str):
            raise InvalidTypeError(
                f"run must be a Run or a run id string, got {type(run).__name__}"
            )
        if run_id not in self._known_runs:
            if not self.store.run_exists(run_id):
                raise RunNotFoundError(
                    f"no run with id {run_id!r} in {self.store.path}; check the id with get_runs"
                )
            self._known_runs.add(run_id)
        return run_id

    def _end_if_active(self, run_id: str, error: BaseException | None) -> None:
        # Ending because of an exception must not replace it with a storage error: then a
        # failed persist only warns, and the values stay for the exit handler.
        if self._active is not None and self._active.id == run_id:
            self._end_active_run(lifecycle.status_for(error), explicit=error is None)
