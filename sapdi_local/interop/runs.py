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

What our rules refuse is reported, never fatal and never silent, in three ways:

- What another tracker may hold but we cannot is left out of a run that comes in, counted
  or listed: NaN and infinite metric values, names or values over our limits, reserved
  names, NULL tag values, trackio's non-numeric values.
- A malformed run is skipped whole and listed with the reason; nothing of it is written:
  an id not of the run-id form, a name, experiment or project empty, NUL-holding or over
  256 characters, a time that is not a finite number within 1678..2262, text or a blob
  where a number belongs, a NULL or unreadable timestamp or step, a trackio config that is
  not a JSON object, anything ``run_rules.check_run_content`` refuses.
- A trackio metrics row that is not a JSON object, or whose time or step cannot be read, is
  left out of its run, counted and listed (the first 100).

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
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, TypeGuard

from ..errors import (
    InvalidTypeError,
    InvalidValueError,
    MissingExtraError,
    StorageError,
    TrackingError,
)
from ..model import FAILED, FINISHED, RUNNING, TERMINATED
from ..run_rules import check_run_content, check_run_id, check_run_time, quoted, shown
from ..store import ImportedRun
from ..validation import (
    HISTORY_WINDOW,
    TIME_RANGE_TEXT,
    check_metric_value,
    check_name,
    check_parameter,
    check_tag,
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
_HEX_ID = re.compile(r"[0-9a-f]{32}")
# A source's ids and names can be megabytes long or hold NUL: a report shows printable text
# up to the longest run id as it is, anything else repr-escaped and cut to about 40 chars.
REASON_LENGTH = 300  # a reason quotes the source's values, which may be megabytes long
LISTED_ROWS = 100  # malformed trackio rows listed one by one; all of them are counted
# The errors a row of junk can raise while it is converted, besides our TrackingErrors.
_JUNK_ERRORS = (ArithmeticError, TypeError, ValueError, RecursionError)


def _described(value: object) -> str:
    """What a source's cell holds, for a message: its SQL type and a cut repr."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        kind = "text"
    elif isinstance(value, bytes):
        kind = "a blob"
    else:
        kind = type(value).__name__
    return f"{kind} {quoted(value)}"


def _reason(error: BaseException) -> str:
    """Why a run or a row was left out; errors other than ours name their type."""
    text = str(error) if isinstance(error, TrackingError) else f"{type(error).__name__}: {error}"
    return text if len(text) <= REASON_LENGTH else text[:REASON_LENGTH] + "..."


class SourceRun(NamedTuple):
    """A run as another tracker holds it, before our rules are applied. Metric values are
    (value, step, timestamp in Unix seconds), NaN included, in the order they were logged.
    Id, names and times are as the source holds them (``prepare`` checks them); what the
    reader already left out is ``not_numbers`` and ``malformed_rows`` ((row, reason))."""

    id: object
    name: object
    scenario: object
    collection: object
    pipeline: str
    status: str
    start_time: float | None
    end_time: float | None
    parameters: dict[str, str | None]
    tags: dict[str, str | None]
    metrics: dict[str, list[tuple[float, int, float]]]
    scenario_version: object = "unversioned"
    not_numbers: int = 0
    malformed_rows: tuple[tuple[object, str], ...] = ()


@dataclass
class ReadReport:
    """What reading a source found and what our rules left out."""

    source: str
    runs: list[ImportedRun] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # run, kind, name, reason
    runs_skipped: list[dict[str, str]] = field(default_factory=list)  # run, reason
    rows_skipped: list[dict[str, Any]] = field(default_factory=list)  # run, row, reason
    non_finite: int = 0  # NaN and infinite metric values left out
    not_numbers: int = 0  # trackio values that are not numbers (text, media, tables)
    malformed_rows: int = 0  # trackio metrics rows left out (the first LISTED_ROWS listed)
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
            "runs_skipped": self.runs_skipped,
            "malformed_rows": self.rows_skipped,
            "non_finite_values_skipped": self.non_finite,
            "non_numeric_values_skipped": self.not_numbers,
            "malformed_rows_skipped": self.malformed_rows,
            "values_beyond_window": self.trimmed,
            "deleted_runs_left_out": self.deleted,
        }

    def skip_run(self, run_id: object, error: BaseException) -> None:
        self.runs_skipped.append({"run": shown(run_id), "reason": _reason(error)})

    def add(self, other: ReadReport) -> None:
        """Take in ``other``, what reading one run found: its run, counts and lists."""
        self.runs.extend(other.runs)
        self.skipped.extend(other.skipped)
        self.runs_skipped.extend(other.runs_skipped)
        room = max(LISTED_ROWS - len(self.rows_skipped), 0)
        self.rows_skipped.extend(other.rows_skipped[:room])
        self.non_finite += other.non_finite
        self.not_numbers += other.not_numbers
        self.malformed_rows += other.malformed_rows
        self.trimmed += other.trimmed
        self.deleted += other.deleted


# ---------------------------------------------------------------- our rules


def prepare(run: SourceRun, report: ReadReport) -> None:
    """Apply our rules to ``run`` and add it to ``report.runs``. What another tracker may
    hold but we cannot is left out and recorded in ``report``; a run that breaks a rule of
    its own is skipped whole (in ``report.runs_skipped``) and nothing of it is counted.

    >>> prepare(SourceRun("9d3c5e0f9b8a4c1d8e7f6a5b4c3d2e1f", "lr-0.1", "churn", "baseline",
    ...                   "mlflow", "FINISHED", 1.7e9, 1.7e9 + 60, {"lr": "0.1"}, {},
    ...                   {"loss": [(0.5, 0, 1.7e9)]}), report)
    """
    # Collected apart, so that a run refused whole adds no count and no skipped item.
    own = ReadReport(report.source)
    try:
        own.runs.append(_checked(run, own))
    except TrackingError as error:
        report.skip_run(run.id, error)
    else:
        report.add(own)


def _checked(run: SourceRun, report: ReadReport) -> ImportedRun:
    run_id = check_run_id(run.id)  # first: every later message names the run by it

    def skip(kind: str, name: str, error: TrackingError) -> None:
        report.skipped.append(
            {"run": run_id, "kind": kind, "name": shown(name), "reason": _reason(error)}
        )

    parameters = _texts_kept(run.parameters, "parameter", check_parameter, skip)
    tags = _texts_kept(run.tags, "tag", check_tag, skip)
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
    report.not_numbers += run.not_numbers
    report.malformed_rows += len(run.malformed_rows)
    report.rows_skipped.extend(
        {"run": run_id, "row": row, "reason": reason} for row, reason in run.malformed_rows
    )
    imported = ImportedRun(
        row={
            "id": run_id,
            "name": run.name or run_id,
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
    # The last guard: the same rules a merged run meets, on exactly what will be written.
    check_run_content(
        imported.row, imported.parameters, imported.tags, imported.labels, imported.metrics
    )
    return imported


def _texts_kept(
    pairs: dict[str, str | None],
    kind: str,
    check: Callable[[object, object], tuple[str, str]],
    skip: Callable[[str, str, TrackingError], None],
) -> dict[str, str]:
    """The parameters or tags our rules take; the others are passed to ``skip``."""
    kept: dict[str, str] = {}
    for name, value in pairs.items():
        try:
            if value is None:
                raise InvalidValueError(
                    f"{kind} {quoted(name)} has no value (NULL); values are stored as text"
                )
            key, text = check(name, value)
        except TrackingError as error:
            skip(kind, name, error)
        else:
            kept[key] = text
    return kept


def _take(report: ReadReport, run_id: object, read: Callable[[], SourceRun]) -> None:
    """Prepare the run ``read`` converts from the source's rows; a row it cannot convert
    skips the run whole, with the reason."""
    try:
        prepare(read(), report)
    except (TrackingError, *_JUNK_ERRORS) as error:
        report.skip_run(run_id, error)


def _ordered(values: Iterable[tuple[float, int, float]]) -> list[tuple[float, int, float]]:
    """Values in logging order: by timestamp, then step (then value, so that the same
    source read two ways gives the same order)."""
    return sorted(values, key=lambda item: (item[2], item[1], item[0]))


def _version_of(tags: dict[str, str | None]) -> str:
    commit = tags.get("mlflow.source.git.commit")
    return commit[:12] if commit else "unversioned"


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


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


def _lenient_text(data: bytes) -> str:
    # Text that is not UTF-8 would stop the whole read in sqlite3; decoded with its bad
    # bytes kept as lone surrogates, it reaches our rules, which refuse that one run.
    return data.decode("utf-8", "surrogateescape")


def _open_foreign(path: Path, what: str, tables: Sequence[str]) -> sqlite3.Connection:
    """A read-only connection to another application's SQLite file holding ``tables``."""
    if not path.is_file():
        raise StorageError(f"{path} does not exist; give the path of {what}")
    try:
        connection = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
        connection.text_factory = _lenient_text
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
        _take(report, run_id, partial(_mlflow_run, run_id, data, scenario))
    return report


def _mlflow_run(run_id: object, data: dict[str, Any], scenario: str | None) -> SourceRun:
    """One of MLflow's runs, its cells converted; a TrackingError for a cell MLflow does
    not write (text or a blob where a number belongs, a missing time or step)."""
    tags = _mlflow_texts("tag", data["tags"])
    metrics: dict[str, list[tuple[float, int, float]]] = {}
    for key, rows in data["metrics"].items():
        name = _mlflow_key("metric", key)
        metrics[name] = _ordered(_mlflow_value(name, *row) for row in rows)
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
        raise InvalidTypeError(f"a {kind} key is {_described(key)}, not text; MLflow writes text")
    return key


def _mlflow_texts(kind: str, pairs: dict[object, object]) -> dict[str, str | None]:
    """Parameters or tags whose keys and values are text (a value may be NULL, which
    ``prepare`` leaves out and reports)."""
    texts: dict[str, str | None] = {}
    for key, value in pairs.items():
        name = _mlflow_key(kind, key)
        if value is not None and not isinstance(value, str):
            raise InvalidTypeError(
                f"{kind} {quoted(name)} holds {_described(value)}, not text; MLflow writes text"
            )
        texts[name] = value
    return texts


def _mlflow_value(
    name: str, value: object, timestamp: object, step: object, is_nan: object
) -> tuple[float, int, float]:
    """One row of MLflow's metrics table as (value, step, Unix seconds)."""
    field = f"metric {quoted(name)}"
    if is_nan not in (0, 1):
        raise InvalidValueError(f"{field}: is_nan is {_described(is_nan)}, not 0 or 1")
    if is_nan:
        number = math.nan
    elif _is_number(value):
        number = float(value)
    else:
        raise InvalidTypeError(
            f"{field} holds {_described(value)} as a value, not a number; MLflow writes a float"
        )
    if not _is_integer(step):
        raise InvalidTypeError(
            f"step of {field} is {_described(step)}, not an integer; MLflow writes one"
        )
    return number, step, _milliseconds(f"timestamp of {field}", timestamp)


def _milliseconds(field: str, value: object) -> float:
    """A time MLflow keeps as milliseconds since 1970, in Unix seconds, if readers can
    show it."""
    if not _is_number(value):
        raise InvalidTypeError(
            f"{field} is {_described(value)}, not milliseconds since 1970; MLflow writes an integer"
        )
    return _showable(field, value, value / 1000)


def _showable(field: str, written: object, seconds: float) -> float:
    """``seconds`` (the time a source's cell ``written`` holds) if every reader can show it."""
    try:
        checked = check_run_time(field, seconds)
    except InvalidValueError:
        raise InvalidValueError(
            f"{field} {quoted(written)} is not a finite time within {TIME_RANGE_TEXT}, the "
            "times every reader can show; the source holds a damaged value"
        ) from None
    assert checked is not None  # a number in, a number out
    return checked


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
            _take(report, info.run_id, partial(_mlflow_run, info.run_id, data, scenario))
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
        # Cells as the file holds them, converted run by run in _trackio_run, so that a
        # bad cell costs its own row or run and no other.
        runs: dict[object, dict[str, Any]] = {}
        for run_key, name, config, created in connection.execute(
            f"SELECT {run_column}, run_name, config, created_at FROM configs ORDER BY id"
        ):
            runs[run_key] = {"name": name, "config": config, "created": created, "rows": []}
        for row_id, run_key, name, timestamp, step, values in connection.execute(
            f"SELECT id, {run_column}, run_name, timestamp, step, metrics FROM metrics ORDER BY id"
        ):
            entry = runs.setdefault(
                run_key, {"name": name, "config": None, "created": timestamp, "rows": []}
            )
            entry["rows"].append((row_id, timestamp, step, values))
    except sqlite3.DatabaseError as error:
        raise StorageError(f"cannot read {path}: {error}; check the file") from error
    finally:
        connection.close()
    for run_key, data in runs.items():
        run_id = trackio_run_id(project, run_key, by_id=by_id)
        _take(report, run_id, partial(_trackio_run, project, run_id, run_key, data, scenario))
    return report


def _has_column(connection: sqlite3.Connection, table: str, column: str) -> bool:
    return any(row[1] == column for row in connection.execute(f"PRAGMA table_info({table})"))


def _json_object(field: str, document: object) -> dict[str, Any]:
    """``document`` (JSON text, or the UTF-8 bytes trackio writes) read as a JSON object."""
    if isinstance(document, bytes):
        try:
            document = document.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidValueError(f"{field} is not UTF-8 text ({error})") from None
    if not isinstance(document, str):
        raise InvalidTypeError(f"{field} is {_described(document)}, not JSON text")
    try:
        value = json.loads(document)
    except (ValueError, RecursionError) as error:  # RecursionError: nested too deeply
        raise InvalidValueError(f"{field} {quoted(document)} is not JSON ({error})") from None
    if not isinstance(value, dict):
        raise InvalidValueError(
            f"{field} is a JSON {type(value).__name__}, not an object of names to values"
        )
    return value


def _iso_seconds(field: str, text: object) -> float:
    """An ISO 8601 time as trackio writes it, in Unix seconds, if readers can show it."""
    if not isinstance(text, str):
        raise InvalidTypeError(f"{field} is {_described(text)}, not an ISO 8601 time")
    try:
        seconds = datetime.fromisoformat(text).timestamp()
    except (ValueError, OverflowError, OSError) as error:
        raise InvalidValueError(
            f"{field} {quoted(text)} is not an ISO 8601 time ({error})"
        ) from None
    return _showable(field, text, seconds)


def _time_or_none(text: object) -> float | None:
    try:
        return _iso_seconds("time", text)
    except TrackingError:
        return None


def trackio_run_id(project: str, run_key: object, *, by_id: bool) -> str:
    """Our id for a trackio run: trackio's own run id when it is 32 hex digits, else one
    derived from the project and the run id or name, the same on every import.

    >>> trackio_run_id("demo", "65c71aafb65b4dad959e42ea8bff56a9", by_id=True)
    '65c71aafb65b4dad959e42ea8bff56a9'
    """
    if by_id and isinstance(run_key, str) and _HEX_ID.fullmatch(run_key):
        return run_key
    import hashlib

    seed = f"trackio\x00{project}\x00{run_key}".encode("utf-8", "surrogateescape")
    return hashlib.sha256(seed).hexdigest()[:32]


# trackio writes these for NaN and the infinities (JSON has no such numbers).
_NON_FINITE_TEXT = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _trackio_run(
    project: str, run_id: str, run_key: object, data: dict[str, Any], scenario: str | None
) -> SourceRun:
    """One of trackio's runs, converted; a TrackingError when its config is not a JSON
    object (its parameters cannot be known). Rows that cannot be read are left out and
    listed in ``malformed_rows``."""
    config = {} if data["config"] is None else _json_object("config", data["config"])
    parameters: dict[str, str | None] = {
        key: _config_text(value) for key, value in config.items() if not key.startswith("_")
    }
    # A "_" key trackio leaves null (no group, no user) is not set: no tag for it.
    tags: dict[str, str | None] = {
        key: _config_text(value)
        for key, value in config.items()
        if key.startswith("_") and value is not None
    }
    metrics: dict[str, list[tuple[float, int, float]]] = {}
    times: list[float] = []
    not_numbers = 0
    malformed: list[tuple[object, str]] = []
    for row_id, timestamp, step, values in data["rows"]:
        try:
            seconds = _iso_seconds("timestamp", timestamp)
            if not _is_integer(step):
                raise InvalidTypeError(f"step is {_described(step)}, not an integer")
            logged = _json_object("metrics", values)
        except TrackingError as error:
            malformed.append((row_id, _reason(error)))
            continue
        times.append(seconds)
        for name, value in logged.items():
            if isinstance(value, str) and value in _NON_FINITE_TEXT:
                value = _NON_FINITE_TEXT[value]
            if not _is_number(value):
                not_numbers += 1
                continue
            metrics.setdefault(name, []).append((_as_float(value), step, seconds))
    start = _time_or_none(config.get("_Created"))
    if start is None:
        start = _time_or_none(data["created"])
    if start is None and times:
        start = min(times)
    # trackio records no end: the last value's time, never before the start.
    end = max([*times, start]) if start is not None else None
    group = config.get("_Group")
    return SourceRun(
        id=run_id,
        name=data["name"] or run_key,
        scenario=scenario or project,
        collection=group if isinstance(group, str) and group else project,
        pipeline="trackio",
        status=FINISHED,  # trackio records no status: a run in its file has ended or goes on
        start_time=start,
        end_time=end,
        parameters=parameters,
        tags=tags,
        metrics=metrics,  # in logging order already (the rows' order)
        not_numbers=not_numbers,
        malformed_rows=tuple(malformed),
    )


def _config_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _as_float(value: int | float) -> float:
    """A JSON number as a float: an integer beyond the double range is infinite, as it
    would be written as a float, and so left out and counted with the infinities."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf
