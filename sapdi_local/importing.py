"""Reading runs out of other trackers: MLflow (its SQLite file, or any tracking URI through
MLflow's client) and trackio (its per-project SQLite file).

This module reads *foreign* databases: an MLflow ``mlflow.db`` and a trackio
``PROJECT.db`` are opened read-only with ``sqlite3`` here, because their layout belongs to
those projects and not to ours; every write into our own database goes through
``store.import_runs``. Reading either file needs no extra library; only a tracking URI that
is not a file (an ``http(s)://`` server, ``postgresql://`` and so on) needs MLflow, the
``mlflow`` extra, imported inside ``read_mlflow_client`` alone.

How runs map (see README, "Moving runs"):

- MLflow: the run id is kept as ours (both are 32 hex digits), so a second import finds
  the runs; the experiment becomes the run collection and, unless ``scenario`` is given,
  the scenario; name, status, times, parameters, tags (MLflow's ``mlflow.*`` system tags
  included) and metric histories are kept. Deleted experiments and runs are left out.
- trackio: the run id trackio gives each run is kept (32 hex digits; a database written
  before trackio had run ids gets one derived from project and run name); the project is
  the scenario, the run's group (else the project) the collection; the config becomes
  parameters, its ``_``-prefixed keys (``_Username``, ``_Created``, ``_Group``) tags.

What our rules refuse is skipped and reported, never fatal: NaN and infinite metric values
(counted), names or values over our limits, reserved names, non-numeric trackio values.
Histories keep the most recent 1000 values (ordered by timestamp, then step), numbered by
their position in the whole history so that the count of values logged is kept.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from .errors import MissingExtraError, StorageError, TrackingError
from .model import FAILED, FINISHED, RUNNING, TERMINATED
from .store import ImportedRun
from .validation import HISTORY_WINDOW, check_metric_value, check_name, check_parameter, check_tag

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
_HEX_ID = re.compile(r"^[0-9a-f]{32}$")


class SourceRun(NamedTuple):
    """A run as another tracker holds it, before our rules are applied. Metric values are
    (value, step, timestamp in Unix seconds), NaN included, in the order they were logged."""

    id: str
    name: str
    scenario: str
    collection: str
    pipeline: str
    status: str
    start_time: float | None
    end_time: float | None
    parameters: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, list[tuple[float, int, float]]]
    scenario_version: str = "unversioned"


@dataclass
class ReadReport:
    """What reading a source found and what our rules left out."""

    source: str
    runs: list[ImportedRun] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # run, kind, name, reason
    non_finite: int = 0  # NaN and infinite metric values left out
    not_numbers: int = 0  # trackio values that are not numbers (text, media, tables)
    trimmed: int = 0  # values older than the history window
    deleted: int = 0  # MLflow runs (or runs of experiments) marked deleted, left out

    def summary(self) -> dict[str, Any]:
        """The counts and skipped items, for the command's report.

        >>> read_trackio(Path("demo.db")).summary()["non_finite_values_skipped"]
        2
        """
        return {
            "source": self.source,
            "runs_read": len(self.runs),
            "skipped": self.skipped,
            "non_finite_values_skipped": self.non_finite,
            "non_numeric_values_skipped": self.not_numbers,
            "values_beyond_window": self.trimmed,
            "deleted_runs_left_out": self.deleted,
        }


# ---------------------------------------------------------------- our rules


def prepare(run: SourceRun, report: ReadReport) -> None:
    """Apply our rules to ``run`` and add it to ``report.runs``; what breaks a rule is
    recorded in ``report`` and left out.

    >>> prepare(SourceRun("9d3c...", "lr-0.1", "churn", "baseline", "mlflow", "FINISHED",
    ...                   1.7e9, 1.7e9 + 60, {"lr": "0.1"}, {}, {"loss": [(0.5, 0, 1.7e9)]}),
    ...         report)
    """

    def skip(kind: str, name: str, error: TrackingError) -> None:
        report.skipped.append({"run": run.id, "kind": kind, "name": name, "reason": str(error)})

    parameters: dict[str, str] = {}
    for name, value in run.parameters.items():
        try:
            key, text = check_parameter(name, value)
        except TrackingError as error:
            skip("parameter", name, error)
        else:
            parameters[key] = text
    tags: dict[str, str] = {}
    for name, value in run.tags.items():
        try:
            key, text = check_tag(name, value)
        except TrackingError as error:
            skip("tag", name, error)
        else:
            tags[key] = text
    metrics: dict[str, list[tuple[int, float, int | None, float]]] = {}
    for name, values in run.metrics.items():
        try:
            check_name("metric name", name)
        except TrackingError as error:
            skip("metric", name, error)
            continue
        kept: list[tuple[float, int, float]] = []
        for number, step, timestamp in values:
            if math.isfinite(number):
                kept.append((check_metric_value(name, number), step, timestamp))
            else:
                report.non_finite += 1
        first = max(len(kept) - HISTORY_WINDOW, 0)
        report.trimmed += first
        if kept:
            metrics[name] = [
                (seq, value, step, timestamp)
                for seq, (value, step, timestamp) in enumerate(kept[first:], start=first + 1)
            ]
    report.runs.append(
        ImportedRun(
            row={
                "id": run.id,
                "name": run.name or run.id,
                "collection": run.collection,
                "collection_is_default": 0,
                "scenario": run.scenario,
                "scenario_version": run.scenario_version,
                "notebook": None,
                "pipeline": run.pipeline,
                "execution": None,
                "status": run.status,
                "start_time": run.start_time,
                "end_time": run.end_time,
            },
            parameters=parameters,
            tags=tags,
            labels={},
            metrics=metrics,
        )
    )


def _ordered(values: Iterable[tuple[float, int, float]]) -> list[tuple[float, int, float]]:
    """Values in logging order: by timestamp, then step (then value, so that the same
    source read two ways gives the same order)."""
    return sorted(values, key=lambda item: (item[2], item[1], item[0]))


def _version_of(tags: dict[str, str]) -> str:
    commit = tags.get("mlflow.source.git.commit")
    return commit[:12] if commit else "unversioned"


# ---------------------------------------------------------------- MLflow


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


def _open_foreign(path: Path, what: str, tables: Sequence[str]) -> sqlite3.Connection:
    """A read-only connection to another application's SQLite file holding ``tables``."""
    if not path.is_file():
        raise StorageError(f"{path} does not exist; give the path of {what}")
    try:
        connection = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
        listed = connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        found = {row[0] for row in listed}
    except sqlite3.DatabaseError as error:
        raise StorageError(f"cannot read {path} as {what}: {error}; check the file") from error
    missing = [table for table in tables if table not in found]
    if missing:
        connection.close()
        raise StorageError(
            f"{path} is not {what} (it has no {', '.join(missing)} table); give the right file"
        )
    return connection


