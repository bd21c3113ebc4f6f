"""What the readers of other trackers share: a run as another tracker holds it
(``SourceRun``), what reading a source found (``ReadReport``), our rules applied to each run
(``prepare``), and the read-only opening of another application's SQLite file.

The readers (``mlflow.py``, ``trackio.py``) read *foreign* databases: an MLflow ``mlflow.db``
and a trackio ``PROJECT.db`` are opened read-only with ``sqlite3``, because their layout
belongs to those projects and not to ours; every write into our own database goes through
``store.import_runs``.

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

import math
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeGuard

from ..errors import InvalidValueError, StorageError, TrackingError
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

# A source's ids and names can be megabytes long or hold NUL: a report shows printable text
# up to the longest run id as it is, anything else repr-escaped and cut to about 40 chars.
REASON_LENGTH = 300  # a reason quotes the source's values, which may be megabytes long
LISTED_ROWS = 100  # malformed trackio rows listed one by one; all of them are counted
# The errors a row of junk can raise while it is converted, besides our TrackingErrors.
_JUNK_ERRORS = (ArithmeticError, TypeError, ValueError, RecursionError)


def described(value: object) -> str:
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


def reason_for(error: BaseException) -> str:
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

        >>> from sapdi_local.interop.trackio import read_trackio
        >>> demo = Path("~/.cache/huggingface/trackio/demo.db").expanduser()
        >>> read_trackio(demo).summary()["non_finite_values_skipped"]
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
        self.runs_skipped.append({"run": shown(run_id), "reason": reason_for(error)})

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

    >>> report = ReadReport("mlflow.db")
    >>> prepare(SourceRun("9d3c5e0f9b8a4c1d8e7f6a5b4c3d2e1f", "lr-0.1", "churn", "baseline",
    ...                   "mlflow", "FINISHED", 1.7e9, 1.7e9 + 60, {"lr": "0.1"}, {},
    ...                   {"loss": [(0.5, 0, 1.7e9), (float("nan"), 1, 1.7e9 + 1)]}), report)
    >>> report.runs[0].metrics, report.non_finite
    ({'loss': [(1, 0.5, 0, 1700000000.0)]}, 1)
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
            {"run": run_id, "kind": kind, "name": shown(name), "reason": reason_for(error)}
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


def take(report: ReadReport, run_id: object, read: Callable[[], SourceRun]) -> None:
    """Prepare the run ``read`` converts from the source's rows; a row it cannot convert
    skips the run whole, with the reason."""
    try:
        prepare(read(), report)
    except (TrackingError, *_JUNK_ERRORS) as error:
        report.skip_run(run_id, error)


def ordered(values: Iterable[tuple[float, int, float]]) -> list[tuple[float, int, float]]:
    """Values in logging order: by timestamp, then step (then value, so that the same
    source read two ways gives the same order)."""
    return sorted(values, key=lambda item: (item[2], item[1], item[0]))


def is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_integer(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------- foreign files


def _lenient_text(data: bytes) -> str:
    # Text that is not UTF-8 would stop the whole read in sqlite3; decoded with its bad
    # bytes kept as lone surrogates, it reaches our rules, which refuse that one run.
    return data.decode("utf-8", "surrogateescape")


def open_foreign(path: Path, what: str, tables: Sequence[str]) -> sqlite3.Connection:
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


def showable(field: str, written: object, seconds: float) -> float:
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
