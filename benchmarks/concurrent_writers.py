"""Concurrent writers: 1, 2, 4 and 8 processes, each with its own run in one database file,
logging 100,000 values and persisting every 10,000, all started together. Reports the
aggregate values per second and proves, by counting rows, that nothing was lost and that
no process met a lock error."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import CONTEXT, Figure, median, scratch_folder

WRITERS = (1, 2, 4, 8)
METRICS = 100  # names per run: 100 × the 1000-value window holds all 100,000 values

# One writer. It gets ready (imports, opens the database, starts its run), says so, and
# waits for the start file, so that start-up costs are outside the measurement.
CHILD = """
import json, sys, time
from pathlib import Path
from sapdi_local import MLTrackingSDK

db, start_file, values, every, metrics, context = sys.argv[1:]
values, every, metrics = int(values), int(every), int(metrics)
sdk = MLTrackingSDK(db_path=db, **json.loads(context))
sdk.start_run()
names = [f"metric_{index:03d}" for index in range(metrics)]
print("ready", flush=True)
while not Path(start_file).exists():
    time.sleep(0.001)
for index in range(values):
    sdk.log_metric(names[index % metrics], index * 0.5, step=index // metrics)
    if (index + 1) % every == 0:
        sdk.persist_run()
sdk.end_run()
print(time.time(), flush=True)
"""


def make_database(path: Path) -> None:
    """Create the file and its schema first, so that the writers only write to it."""
    from sapdi_local import MLTrackingSDK

    sdk = MLTrackingSDK(db_path=path, **CONTEXT)
    sdk.list_scenarios()  # the first read opens the file and makes its schema
    sdk.close()


def stored_values(path: Path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        return connection.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]


def one_round(
    folder: Path, attempt: int, writers: int, values: int, every: int
) -> tuple[float, int, list[str]]:
    """Values per second of ``writers`` processes together, the values stored, and problems."""
    path = folder / f"writers-{writers}-{attempt}.db"  # a new file for every round
    start_file = folder / f"start-{writers}-{attempt}"
    make_database(path)
    arguments = [str(path), str(start_file), str(values), str(every), str(METRICS)]
    arguments.append(json.dumps(CONTEXT))
    children = []
    for index in range(writers):
        # stderr goes to a file: a pipe nobody reads could fill up and stall the writer.
        errors = (folder / f"stderr-{writers}-{attempt}-{index}").open("w+")
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, *arguments],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        children.append((child, errors))
    for child, _ in children:
        assert child.stdout is not None
        child.stdout.readline()  # "ready", or nothing if it died: then its exit says why
    started = time.time()
    start_file.touch()
    problems: list[str] = []
    finished = []
    for child, errors in children:
        output, _ = child.communicate(timeout=300)
        errors.seek(0)
        stderr = errors.read()
        errors.close()
        # A writer prints nothing to stderr: any output (lock error, traceback, warning) counts.
        if child.returncode != 0 or stderr.strip():
            problems.append(f"exit {child.returncode}: {stderr.strip()[-300:]}")
        else:
            finished.append(float(output.strip()))
    elapsed = (max(finished) if finished else time.time()) - started
    return writers * values / elapsed, stored_values(path), problems


def run(quick: bool) -> list[Figure]:
    values, every, repeats = (20_000, 2_000, 1) if quick else (100_000, 10_000, 3)
    rates: dict[int, list[float]] = {writers: [] for writers in WRITERS}
    faults: dict[int, list[str]] = {writers: [] for writers in WRITERS}
    with scratch_folder("writers") as folder:
        for attempt in range(repeats):
            for writers in WRITERS:
                rate, stored, problems = one_round(folder, attempt, writers, values, every)
                rates[writers].append(rate)
                faults[writers].extend(problems)
                if stored != writers * values:
                    faults[writers].append(f"{stored:,}/{writers * values:,} values stored")
    figures = []
    for writers in WRITERS:
        expected = writers * values
        if faults[writers]:
            outcome = "; ".join(faults[writers])
        else:
            outcome = f"{expected:,}/{expected:,} values stored, no lock error"
        figures.append(
            Figure(
                benchmark=f"{writers} concurrent writers",
                unit="values/s",
                ours=median(rates[writers]),
                baseline=median(rates[1]),
                baseline_name="1 writer",
                target="every value stored, no lock error",
                met=not faults[writers],
                note=f"{outcome}; each logs {values:,}, persisting every {every:,}",
                samples={"ours": rates[writers], "baseline": rates[1]},
            )
        )
    return figures