def read_mlflow_file(
    path: Path, *, scenario: str | None = None, experiments: Sequence[str] = ()
) -> ReadReport:
    """Read an MLflow SQLite tracking file directly (no MLflow needed).

    >>> read_mlflow_file(Path("mlflow.db")).summary()["runs_read"]
    12
    """
    report = ReadReport(str(path))
    connection = _open_foreign(
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
        runs: dict[str, dict[str, Any]] = {}
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
                number = math.nan if is_nan else float(value)
                runs[run_id]["metrics"].setdefault(key, []).append(
                    (number, int(step or 0), timestamp / 1000)
                )
    except sqlite3.DatabaseError as error:
        raise StorageError(f"cannot read {path}: {error}; check the file") from error
    finally:
        connection.close()
    for run_id, data in runs.items():
        prepare(_mlflow_run(run_id, data, scenario), report)
    return report


def _mlflow_run(run_id: str, data: dict[str, Any], scenario: str | None) -> SourceRun:
    tags: dict[str, str] = data["tags"]
    return SourceRun(
        id=run_id,
        name=data["name"] or tags.get("mlflow.runName") or run_id,
        scenario=scenario or data["experiment"],
        collection=data["experiment"],
        pipeline="mlflow",
        status=MLFLOW_STATUS.get(data["status"], FINISHED),
        start_time=None if data["start"] is None else data["start"] / 1000,
        end_time=None if data["end"] is None else data["end"] / 1000,
        parameters=data["params"],
        tags=tags,
        metrics={name: _ordered(values) for name, values in data["metrics"].items()},
        scenario_version=_version_of(tags),
    )


def mlflow_client(uri: str) -> Any:
    """MLflow's client for a tracking URI, or an error that names the extra to install.

    >>> mlflow_client("http://127.0.0.1:5000").search_experiments()
    [<Experiment: ...>]
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

    >>> read_mlflow_client("http://127.0.0.1:5000").summary()["runs_read"]
    12
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
                    (float(m.value), int(m.step or 0), m.timestamp / 1000)
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
            prepare(_mlflow_run(info.run_id, data, scenario), report)
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


# ---------------------------------------------------------------- trackio


def read_trackio(path: Path, *, scenario: str | None = None) -> ReadReport:
    """Read a trackio project database (``PROJECT.db`` in trackio's folder, by default
    ``~/.cache/huggingface/trackio``) directly: no trackio needed.

    >>> read_trackio(Path("~/.cache/huggingface/trackio/demo.db").expanduser()).runs[0].row["name"]
    'brisk-river-1'
    """
    report = ReadReport(str(path))
    project = path.stem
    connection = _open_foreign(path, "a trackio project database", ("metrics", "configs"))
    try:
        by_id = _has_column(connection, "metrics", "run_id") and _has_column(
            connection, "configs", "run_id"
        )
        run_column = "run_id" if by_id else "run_name"
        runs: dict[str, dict[str, Any]] = {}
        for run_key, name, config, created in connection.execute(
            f"SELECT {run_column}, run_name, config, created_at FROM configs ORDER BY id"
        ):
            runs[run_key] = {
                "name": name,
                "config": _json_object(config),
                "created": created,
                "rows": [],
            }
        for run_key, name, timestamp, step, values in connection.execute(
            f"SELECT {run_column}, run_name, timestamp, step, metrics FROM metrics ORDER BY id"
        ):
            entry = runs.setdefault(
                run_key, {"name": name, "config": {}, "created": timestamp, "rows": []}
            )
            entry["rows"].append((timestamp, step, _json_object(values)))
    except sqlite3.DatabaseError as error:
        raise StorageError(f"cannot read {path}: {error}; check the file") from error
    finally:
        connection.close()
    for run_key, data in runs.items():
        prepare(_trackio_run(project, run_key, by_id, data, scenario, report), report)
    return report


def _has_column(connection: sqlite3.Connection, table: str, column: str) -> bool:
    return any(row[1] == column for row in connection.execute(f"PRAGMA table_info({table})"))


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _seconds(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def trackio_run_id(project: str, run_key: str, *, by_id: bool) -> str:
    """Our id for a trackio run: trackio's own run id when it is 32 hex digits, else one
    derived from the project and the run id or name, the same on every import.

    >>> trackio_run_id("demo", "65c71aafb65b4dad959e42ea8bff56a9", by_id=True)
    '65c71aafb65b4dad959e42ea8bff56a9'
    """
    if by_id and _HEX_ID.match(run_key):
        return run_key
    import hashlib

    return hashlib.sha256(f"trackio\x00{project}\x00{run_key}".encode()).hexdigest()[:32]


# trackio writes these for NaN and the infinities (JSON has no such numbers).
_NON_FINITE_TEXT = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _trackio_run(
    project: str,
    run_key: str,
    by_id: bool,
    data: dict[str, Any],
    scenario: str | None,
    report: ReadReport,
) -> SourceRun:
    config: dict[str, Any] = data["config"]
    parameters = {
        key: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        for key, value in config.items()
        if not key.startswith("_")
    }
    tags = {
        key: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        for key, value in config.items()
        if key.startswith("_") and value is not None
    }
    metrics: dict[str, list[tuple[float, int, float]]] = {}
    times: list[float] = []
    for timestamp, step, values in data["rows"]:
        seconds = _seconds(timestamp)
        if seconds is None:
            continue
        times.append(seconds)
        for name, value in values.items():
            if isinstance(value, str) and value in _NON_FINITE_TEXT:
                value = _NON_FINITE_TEXT[value]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                report.not_numbers += 1
                continue
            metrics.setdefault(name, []).append((float(value), int(step), seconds))
    start = _seconds(config.get("_Created")) or _seconds(data["created"])
    if start is None and times:
        start = min(times)
    group = config.get("_Group")
    return SourceRun(
        id=trackio_run_id(project, run_key, by_id=by_id),
        name=data["name"] or run_key,
        scenario=scenario or project,
        collection=group if isinstance(group, str) and group else project,
        pipeline="trackio",
        status=FINISHED,  # trackio records no status: a run in its file has ended or goes on
        start_time=start,
        end_time=max(times) if times else start,
        parameters=parameters,
        tags=tags,
        metrics=metrics,  # in logging order already (the rows' order)
    )
