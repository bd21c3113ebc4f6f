"""Scaling to 100,000 runs (issue 15): the same operations on files of 1,000, 10,000 and
100,000 runs, each run with 5 parameters, 3 tags and 3 metrics of 50 values, all in one
collection of one scenario.

The files are built once and kept under benchmarks/results/ (about 630 MB at 100,000
runs): the schema and the first run through the SDK, the rest with SQL in the very rows
the SDK writes, since logging 100,000 runs one by one is not what is measured here.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

from benchmarks.common import CONTEXT

RESULTS = Path(__file__).parent / "results"
SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000, 10_000)
SCENARIO = CONTEXT.get("scenario", "benchmarks")
COLLECTION = "sweep"
HISTORY = 50
METRICS = ("accuracy", "loss", "f1")


def build(path: Path, runs: int) -> None:
    """Write ``runs`` runs: the first through the SDK (schema, migrations, context), the
    others copied from it with SQL, each with its own id, name, start time and values."""
    from sapdi_local import MLTrackingSDK

    sdk = MLTrackingSDK(db_path=path, **CONTEXT)
    sdk.start_run(run_collection_name=COLLECTION, run_name="run-0")
    sdk.log_parameters(
        {"lr": "0.1", "optimizer": "adam", "batch_size": "16", "layers": "1", "seed": "0"}
    )
    sdk.set_tags({"stage": "dev", "group": "0", "owner": "u0"})
    sdk.end_run()
    sdk.close()
    connection = sqlite3.connect(path, isolation_level=None)
    # A throwaway fixture: written straight into the file, not through the WAL.
    connection.execute("PRAGMA journal_mode=DELETE")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA cache_size=-262144")
    connection.execute("BEGIN")
    connection.execute("DELETE FROM parameters")
    connection.execute("DELETE FROM tags")
    connection.execute("DELETE FROM labels")
    connection.execute("DELETE FROM metrics")
    connection.execute("DELETE FROM latest_metrics")
    (first_start,) = connection.execute("SELECT start_time FROM runs").fetchone()
    connection.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        "INSERT INTO runs (id, name, collection, collection_is_default, scenario, "
        "scenario_version, notebook, pipeline, execution, status, start_time, end_time, "
        "host, pid, pid_started) "
        "SELECT lower(hex(randomblob(16))), 'run-' || i, collection, collection_is_default, "
        "scenario, scenario_version, notebook, pipeline, execution, status, ? + i * 60, "
        "? + i * 60 + 30 + (i % 17), host, pid, pid_started FROM runs, n WHERE runs.key = 1",
        (runs - 1, first_start, first_start),
    )
    parameters = {
        "lr": "CASE key % 4 WHEN 0 THEN '0.1' WHEN 1 THEN '0.01' WHEN 2 THEN '0.001' "
        "ELSE '0.0001' END",
        "optimizer": "CASE key % 3 WHEN 0 THEN 'adam' WHEN 1 THEN 'sgd' ELSE 'rmsprop' END",
        "batch_size": "CAST(16 << (key % 4) AS TEXT)",
        "layers": "CAST(key % 8 + 1 AS TEXT)",
        "seed": "CAST(key AS TEXT)",
    }
    for name, value in parameters.items():
        connection.execute(
            f"INSERT INTO parameters (run_key, name, value) SELECT key, ?, {value} FROM runs",
            (name,),
        )
    tags = {
        "stage": "CASE key % 2 WHEN 0 THEN 'dev' ELSE 'prod' END",
        "group": "CAST(key % 100 AS TEXT)",
        "owner": "'u' || (key % 7)",
    }
    for name, value in tags.items():
        connection.execute(
            f"INSERT INTO tags (run_key, name, value) SELECT key, ?, {value} FROM runs", (name,)
        )
    # accuracy spread over [0, 1) without a pattern; loss and f1 follow it.
    final = {
        "accuracy": "(key * 7919 % 10007) / 10007.0",
        "loss": "1 - (key * 7919 % 10007) / 10007.0",
        "f1": "(key * 7919 % 10007) / 10007.0 * 0.9",
    }
    for name, value in final.items():
        connection.execute(
            "WITH RECURSIVE seq(s) AS (SELECT 1 UNION ALL SELECT s + 1 FROM seq WHERE s < ?) "
            "INSERT INTO metrics (run_key, name, seq, step, timestamp, value) "
            f"SELECT key, ?, s, s - 1, start_time + s, ({value}) * s / ? FROM runs, seq",
            (HISTORY, name, HISTORY),
        )
    connection.execute(
        "INSERT INTO latest_metrics (run_key, name, seq, step, timestamp, value) "
        "SELECT run_key, name, seq, step, timestamp, value FROM metrics WHERE seq = ?",
        (HISTORY,),
    )
    connection.execute("COMMIT")
    connection.execute("PRAGMA journal_mode=WAL")  # as the tracker leaves its files
    connection.close()


def database(runs: int) -> Path:
    """The built file of ``runs`` runs, built now unless a complete one is already there."""
    from sapdi_local.store import SCHEMA_VERSION

    path = RESULTS / f"scaling-{runs}-schema{SCHEMA_VERSION}.db"
    done = path.with_suffix(".complete")
    if not done.exists():
        RESULTS.mkdir(parents=True, exist_ok=True)
        for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
        started = time.perf_counter()
        print(f"  building {runs:,} runs in {path.name} ...", file=sys.stderr, flush=True)
        build(path, runs)
        print(f"  built in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        done.touch()
    return path


if __name__ == "__main__":
    for size in SIZES:
        print(database(size))
