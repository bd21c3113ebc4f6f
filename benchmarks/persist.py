"""Persist throughput: a million cached values (1000 metrics × 1000) written by one
persist, against plain sqlite3 executemany into the same table (created with our own
CREATE TABLE statement), in one WAL transaction on the same disk. Both sides are timed
from holding the values in memory to having written and released them."""

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


def our_metrics_table(folder: Path) -> str:
    """The CREATE TABLE statement of our metrics table, read from a new database."""
    from sapdi_local import MLTrackingSDK

    sdk = MLTrackingSDK(db_path=folder / "schema.db", **CONTEXT)
    sdk.store.connection()
    sdk.close()
    with sqlite3.connect(folder / "schema.db") as connection:
        row = connection.execute("SELECT sql FROM sqlite_master WHERE name = 'metrics'").fetchone()
    return str(row[0]).replace("REFERENCES runs(key)", "")  # no runs table here


def plain_rows_per_second(
    folder: Path, metrics: int, values: int, attempt: int, table: str
) -> float:
    now = time.time()
    rows = [
        (1, f"metric_{index:04d}", step + 1, step, now, step * 0.5)
        for index in range(metrics)
        for step in range(values)
    ]
    connection = sqlite3.connect(folder / f"plain-{attempt}.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(table)
    start = time.perf_counter()
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany(
        "INSERT INTO metrics (run_key, name, seq, step, timestamp, value) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    connection.execute("COMMIT")
    count = len(rows)
    del rows  # released inside the timing, as a persist releases the values it wrote
    elapsed = time.perf_counter() - start
    connection.close()
    return count / elapsed


def run(quick: bool) -> list[Figure]:
    metrics, values, repeats = (100, 1000, 3) if quick else (1000, 1000, 5)
    counter = iter(range(10_000))
    with scratch_folder("persist") as folder:
        table = our_metrics_table(folder)
        ours, base = alternate(
            lambda: ours_rows_per_second(folder, metrics, values, next(counter)),
            lambda: plain_rows_per_second(folder, metrics, values, next(counter), table),
            repeats,
        )
    share = median(ours) / median(base)
    return [
        Figure(
            benchmark=f"persist {metrics * values:,} values",
            unit="rows/s",
            ours=median(ours),
            baseline=median(base),
            baseline_name="sqlite3 executemany, same table",
            target=f"at least {TARGET_SHARE:g} of plain sqlite3",
            met=share >= TARGET_SHARE,
            note=f"{share:.2f} of plain sqlite3",
            samples={"ours": ours, "baseline": base},
        )
    ]
