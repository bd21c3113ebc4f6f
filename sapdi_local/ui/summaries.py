"""Runs as the explorer's JSON shows them: the summary of a list's row (``run_summary``),
a whole run (``run_json``), times as ISO 8601 text, and the column names that can be read.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..model import Run
from ..records import StoredRun, run_from_record, shown_status
from ..store import RunRecord


def run_summary(stored: StoredRun) -> dict[str, Any]:
    """A run as lists show it: what a table row needs, without the system parameters and tag
    the SDK adds (``start``, ``end``, ``runName``) or the context of ``/api/runs/<id>``.

    Made straight from the stored row (as ``read_records`` reads it): a collection of 10,000
    runs is listed in one request. Fields that cannot be read are null or left out, and
    described in ``unreadable``.
    """
    row = stored.row
    start, end = row["start_time"], row["end_time"]
    return {
        "id": row["id"],
        "name": row["name"],
        "scenario": row["scenario"],
        "collection": row["collection"],
        "collection_is_default": bool(row["collection_is_default"]),
        "status": shown_status(row),
        "start_time": _iso(start),
        "end_time": _iso(end),
        "duration_seconds": None if start is None or end is None else end - start,
        "parameters": stored.parameters,
        "tags": stored.tags,
        "labels": stored.labels,
        "metrics": stored.metrics,
        "unreadable": [item.to_dict() for item in stored.unreadable],
    }


def run_json(record: RunRecord) -> dict[str, Any]:
    run: Run = run_from_record(record, warn=False)
    data = run.to_dict()
    data["duration_seconds"] = (
        None
        if run.start_time is None or run.end_time is None
        else (run.end_time - run.start_time).total_seconds()
    )
    return data


def _iso(seconds: float | None) -> str | None:
    # model.iso_time(utc_from_seconds(...)) gives the same text; inline, without its import
    # per call, because a list of 10,000 runs formats 20,000 times.
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc).isoformat()
