"""Persist throughput: a million cached values (1000 metrics × 1000) written by one
persist, against plain sqlite3 executemany into a same-shaped table with the same index,
in one WAL transaction on the same disk."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from benchmarks.common import CONTEXT, Figure, alternate, median, scratch_folder

TARGET_SHARE = 0.8


def ours_rows_per_second(folder: Path, metrics: int, values: int, attempt: int) -> float:
    from sapdi_local import MLTrackingSDK

    sdk = MLTrackingSDK(db_path=folder / f"ours-{attempt}.db", cache_limit_bytes=1e12, **CONTEXT)
    sdk.start_run()
    names = [f"metric_{index:04d}" for index in range(metrics)]
    for step in range(values):
        for name in names:
            sdk.log_metric(name, step * 0.5, step=step)
    start = time.perf_counter()
    sdk.persist_run()
    elapsed = time.perf_counter() - start
    sdk.end_run()
    sdk.close()
    return metrics * values / elapsed


def plain_rows_per_second(folder: Path, metrics: int, values: int, attempt: int) -> float:
    now = time.time()
    rows = [
        (1, f"metric_{index:04d}", step + 1, step, now, step * 0.5)
        for index in range(metrics)
        for step in range(values)
    ]
    connection = sqlite3.connect(folder / f"plain-{attempt}.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "CREATE TABLE metrics (run_key INTEGER, name TEXT, seq INTEGER, step INTEGER, "
        "timestamp FLOAT, value FLOAT)"
    )
    connection.execute("CREATE UNIQUE INDEX metrics_run_name_seq ON metrics (run_key, name, seq)")
    start = time.perf_counter()
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)", rows)
    connection.execute("COMMIT")
    elapsed = time.perf_counter() - start
    connection.close()
    return len(rows) / elapsed


def run(quick: bool) -> list[Figure]:
    metrics, values, repeats = (200, 1000, 3) if quick else (1000, 1000, 5)
    counter = iter(range(10_000))
    with scratch_folder("persist") as folder:
        ours, base = alternate(
            lambda: ours_rows_per_second(folder, metrics, values, next(counter)),
            lambda: plain_rows_per_second(folder, metrics, values, next(counter)),
            repeats,
        )
    share = median(ours) / median(base)
    return [
        Figure(
            benchmark=f"persist {metrics * values:,} values",
            unit="rows/s",
            ours=median(ours),
            baseline=median(base),
            baseline_name="sqlite3 executemany, same index",
            target=f"at least {TARGET_SHARE:g} of plain sqlite3",
            met=share >= TARGET_SHARE,
            note=f"{share:.2f} of plain sqlite3",
            samples={"ours": ours, "baseline": base},
        )
    ]
