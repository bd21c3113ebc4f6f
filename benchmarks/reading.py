"""Reading at scale: 10,000 runs, each with 20 parameters, 10 tags and 10 metrics of 1000
values (100 million stored values), read through the SDK against the plain SQL floor of
the same queries on the same file.

Runs, parameters and tags are written through the SDK. The metric histories are filled in
with one INSERT ... SELECT per block of runs: a hundred million values through Python
would take longer than every other benchmark together, and reading is what is measured
here. The built file is kept under benchmarks/results/ and reused by the next full run.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from pathlib import Path

from benchmarks.common import CONTEXT, Figure, alternate, median, run_python

RESULTS = Path(__file__).parent / "results"
METRICS = 10
PARAMETERS = 20
TAGS = 10
TAG_GROUPS = 100  # the tag "group" takes 100 values: a filter selects 1% of the runs


def build(path: Path, runs: int, history: int) -> None:
    """Write the database: runs with parameters and tags through the SDK, then histories."""
    from sapdi_local import MLTrackingSDK

    sdk = MLTrackingSDK(db_path=path, **CONTEXT)
    for index in range(runs):
        sdk.start_run(run_collection_name=f"collection-{index % 10}", run_name=f"run-{index}")
        sdk.log_parameters({f"param_{p:02d}": f"{index * p % 97}" for p in range(PARAMETERS)})
        sdk.set_tags(
            {f"tag_{t}": f"value-{t}" for t in range(1, TAGS)} | {"group": index % TAG_GROUPS}
        )
        sdk._end_active_run("FINISHED", explicit=True)
    sdk.close()
    connection = sqlite3.connect(path, isolation_level=None)
    # A throwaway fixture: no need to survive a power cut while it is made, and written
    # straight into the file rather than through the WAL and a checkpoint (half the I/O).
    connection.execute("PRAGMA journal_mode=DELETE")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA cache_size=-262144")  # 256 MB
    keys = [key for (key,) in connection.execute("SELECT key FROM runs ORDER BY key")]
    block = 500
    for start in range(0, len(keys), block):
        first, last = keys[start], keys[min(start + block, len(keys)) - 1]
        connection.execute("BEGIN")
        connection.execute(
            "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?), "
            "metric(m) AS (SELECT 0 UNION ALL SELECT m + 1 FROM metric WHERE m < ?) "
            "INSERT INTO metrics (run_key, name, seq, step, timestamp, value) "
            "SELECT runs.key, 'metric_' || m, n, n - 1, 1.7e9 + n, "
            "(runs.key % 13) * 0.01 + n * 1e-4 "
            "FROM runs, metric, seq WHERE runs.key BETWEEN ? AND ?",
            (history, METRICS - 1, first, last),
        )
        connection.execute(
            "INSERT INTO latest_metrics (run_key, name, seq, step, timestamp, value) "
            "SELECT run_key, name, seq, step, timestamp, value FROM metrics "
            "WHERE run_key BETWEEN ? AND ? AND seq = ?",
            (first, last, history),
        )
        connection.execute("COMMIT")
    connection.execute("PRAGMA journal_mode=WAL")  # as the tracker leaves its files
    connection.close()


def database(runs: int, history: int) -> Path:
    """The built file for this size, built now unless a complete one is already there."""
    from sapdi_local.store import SCHEMA_VERSION

    path = RESULTS / f"reading-{runs}x{history}-schema{SCHEMA_VERSION}.db"
    done = path.with_suffix(".complete")
    if not done.exists():
        RESULTS.mkdir(parents=True, exist_ok=True)
        for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
        build(path, runs, history)
        done.touch()
    return path


def milliseconds(function: object, repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()  # type: ignore[operator]
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def run(quick: bool) -> list[Figure]:
    from sapdi_local import MLTrackingSDK

    runs, history, repeats = (500, 100, 15) if quick else (10_000, 1000, 31)
    print(f"  building or reusing {runs:,} runs × {METRICS} × {history}", file=sys.stderr)
    path = database(runs, history)
    sdk = MLTrackingSDK(db_path=path, **CONTEXT)
    target_run = sdk.get_runs(scenario=CONTEXT["scenario"], tags={"group": 7})[0]
    plain = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    key = plain.execute("SELECT key FROM runs WHERE id = ?", (target_run.id,)).fetchone()[0]

    def plain_run() -> None:
        plain.execute("SELECT * FROM runs WHERE id = ?", (target_run.id,)).fetchall()
        for table in ("parameters", "tags", "labels", "latest_metrics"):
            plain.execute(f"SELECT name, value FROM {table} WHERE run_key = ?", (key,)).fetchall()

    def plain_history() -> None:
        for metric in range(METRICS):
            plain.execute(
                "SELECT value, step, timestamp FROM metrics WHERE run_key = ? AND name = ? "
                "ORDER BY seq",
                (key, f"metric_{metric}"),
            ).fetchall()

    def plain_tag_filter() -> None:
        run_keys = [
            row[0]
            for row in plain.execute(
                "SELECT key FROM runs WHERE key IN "
                "(SELECT run_key FROM tags WHERE name = 'group' AND value = '7')"
            )
        ]
        marks = ", ".join("?" for _ in run_keys)
        plain.execute(f"SELECT * FROM runs WHERE key IN ({marks})", run_keys).fetchall()
        for table in ("parameters", "tags", "labels", "latest_metrics"):
            plain.execute(
                f"SELECT run_key, name, value FROM {table} WHERE run_key IN ({marks})", run_keys
            ).fetchall()

    cases = [
        ("get_runs(run=...)", lambda: sdk.get_runs(run=target_run), plain_run, 10.0),
        (
            f"get_metrics_history, {METRICS} × {history}",
            lambda: sdk.get_metrics_history(run=target_run),
            plain_history,
            10.0,
        ),
        (
            f"get_runs by one tag, {runs:,} runs",
            lambda: sdk.get_runs(scenario=CONTEXT["scenario"], tags={"group": 7}),
            plain_tag_filter,
            50.0,
        ),
    ]
    figures = []
    for name, ours_call, plain_call, target in cases:
        ours, base = alternate(
            lambda call=ours_call: median(milliseconds(call, 3)),
            lambda call=plain_call: median(milliseconds(call, 3)),
            repeats,
        )
        figures.append(
            Figure(
                benchmark=name,
                unit="ms",
                ours=median(ours),
                baseline=median(base),
                baseline_name="plain SQL, same queries",
                higher_is_better=False,
                target=f"under {target:g} ms" if not quick else "",
                met=median(ours) < target if not quick else None,
                samples={"ours": ours, "baseline": base},
            )
        )
    figures.append(cold_open(path, target_run.id, repeats=3 if quick else 9))
    size = sum(os.path.getsize(p) for p in (path, Path(f"{path}-wal")) if p.exists())
    values = runs * METRICS * history
    figures.append(
        Figure(
            benchmark="database size",
            unit="bytes/value",
            ours=size / values,
            note=f"{size / 1e9:.2f} GB for {values:,} metric values and their runs",
        )
    )
    plain.close()
    sdk.close()
    return figures


COLD_OURS = """
import time
start = time.perf_counter()
from sapdi_local import MLTrackingSDK
MLTrackingSDK(db_path={path!r}).get_runs(run={run_id!r})
print((time.perf_counter() - start) * 1000)
"""

COLD_PLAIN = """
import time
start = time.perf_counter()
import sqlite3
connection = sqlite3.connect("file:{path}?mode=ro", uri=True)
connection.execute("SELECT * FROM runs WHERE id = ?", ({run_id!r},)).fetchall()
print((time.perf_counter() - start) * 1000)
"""


def cold_open(path: Path, run_id: str, repeats: int) -> Figure:
    """A new process opens the file and reads one run: imports and first query included."""
    ours, base = alternate(
        lambda: float(run_python(COLD_OURS.format(path=str(path), run_id=run_id))),
        lambda: float(run_python(COLD_PLAIN.format(path=str(path), run_id=run_id))),
        repeats,
    )
    return Figure(
        benchmark="open the file in a new process and read a run",
        unit="ms",
        ours=median(ours),
        baseline=median(base),
        baseline_name="import sqlite3, connect, one query",
        higher_is_better=False,
        samples={"ours": ours, "baseline": base},
    )
