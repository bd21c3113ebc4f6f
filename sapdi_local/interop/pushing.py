"""Pushing runs to an MLflow tracking server, through MLflow's client (the ``mlflow`` extra,
imported only when a push starts), so that each run ends up there exactly once.

Mapping: the scenario is the experiment (or ``experiment=``); the run keeps its name, status
(INTERRUPTED, TERMINATED and KILLED become MLflow's KILLED), start and end; parameters and
tags go as they are; collection and context go as ``sapdi_local.*`` tags, labels as one JSON
tag ``sapdi_local.labels``, and the run's own id as ``sapdi_local.run_id``; every stored
metric value goes with its step and timestamp (milliseconds, as MLflow keeps them).

Exactly once: our database remembers, per target and run (``store.PushState``), the remote
run, a hash of the fields sent, and per metric up to which local sequence number values were
sent. A push sends only what lies beyond that. Where a push may have died, the server is
asked before anything is sent again:

- a run with no record is looked up on the server by its ``sapdi_local.run_id`` tag (set in
  the same request that creates the run), so a push killed between creating a run and
  recording it finds the run instead of making a second one;
- a run is marked in flight before its first metric batch and cleared after its last one
  is recorded. For a run found in flight, or found by its tag, each metric's history on
  the server is read and the values already there are not sent again: a batch that reached
  the server before the kill counts as sent;
- parameters and tags are compared with the server's whenever their hash is not recorded,
  and only the missing or different ones are sent (MLflow refuses to change a parameter's
  value: such a parameter is reported, not sent).

Batches follow MLflow's limits: at most 1000 metric values, 100 parameters and 100 tags per
``log_batch`` call.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import InteropError
from ..model import RUNNING, Run
from ..store import PushState, Store
from .mlflow import mlflow_client
from .push_mapping import (
    CONTEXT_TAGS,
    DEFAULT_EXPERIMENT,
    LABELS_TAG,
    METRICS_PER_BATCH,
    MLFLOW_TAG_VALUE_LENGTH,
    PARAMS_PER_BATCH,
    RUN_ID_TAG,
    TAGS_PER_BATCH,
    PushReport,
    mlflow_key_problem,
    mlflow_status,
    sent_content_hash,
)

# Errors about one run (its remote copy deleted, a value refused): the push goes on with the
# next run. Any other error (server unreachable, no permission) stops it.
_RUN_ERRORS = {"INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "INVALID_STATE"}


def push_runs(
    store: Store,
    runs: Sequence[Run],
    uri: str,
    *,
    experiment: str | None = None,
    progress: Callable[[Run], None] | None = None,
) -> PushReport:
    """Send ``runs`` to the MLflow tracking server at ``uri``: new runs whole, known runs
    only what changed or is new since the last push there.

    >>> push_runs(store, [run], "sqlite:///pushed.db").values_sent  # or a server's URL
    5
    >>> push_runs(store, [run], "sqlite:///pushed.db").values_sent  # nothing new since
    0
    """
    with _no_run_links():
        client = mlflow_client(uri)
        target = uri.rstrip("/")
        pusher = _Pusher(store, client, target, experiment)
        states = store.push_states(target, [run.id for run in runs])
        for run in runs:
            pusher.push(run, states.get(run.id))
            if progress is not None:
                progress(run)
    return pusher.report


@contextmanager
def _no_run_links() -> Iterator[None]:
    """MLflow's client prints a "View run" link to stdout when it ends a run: that would
    mix into the command's own output (its --json above all). Its switch is an environment
    variable, set for the push only and then put back as it was."""
    import os

    name = "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"
    before = os.environ.get(name)
    os.environ.setdefault(name, "true")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)


class _Pusher:
    def __init__(self, store: Store, client: Any, target: str, experiment: str | None) -> None:
        from mlflow.entities import Metric, Param, RunTag, ViewType
        from mlflow.exceptions import MlflowException

        self.store = store
        self.client = client
        self.target = target
        self.experiment = experiment
        self.report = PushReport(target)
        self.experiments: dict[str, str] = {}
        self.Metric, self.Param, self.RunTag, self.ViewType = Metric, Param, RunTag, ViewType
        self.MlflowException = MlflowException

    # ---- one run

    def push(self, run: Run, state: PushState | None) -> None:
        self.report.runs += 1
        try:
            self._push(run, state)
        except self.MlflowException as error:
            code = getattr(error, "error_code", "")
            if code not in _RUN_ERRORS:
                raise InteropError(
                    f"the MLflow server at {self.target} refused run {run.id} ({code}): "
                    f"{error.message}; check the server and its address, then push again: "
                    "what was sent is remembered"
                ) from None
            self.report.failed.append({"run": run.id, "reason": f"{code}: {error.message}"})

    def _push(self, run: Run, state: PushState | None) -> None:
        params, tags = self._wanted(run)
        remote_fields: dict[str, Any] | None = None
        if state is None:
            # Found by its tag, the run is as a dead push left it (uncertain); made now, it
            # holds nothing yet.
            remote_id, remote_fields = self._find_or_create(run)
            uncertain = remote_fields is None
            since: dict[str, int] = {}
            content_hash = None
            in_flight = True
        else:
            remote_id, content_hash = state.remote_id, state.content_hash
            since = {name: seq for name, (seq, _) in state.metrics.items()}
            uncertain = in_flight = state.in_flight
        self.report.remote_ids[run.id] = remote_id
        wanted_hash = sent_content_hash(run, params, tags)
        if content_hash != wanted_hash:
            self._send_fields(run, remote_id, params, tags, remote_fields)
            self.store.record_pushed_content(self.target, run.id, wanted_hash)
        self._send_metrics(run, remote_id, since, uncertain=uncertain, in_flight=in_flight)

    def _wanted(self, run: Run) -> tuple[dict[str, str], dict[str, str]]:
        """The parameters and tags the remote run should have, MLflow's rules applied."""
        params = {
            name: value
            for name, value in run.parameters.items()
            if name not in ("start", "end") and self._key_ok(run, "parameter", name)
        }
        tags = {
            name: value
            for name, value in run.tags.items()
            if name != "runName" and self._key_ok(run, "tag", name)
        }
        for column in CONTEXT_TAGS:
            value = getattr(run, column)
            if value is not None:
                tags[f"sapdi_local.{column}"] = str(value)
        if run.labels:
            text = json.dumps(dict(run.labels), sort_keys=True, ensure_ascii=False)
            if len(text) <= MLFLOW_TAG_VALUE_LENGTH:
                tags[LABELS_TAG] = text
            else:
                self._skip(
                    run,
                    "labels",
                    LABELS_TAG,
                    f"the labels are {len(text)} characters as JSON; an MLflow tag holds at "
                    f"most {MLFLOW_TAG_VALUE_LENGTH}",
                )
        tags[RUN_ID_TAG] = run.id
        return params, tags

    def _key_ok(self, run: Run, kind: str, name: str) -> bool:
        problem = mlflow_key_problem(name)
        if problem is not None:
            self._skip(run, kind, name, problem)
        return problem is None

    def _skip(self, run: Run, kind: str, name: str, reason: str) -> None:
        self.report.skipped.append({"run": run.id, "kind": kind, "name": name, "reason": reason})

    def _experiment_id(self, run: Run) -> str:
        name = self.experiment or run.scenario or DEFAULT_EXPERIMENT
        if name not in self.experiments:
            found = self.client.get_experiment_by_name(name)
            if found is None:
                try:
                    self.experiments[name] = self.client.create_experiment(name)
                except self.MlflowException as error:
                    if getattr(error, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                        raise
                    # Made meanwhile by another push: use that one.
                    found = self.client.get_experiment_by_name(name)
            if found is not None:
                if found.lifecycle_stage == "deleted":
                    raise InteropError(
                        f"the experiment {name!r} is deleted on {self.target}; restore it there "
                        "(mlflow experiments restore) or push with --experiment OTHER"
                    )
                self.experiments[name] = found.experiment_id
        return self.experiments[name]

    def _find_or_create(self, run: Run) -> tuple[str, dict[str, Any] | None]:
        """The remote run of ``run``: the server's own run of that id (the run was imported
        from it), else found by its id tag (a push died before recording it), else made now
        with that tag in the same request. Returns its id and, for a new run, what it
        already holds."""
        if self._exists_on_server(run.id):
            # Imported from this server (an import keeps MLflow's run id): the run is already
            # there, so it is brought up to date rather than copied.
            self.report.found_by_id.append(run.id)
            self.store.record_remote_run(self.target, run.id, run.id)
            return run.id, None
        experiment_id = self._experiment_id(run)
        found = self.client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{RUN_ID_TAG}` = '{run.id}'",
            run_view_type=self.ViewType.ACTIVE_ONLY,
            max_results=2,
        )
        if found:
            remote_id = str(found[0].info.run_id)
            self.report.recovered.append(run.id)
            self.store.record_remote_run(self.target, run.id, remote_id)
            return remote_id, None
        start = run.start_time.timestamp() if run.start_time else None
        created = self.client.create_run(
            experiment_id,
            start_time=None if start is None else round(start * 1000),
            tags={RUN_ID_TAG: run.id},
            run_name=run.name,
        )
        remote_id = str(created.info.run_id)
        self.store.record_remote_run(self.target, run.id, remote_id)
        self.report.created.append(run.id)
        return remote_id, {
            "params": {},
            "tags": dict(created.data.tags),
            "name": created.info.run_name,
            "status": created.info.status,
            "end_time": created.info.end_time,
        }

    def _exists_on_server(self, run_id: str) -> bool:
        try:
            remote = self.client.get_run(run_id)
        except self.MlflowException as error:
            if getattr(error, "error_code", "") in (
                "RESOURCE_DOES_NOT_EXIST",
                "INVALID_PARAMETER_VALUE",
            ):
                return False
            raise
        return bool(remote.info.lifecycle_stage == "active")

    def _send_fields(
        self,
        run: Run,
        remote_id: str,
        params: dict[str, str],
        tags: dict[str, str],
        remote: dict[str, Any] | None,
    ) -> None:
        """Send the parameters and tags the server lacks or holds otherwise, then name,
        status and end."""
        if remote is None:
            current = self.client.get_run(remote_id)
            remote = {
                "params": dict(current.data.params),
                "tags": dict(current.data.tags),
                "name": current.info.run_name,
                "status": current.info.status,
                "end_time": current.info.end_time,
            }
        new_params = []
        for name, value in params.items():
            there = remote["params"].get(name)
            if there is None:
                new_params.append(self.Param(name, value))
            elif there != value:
                self._skip(
                    run,
                    "parameter",
                    name,
                    f"the server holds {there!r}, here {value!r}; MLflow never changes a "
                    "parameter's value",
                )
        new_tags = [
            self.RunTag(name, value)
            for name, value in tags.items()
            if remote["tags"].get(name) != value
        ]
        for start in range(0, len(new_params), PARAMS_PER_BATCH):
            chunk = new_params[start : start + PARAMS_PER_BATCH]
            self.client.log_batch(remote_id, params=chunk, synchronous=True)
        for start in range(0, len(new_tags), TAGS_PER_BATCH):
            self.client.log_batch(
                remote_id, tags=new_tags[start : start + TAGS_PER_BATCH], synchronous=True
            )
        self.report.parameters_sent += len(new_params)
        self.report.tags_sent += len(new_tags)
        changed = bool(new_params or new_tags)
        if remote["name"] != run.name:
            self.client.update_run(remote_id, name=run.name)
            changed = True
        status = mlflow_status(run.status)
        end = None if run.end_time is None else round(run.end_time.timestamp() * 1000)
        if status != remote["status"] or (status != RUNNING and end != remote["end_time"]):
            if status == RUNNING:
                self.client.update_run(remote_id, status=status)
            else:
                self.client.set_terminated(remote_id, status=status, end_time=end)
            changed = True
        if changed and run.id not in self.report.created:
            self.report.updated.append(run.id)

    def _send_metrics(
        self,
        run: Run,
        remote_id: str,
        since: dict[str, int],
        *,
        uncertain: bool,
        in_flight: bool,
    ) -> None:
        pending = self.store.metric_values_after(run.id, since)
        for name in list(pending):
            if not self._key_ok(run, "metric", name):
                del pending[name]
        if not pending:
            if in_flight:
                self.store.record_pushed_metrics(self.target, run.id, {}, in_flight=False)
            return
        there: dict[str, set[tuple[int, int, float]]] = {}
        if uncertain:
            # A push may have died with a batch of this run on its way: what reached the
            # server is not sent again.
            for name in pending:
                there[name] = {
                    (int(m.step), int(m.timestamp), float(m.value))
                    for m in self.client.get_metric_history(remote_id, name)
                }
        if not in_flight:
            self.store.mark_push_in_flight(self.target, run.id)
        batch: list[Any] = []
        advanced: dict[str, tuple[int, int]] = {}
        for name in sorted(pending):
            present = there.get(name, set())
            for seq, value, step, timestamp in pending[name]:
                millis = round(timestamp * 1000)
                step = 0 if step is None else step  # a value of a version before steps
                done = advanced.get(name, (0, 0))[1]
                if (step, millis, value) in present:
                    self.report.values_already_there += 1
                    advanced[name] = (seq, done + 1)
                    continue
                batch.append(self.Metric(name, value, millis, step))
                advanced[name] = (seq, done + 1)
                if len(batch) == METRICS_PER_BATCH:
                    self._send_batch(run, remote_id, batch, advanced, last=False)
                    batch, advanced = [], {}
        self._send_batch(run, remote_id, batch, advanced, last=True)

    def _send_batch(
        self,
        run: Run,
        remote_id: str,
        batch: list[Any],
        advanced: dict[str, tuple[int, int]],
        *,
        last: bool,
    ) -> None:
        if batch:
            self.client.log_batch(remote_id, metrics=batch, synchronous=True)
            self.report.values_sent += len(batch)
        self.store.record_pushed_metrics(self.target, run.id, advanced, in_flight=not last)
