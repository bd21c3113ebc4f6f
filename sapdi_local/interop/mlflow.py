"""Reading runs out of MLflow: its SQLite file directly (no MLflow needed), or any
tracking URI through MLflow's client. Only a tracking URI that is not a file (an
``http(s)://`` server, ``postgresql://`` and so on) needs MLflow, the ``mlflow`` extra,
imported inside ``mlflow_client`` alone.

How runs map (see README, "Moving runs"): the run id is kept as ours (both are 32 hex
digits), so a second import finds the runs; the experiment becomes the run collection and,
unless ``scenario`` is given, the scenario; name, status, times, parameters, tags (MLflow's
``mlflow.*`` system tags included) and metric histories are kept. Deleted experiments and
runs are left out. What our rules refuse is reported as ``runs.py`` describes.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import InvalidTypeError, InvalidValueError, MissingExtraError, StorageError
from ..model import FAILED, FINISHED, RUNNING, TERMINATED
from ..run_rules import quoted
from .runs import (
    ReadReport,
    SourceRun,
    described,
    is_integer,
    is_number,
    open_foreign,
    ordered,
    showable,
    take,
)

MLFLOW_HINT = 'pip install "sapdi-local[mlflow]"'
# MLflow's run statuses and ours. KILLED (stopped from outside before it finished) is
# TERMINATED here: our KILLED is never stored, it is how a RUNNING run whose process is gone
# is shown, and filters find it that way. SCHEDULED has not started: RUNNING is the nearest.
MLFLOW_STATUS = {
    "RUNNING": RUNNING,
    "SCHEDULED": RUNNING,
    "FINISHED": FINISHED,
    "FAILED": FAILED,
    "KILLED": TERMINATED,
}


def is_mlflow_file(source: str) -> bool:
    """True when ``source`` names an MLflow SQLite file (a path or ``sqlite:///``) rather
    than a tracking URI for MLflow's client.

    >>> is_mlflow_file("mlruns.db"), is_mlflow_file("http://127.0.0.1:5000")
    (True, False)
    """
    return source.startswith("sqlite:") or "://" not in source


def mlflow_file_path(source: str) -> Path:
    """The file a path or an ``sqlite:///`` URI names.

    >>> mlflow_file_path("sqlite:////tmp/mlflow.db")
    PosixPath('/tmp/mlflow.db')
    """
    if source.startswith("sqlite:"):
        # sqlite:///relative.db and sqlite:////absolute.db, as SQLAlchemy reads them.
        rest = source[len("sqlite:") :]
        if not rest.startswith("///"):
            raise StorageError(
                f"{source!r} is not an SQLite URI MLflow writes; give sqlite:///PATH or the path"
            )
        return Path(rest[3:].split("?", 1)[0]).expanduser()
    return Path(source).expanduser()


def read_mlflow_file(
    path: Path, *, scenario: str | None = None, experiments: Sequence[str] = ()
) -> ReadReport:
    """Read an MLflow SQLite tracking file directly (no MLflow needed).

    >>> read_mlflow_file(Path("mlflow.db")).summary()["runs_read"]
    2
    """
    report = ReadReport(str(path))
    connection = open_foreign(
        path, "an MLflow tracking database", ("experiments", "runs", "params", "tags", "metrics")
    )
    try:
        names = {
            str(experiment_id): (name, stage)
            for experiment_id, name, stage in connection.execute(
                "SELECT experiment_id, name, lifecycle_stage FROM experiments"
            )
        }
        rows = connection.execute(
            "SELECT run_uuid, name, status, start_time, end_time, lifecycle_stage, experiment_id "
            "FROM runs ORDER BY start_time, run_uuid"
        ).fetchall()
        # Cells as the file holds them (anything SQLite can hold), converted run by run in
        # _mlflow_run, so that a bad cell costs its own run and no other.
        runs: dict[object, dict[str, Any]] = {}
        for run_id, name, status, start, end, stage, experiment_id in rows:
            experiment, experiment_stage = names.get(str(experiment_id), (str(experiment_id), ""))
            if experiments and experiment not in experiments:
                continue
            if "deleted" in (stage, experiment_stage):
                report.deleted += 1
                continue
            runs[run_id] = {
                "name": name,
                "status": status,
                "start": start,
                "end": end,
                "experiment": experiment,
                "params": {},
                "tags": {},
                "metrics": {},
            }
        for table, target in (("params", "params"), ("tags", "tags")):
            for run_id, key, value in connection.execute(
                f"SELECT run_uuid, key, value FROM {table}"
            ):
                if run_id in runs:
                    runs[run_id][target][key] = value
        for run_id, key, value, timestamp, step, is_nan in connection.execute(
            "SELECT run_uuid, key, value, timestamp, step, is_nan FROM metrics"
        ):
            if run_id in runs:
                runs[run_id]["metrics"].setdefault(key, []).append((value, timestamp, step, is_nan))
    except sqlite3.DatabaseError as error:
        raise StorageError(f"cannot read {path}: {error}; check the file") from error
    finally:
        connection.close()
    for run_id, data in runs.items():
        take(report, run_id, partial(_mlflow_run, run_id, data, scenario))
    return report


def _mlflow_run(run_id: object, data: dict[str, Any], scenario: str | None) -> SourceRun:
    """One of MLflow's runs, its cells converted; a TrackingError for a cell MLflow does
    not write (text or a blob where a number belongs, a missing time or step)."""
    tags = _mlflow_texts("tag", data["tags"])
    metrics: dict[str, list[tuple[float, int, float]]] = {}
    for key, rows in data["metrics"].items():
        name = _mlflow_key("metric", key)
        metrics[name] = ordered(_mlflow_value(name, *row) for row in rows)
    return SourceRun(
        id=run_id,
        name=data["name"] or tags.get("mlflow.runName") or run_id,
        scenario=scenario or data["experiment"],
        collection=data["experiment"],
        pipeline="mlflow",
        status=MLFLOW_STATUS.get(data["status"], FINISHED),
        start_time=None if data["start"] is None else _milliseconds("start_time", data["start"]),
        end_time=None if data["end"] is None else _milliseconds("end_time", data["end"]),
        parameters=_mlflow_texts("parameter", data["params"]),
        tags=tags,
        metrics=metrics,
        scenario_version=_version_of(tags),
    )


def _mlflow_key(kind: str, key: object) -> str:
    if not isinstance(key, str):
        raise InvalidTypeError(f"a {kind} key is {described(key)}, not text; MLflow writes text")
    return key


def _mlflow_texts(kind: str, pairs: dict[object, object]) -> dict[str, str | None]:
    """Parameters or tags whose keys and values are text (a value may be NULL, which
    ``prepare`` leaves out and reports)."""
    texts: dict[str, str | None] = {}
    for key, value in pairs.items():
        name = _mlflow_key(kind, key)
        if value is not None and not isinstance(value, str):
            raise InvalidTypeError(
                f"{kind} {quoted(name)} holds {described(value)}, not text; MLflow writes text"
            )
        texts[name] = value
    return texts


def _mlflow_value(
    name: str, value: object, timestamp: object, step: object, is_nan: object
) -> tuple[float, int, float]:
    """One row of MLflow's metrics table as (value, step, Unix seconds)."""
    field = f"metric {quoted(name)}"
    if is_nan not in (0, 1):
        raise InvalidValueError(f"{field}: is_nan is {described(is_nan)}, not 0 or 1")
    if is_nan:
        number = math.nan
    elif is_number(value):
        number = float(value)
    else:
        raise InvalidTypeError(
            f"{field} holds {described(value)} as a value, not a number; MLflow writes a float"
        )
    if not is_integer(step):
        raise InvalidTypeError(
            f"step of {field} is {described(step)}, not an integer; MLflow writes one"
        )
    return number, step, _milliseconds(f"timestamp of {field}", timestamp)


def _milliseconds(field: str, value: object) -> float:
    """A time MLflow keeps as milliseconds since 1970, in Unix seconds, if readers can
    show it."""
    if not is_number(value):
        raise InvalidTypeError(
            f"{field} is {described(value)}, not milliseconds since 1970; MLflow writes an integer"
        )
    return showable(field, value, value / 1000)


def _version_of(tags: dict[str, str | None]) -> str:
    commit = tags.get("mlflow.source.git.commit")
    return commit[:12] if commit else "unversioned"


def mlflow_client(uri: str) -> Any:
    """MLflow's client for a tracking URI, or an error that names the extra to install.

    >>> client = mlflow_client("sqlite:///mlflow.db")  # or a server: http://127.0.0.1:5000
    >>> [experiment.name for experiment in client.search_experiments()]
    ['churn', 'Default']
    """
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise MissingExtraError(
            f"reading from or pushing to an MLflow tracking server needs MLflow, which is not "
            f"installed; {MLFLOW_HINT}"
        ) from None
    return MlflowClient(tracking_uri=uri)


def read_mlflow_client(
    uri: str,
    *,
    scenario: str | None = None,
    experiments: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
) -> ReadReport:
    """Read every active run of a tracking server (or any tracking URI) through MLflow's
    client: experiments, runs, and each metric's full history.

    >>> read_mlflow_client("sqlite:///mlflow.db").summary()["runs_read"]  # or a server's URL
    2
    """
    client = mlflow_client(uri)
    from mlflow.entities import ViewType

    report = ReadReport(uri)

    def experiment_page(token: str | None) -> Any:
        return client.search_experiments(
            view_type=ViewType.ACTIVE_ONLY, max_results=1000, page_token=token
        )

    for experiment in _paged(experiment_page):
        if experiments and experiment.name not in experiments:
            continue

        def run_page(token: str | None, experiment_id: str = experiment.experiment_id) -> Any:
            return client.search_runs(
                [experiment_id],
                run_view_type=ViewType.ACTIVE_ONLY,
                max_results=1000,
                page_token=token,
            )

        for run in _paged(run_page):
            info = run.info
            if progress is not None:
                progress(info.run_id)
            metrics = {
                key: [
                    (m.value, m.timestamp, m.step, 0)  # the client gives NaN as NaN
                    for m in client.get_metric_history(info.run_id, key)
                ]
                for key in run.data.metrics
            }
            data = {
                "name": info.run_name,
                "status": info.status,
                "start": info.start_time,
                "end": info.end_time,
                "experiment": experiment.name,
                "params": dict(run.data.params),
                "tags": dict(run.data.tags),
                "metrics": metrics,
            }
            take(report, info.run_id, partial(_mlflow_run, info.run_id, data, scenario))
    # search_runs sorts newest first; store oldest first, as the file import does.
    report.runs.sort(key=lambda r: (r.row["start_time"] or 0, r.row["id"]))
    return report


def _paged(fetch: Callable[[str | None], Any]) -> Iterable[Any]:
    """Every item of a paged MLflow search."""
    token: str | None = None
    while True:
        page = fetch(token)
        yield from page
        token = page.token
        if not token:
            return
