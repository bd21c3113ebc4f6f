"""How a run maps onto MLflow for a push: the tags that carry what MLflow has no field for
(``RUN_ID_TAG``, ``LABELS_TAG``, ``CONTEXT_TAGS``), the status it gets, the keys MLflow
refuses, MLflow's batch limits, the hash of what a push sends for a run, and the report of a
push. ``pushing.py`` sends runs by these rules.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..model import FAILED, FINISHED, RUNNING, Run

RUN_ID_TAG = "sapdi_local.run_id"
LABELS_TAG = "sapdi_local.labels"
CONTEXT_TAGS = ("collection", "scenario_version", "notebook", "pipeline", "execution")
METRICS_PER_BATCH = 1000  # MLflow's limit per log_batch call
PARAMS_PER_BATCH = 100
TAGS_PER_BATCH = 100
DEFAULT_EXPERIMENT = "sapdi-local"  # for runs without a scenario
# MLflow's rules for keys (mlflow.utils.validation): these characters, at most 250 of them,
# and no path that normalizes to another name. A key breaking them fails its whole batch,
# so it is left out and reported instead.
_MLFLOW_KEY = re.compile(r"^[/\w.\- :]*$")
MLFLOW_KEY_LENGTH = 250
MLFLOW_TAG_VALUE_LENGTH = 8000


def mlflow_status(status: str | None) -> str:
    """MLflow's status for one of ours.

    >>> mlflow_status("TERMINATED")
    'KILLED'
    """
    return status if status in (RUNNING, FINISHED, FAILED) and status else "KILLED"


def mlflow_key_problem(key: str) -> str | None:
    """Why MLflow would refuse ``key`` as a metric, parameter or tag name, or None.

    >>> mlflow_key_problem("loss"), mlflow_key_problem("loss€")
    (None, "MLflow keys may only hold letters, digits, '_', '-', '.', ' ', ':' and '/'")
    """
    import posixpath

    if len(key) > MLFLOW_KEY_LENGTH:
        return f"MLflow keys are at most {MLFLOW_KEY_LENGTH} characters; this one has {len(key)}"
    if not _MLFLOW_KEY.match(key):
        return "MLflow keys may only hold letters, digits, '_', '-', '.', ' ', ':' and '/'"
    normal = posixpath.normpath(key)
    if normal != key or normal == "." or normal.startswith(("..", "/")):
        return f"MLflow refuses keys that read as another path ({normal!r})"
    return None


@dataclass
class PushReport:
    """What a push did, summed over its runs."""

    target: str
    runs: int = 0
    created: list[str] = field(default_factory=list)  # local ids of runs made on the server
    recovered: list[str] = field(default_factory=list)  # found on the server by their tag
    # already on the server under their own id: imported from it (an import keeps the id)
    found_by_id: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)  # fields, parameters or tags sent
    values_sent: int = 0
    values_already_there: int = 0  # found on the server after an interrupted push
    parameters_sent: int = 0
    tags_sent: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)  # run, kind, name, reason
    failed: list[dict[str, str]] = field(default_factory=list)  # run, reason
    remote_ids: dict[str, str] = field(default_factory=dict)  # local id -> remote id

    def summary(self) -> dict[str, Any]:
        """The report as JSON-ready data.

        >>> PushReport("http://127.0.0.1:5000").summary()["values_sent"]
        0
        """
        return {
            "target": self.target,
            "runs": self.runs,
            "created": self.created,
            "recovered": self.recovered,
            "found_by_id": self.found_by_id,
            "updated": self.updated,
            "values_sent": self.values_sent,
            "values_already_there": self.values_already_there,
            "parameters_sent": self.parameters_sent,
            "tags_sent": self.tags_sent,
            "skipped": self.skipped,
            "failed": self.failed,
            "remote_ids": self.remote_ids,
        }


def sent_content_hash(run: Run, params: dict[str, str], tags: dict[str, str]) -> str:
    """A hash of everything but metrics that a push sends for a run."""
    content = {
        "name": run.name,
        "status": mlflow_status(run.status),
        "end": None if run.end_time is None else run.end_time.timestamp(),
        "params": params,
        "tags": tags,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
