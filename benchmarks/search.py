"""Searching runs with the search language (issue 14): 10,000 runs of 5 parameters, 3 tags
and 3 metrics, searched through the API beside plain SQL reading the same rows from the
same file, and beside MLflow's ``search_runs`` on the same runs in MLflow's SQLite store.

Ours is written through the SDK. MLflow's file is made by MLflow (its schema, its
experiment), and its runs are then inserted with SQL in the very rows its client writes
(runs, params, tags with mlflow.runName, metrics, latest_metrics): through the client
10,000 runs take about ten minutes, and searching is what is measured. Both files are kept
under benchmarks/results/ and reused by the next run.

"Through the API" is what ``tracking.search_runs`` does: ``search_run_records`` and the
records made into Run objects (``runs_from_records``), as get_runs does.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import CONTEXT, Figure, alternate, have_module, median
from benchmarks.reading import milliseconds

RESULTS = Path(__file__).parent / "results"
THREE = "metrics.accuracy > 0.5 and params.optimizer = 'adam' and params.lr < 0.01"
TWO = "metrics.accuracy > 0.5 and params.optimizer = 'adam'"
BY_METRIC = ["metrics.accuracy DESC"]
PAGE = 100
# The plain SQL of THREE, written by hand on the same file: the floor for our query.
PLAIN_THREE = (
    "SELECT runs.* FROM runs "
    "JOIN latest_metrics AS m ON m.run_key = runs.key AND m.name = 'accuracy' "
    "JOIN parameters AS o ON o.run_key = runs.key AND o.name = 'optimizer' "
    "JOIN parameters AS l ON l.run_key = runs.key AND l.name = 'lr' "
    "WHERE m.value > 0.5 AND o.value = 'adam' AND CAST(l.value AS REAL) < 0.01 "
    "ORDER BY runs.start_time DESC, runs.key DESC"
)


def values(index: int) -> tuple[dict[str, str], dict[str, str], dict[str, float]]:
    """The parameters, tags and metrics of run ``index``: the same in both stores."""
    parameters = {
        "lr": ("0.1", "0.01", "0.001", "0.0001")[index % 4],
        "optimizer": ("adam", "sgd", "rmsprop")[index % 3],
        "batch_size": str(16 << (index % 4)),
        "layers": str(index % 8 + 1),
        "seed": str(index),
    }
    tags = {
        "stage": ("dev", "prod")[index % 2],
        "group": str(index % 100),
        "owner": f"u{index % 7}",
    }
    accuracy = (index * 7919 % 10007) / 10007  # spread over [0, 1) without a pattern
    metrics = {"accuracy": accuracy, "loss": 1 - accuracy, "f1": accuracy * 0.9}
    return parameters, tags, metrics


def build_ours(path: Path, runs: int) -> None:
    from sapdi_local import MLTrackingSDK

    sdk = MLTrackingSDK(db_path=path, **CONTEXT)
    for index in range(runs):
        parameters, tags, metrics = values(index)
        sdk.start_run(run_collection_name=f"collection-{index % 10}", run_name=f"run-{index}")
        sdk.log_parameters(parameters)
        sdk.set_tags(tags)
        sdk.log_metrics([{"name": name, "value": value} for name, value in metrics.items()])
        sdk.end_run()
    sdk.close()


def build_mlflow(path: Path, runs: int) -> None:
    """MLflow's schema and experiment made by MLflow, then the runs as its client writes them."""
    from mlflow import MlflowClient

    experiment = MlflowClient(tracking_uri=f"sqlite:///{path}").create_experiment(
        "search", artifact_location=(path.parent / "artifacts").as_uri()
    )
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN")
    start = 1_700_000_000_000
    for index in range(runs):
        parameters, tags, metrics = values(index)
        run_id = uuid.uuid4().hex
        name = f"run-{index}"
        started = start + index * 1000
        connection.execute(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
            "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
            "artifact_uri, experiment_id, deleted_time) "
            "VALUES (?, ?, 'UNKNOWN', '', '', 'unknown', 'FINISHED', ?, ?, '', 'active', ?, ?, "
            "NULL)",
            (run_id, name, started, started + 500, f"file:///artifacts/{run_id}", int(experiment)),
        )
        connection.executemany(
            "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
            [(key, value, run_id) for key, value in parameters.items()],
        )
        connection.executemany(
            "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
            [(key, value, run_id) for key, value in {**tags, "mlflow.runName": name}.items()],
        )
        for table in ("metrics", "latest_metrics"):
            connection.executemany(
                f"INSERT INTO {table} (key, value, timestamp, step, is_nan, run_uuid) "
                "VALUES (?, ?, ?, 0, 0, ?)",
                [(key, value, started, run_id) for key, value in metrics.items()],
            )
    connection.execute("COMMIT")
    connection.close()


def built(name: str, runs: int, build: Callable[[Path, int], None]) -> Path:
    """The file for this size, built now unless a complete one is already there."""
    from sapdi_local.store import SCHEMA_VERSION

    folder = RESULTS / f"search-{runs}-schema{SCHEMA_VERSION}"
    path = folder / f"{name}.db"
    done = path.with_suffix(".complete")
    if not done.exists():
        folder.mkdir(parents=True, exist_ok=True)
        for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
        build(path, runs)
        done.touch()
    return path


