"""Reading runs out of trackio: its per-project SQLite file, read directly (no trackio
needed).

How runs map (see README, "Moving runs"): the run id trackio gives each run is kept (32 hex
digits; a database written before trackio had run ids gets one derived from project and run
name); the project is the scenario, the run's group (else the project) the collection; the
config becomes parameters, its ``_``-prefixed keys (``_Username``, ``_Created``, ``_Group``)
tags. What our rules refuse is reported as ``runs.py`` describes.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import InvalidTypeError, InvalidValueError, StorageError, TrackingError
from ..model import FINISHED
from ..run_rules import quoted
from .runs import (
    ReadReport,
    SourceRun,
    described,
    is_integer,
    is_number,
    open_foreign,
    reason_for,
    showable,
    take,
)

_HEX_ID = re.compile(r"[0-9a-f]{32}")


def read_trackio(path: Path, *, scenario: str | None = None) -> ReadReport:
    """Read a trackio project database (``PROJECT.db`` in trackio's folder, by default
    ``~/.cache/huggingface/trackio``) directly: no trackio needed.

    >>> demo = Path("~/.cache/huggingface/trackio/demo.db").expanduser()
    >>> [run.row["name"] for run in read_trackio(demo).runs]
    ['first', 'second']
    """
    report = ReadReport(str(path))
    project = path.stem
    connection = open_foreign(path, "a trackio project database", ("metrics", "configs"))
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
        take(report, run_id, partial(_trackio_run, project, run_id, run_key, data, scenario))
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
        raise InvalidTypeError(f"{field} is {described(document)}, not JSON text")
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
        raise InvalidTypeError(f"{field} is {described(text)}, not an ISO 8601 time")
    try:
        seconds = datetime.fromisoformat(text).timestamp()
    except (ValueError, OverflowError, OSError) as error:
        raise InvalidValueError(
            f"{field} {quoted(text)} is not an ISO 8601 time ({error})"
        ) from None
    return showable(field, text, seconds)


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
            if not is_integer(step):
                raise InvalidTypeError(f"step is {described(step)}, not an integer")
            logged = _json_object("metrics", values)
        except TrackingError as error:
            malformed.append((row_id, reason_for(error)))
            continue
        times.append(seconds)
        for name, value in logged.items():
            if isinstance(value, str) and value in _NON_FINITE_TEXT:
                value = _NON_FINITE_TEXT[value]
            if not is_number(value):
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