def measured(
    benchmark: str,
    ours_call: Callable[[], object],
    baseline_call: Callable[[], object],
    repeats: int,
    baseline_name: str,
    note: str,
    target: str = "",
    met: Callable[[float, float], bool] | None = None,
) -> Figure:
    """Both calls timed alternately, ``repeats`` samples of each (a sample is the median of
    three calls); ``met(ours, baseline)`` says whether the target is met."""
    ours, base = alternate(
        lambda: median(milliseconds(ours_call, 3)),
        lambda: median(milliseconds(baseline_call, 3)),
        repeats,
    )
    return Figure(
        benchmark=benchmark,
        unit="ms",
        ours=median(ours),
        baseline=median(base),
        baseline_name=baseline_name,
        higher_is_better=False,
        target=target,
        met=None if met is None else met(median(ours), median(base)),
        note=note,
        samples={"ours": ours, "baseline": base},
    )


def run(quick: bool) -> list[Figure]:
    from sapdi_local import MLTrackingSDK
    from sapdi_local.records import runs_from_records
    from sapdi_local.store import search_run_records

    runs, repeats = (500, 5) if quick else (10_000, 21)
    print(f"  building or reusing {runs:,} runs × 5 parameters, 3 tags, 3 metrics", file=sys.stderr)
    ours_path = built("ours", runs, build_ours)
    sdk = MLTrackingSDK(db_path=ours_path, **CONTEXT)
    store = sdk.store
    plain = sqlite3.connect(f"file:{ours_path}?mode=ro", uri=True)

    def api(expression: str | None, order: list[str], limit: int | None) -> list[Any]:
        _, records = search_run_records(store, expression, order, limit)
        return runs_from_records(records)

    def plain_rows(limit: int | None) -> list[tuple[Any, ...]]:
        """The matching rows and their details, read as our store reads them."""
        rows = plain.execute(PLAIN_THREE + ("" if limit is None else f" LIMIT {limit}")).fetchall()
        keys = [row[0] for row in rows]
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for table in ("parameters", "tags", "labels", "latest_metrics"):
                plain.execute(
                    f"SELECT run_key, name, value FROM {table} WHERE run_key IN ({marks})", chunk
                ).fetchall()
        return rows

    matches = len(plain_rows(None))
    # The same runs, in the same order, on both sides.
    assert [run.name for run in api(THREE, [], PAGE)] == [row[2] for row in plain_rows(PAGE)]

    cases = [
        (
            f"search, 3 conditions, first {PAGE} of {matches:,} matches in {runs:,} runs",
            lambda: api(THREE, [], PAGE),
            lambda: plain_rows(PAGE),
            "under 50 ms",
            lambda ours, _: ours < 50,
            f"through the API (records made Runs): {THREE}",
        ),
        (
            f"search, 3 conditions, all {matches:,} matches in {runs:,} runs",
            lambda: search_run_records(store, THREE, [], None),
            lambda: plain_rows(None),
            "within 1.5× of plain SQL",
            lambda ours, base: ours <= 1.5 * base,
            "search_run_records (records with details) against hand-written SQL and the same "
            "detail reads",
        ),
    ]
    figures = [
        measured(
            benchmark, ours_call, plain_call, repeats, "plain SQL, same rows", note,
            *(("", None) if quick else (target, met)),
        )
        for benchmark, ours_call, plain_call, target, met, note in cases
    ]  # fmt: skip
    # MLflow's ordered search takes seconds a call at full size: fewer repeats there.
    figures.extend(versus_mlflow(api, runs, min(repeats, 5)))
    plain.close()
    sdk.close()
    return figures


def versus_mlflow(
    api: Callable[[str | None, list[str], int | None], list[Any]], runs: int, repeats: int
) -> list[Figure]:
    if not have_module("mlflow"):
        print("search vs MLflow skipped: pip install -e '.[bench]' to get MLflow", file=sys.stderr)
        return []
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # no network traffic
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mlflow import MlflowClient

        for name in ("mlflow", "alembic"):
            logging.getLogger(name).setLevel(logging.ERROR)
        mlflow_path = built("mlflow", runs, build_mlflow)
        client = MlflowClient(tracking_uri=f"sqlite:///{mlflow_path}")
        experiment = client.get_experiment_by_name("search")
        assert experiment is not None
        experiments = [experiment.experiment_id]

        def theirs(expression: str, order: list[str], limit: int) -> list[Any]:
            return list(
                client.search_runs(experiments, expression, max_results=limit, order_by=order)
            )

        cases = [
            (f"search, 2 conditions, all matches in {runs:,} runs", TWO, [], None, 50_000),
            (f"search, first {PAGE} by a metric of {runs:,} runs", None, BY_METRIC, PAGE, PAGE),
        ]
        figures = []
        for benchmark, expression, order, limit, their_limit in cases:
            mine = api(expression, order, limit)
            found = theirs(expression or "", order, their_limit)
            assert [run.name for run in mine] == [run.info.run_name for run in found] or (
                not order and {run.name for run in mine} == {run.info.run_name for run in found}
            ), benchmark
            figures.append(
                measured(
                    benchmark,
                    lambda e=expression, o=order, n=limit: api(e, o, n),
                    lambda e=expression, o=order, n=their_limit: theirs(e or "", o, n),
                    repeats,
                    "MLflow sqlite, search_runs",
                    f"{len(mine):,} runs returned as Run objects on both sides; "
                    f"filter {expression!r}, order {order}",
                )
            )
        return figures
