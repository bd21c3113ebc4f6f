"""Scaling to 100,000 runs (issue 15): the same operations on files of 1,000, 10,000 and
100,000 runs (``--quick``: 1,000 and 10,000), each run with 5 parameters, 3 tags and 3
metrics of 50 values, all in one collection of one scenario.

Each operation is reported at each size as a median over repeats (fewer at 100,000), beside
a baseline measured in the same run where there is one (plain SQL reading the same rows
from the same file with sqlite3), with its growth factor per 10× runs and, for commands
run as their own process, their peak memory:

- ``sapdi-local runs --collection sweep --limit 20`` as a new process: wall time, the
  interpreter's start and imports included, against ``python -c`` with sqlite3 reading and
  printing the same 20 runs;
- in the process, the first page of 200 runs sorted by start time and by
  ``metrics.accuracy DESC``, through ``search_run_records`` and through the explorer's JSON
  API (``/api/runs``), and ``/api/database``;
- whole-collection reads, ``get_runs(scenario=...)``, ``runs_frame`` and the explorer's list
  of every run, against plain SQL reading the same rows (the runs, then their parameters,
  tags, labels and last metrics), and the floor of get_runs (its Runs made from plain SQL's
  rows with nothing checked);
- ``export`` as CSV, JSON and a database copy, and ``runs --json`` of every run: time and
  peak memory of the process;
- opening, for writing, a file written by schema version 4 (the files of the release before
  the migrations that serve these reads): the time every migration since takes on it.

The files are built once and kept under benchmarks/results/ (about 630 MB at 100,000
runs): written at schema version 4, the first run as the SDK writes it and the rest with
SQL in the very rows the SDK writes (logging 100,000 runs one by one is not what is
measured here), then brought to the current schema by opening them with the SDK, as a
user's existing file is. ``python -m benchmarks.scaling --publish`` runs the suite and
writes benchmarks/published/scaling.json; ``--table`` prints that file as Markdown.

Two environment variables make the suite small enough for a test:
``SAPDI_BENCH_SCALING_SIZES`` (comma-separated run counts, ascending) and
``SAPDI_BENCH_SCALING_RESULTS`` (the folder that keeps the built files).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.common import CONTEXT, Figure, alternate, median, scratch_folder

RESULTS = Path(__file__).parent / "results"
PUBLISHED = Path(__file__).parent / "published" / "scaling.json"
SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000, 10_000)
SIZES_VARIABLE = "SAPDI_BENCH_SCALING_SIZES"
RESULTS_VARIABLE = "SAPDI_BENCH_SCALING_RESULTS"
SCENARIO = CONTEXT.get("scenario", "benchmarks")
COLLECTION = "sweep"
HISTORY = 50
METRICS = ("accuracy", "loss", "f1")
# The schema the built files are written at: the version of the files written before the
# migrations that serve pages and counts. Opening a copy with the SDK migrates it, which
# is the migration a user's existing file goes through.
BASE_VERSION = 4
PAGE = 200
CLI_PAGE = 20
BY_METRIC = "metrics.accuracy DESC"
# The ``runs`` columns the SDK writes, besides ``key``: copied from the SDK's own first run.
RUN_COLUMNS = (
    "id, name, collection, collection_is_default, scenario, scenario_version, notebook, "
    "pipeline, execution, status, start_time, end_time, host, pid, pid_started"
)
DETAIL_TABLES = ("parameters", "tags", "labels", "latest_metrics")
# The targets, checked at the largest size of a full run.
PAGE_TARGET_MS = 50.0
PAGE_GROWTH_LIMIT = 2.0  # the page at the largest size against the smallest
MEMORY_SLACK_MB = 20.0
WHOLE_READ_LIMIT = 1.5  # times plain SQL reading the same rows


# ---------------------------------------------------------------- the files


def results_folder() -> Path:
    """Where the built files are kept: ``$SAPDI_BENCH_SCALING_RESULTS``, else
    benchmarks/results/."""
    configured = os.environ.get(RESULTS_VARIABLE)
    return Path(configured) if configured else RESULTS


def sizes(quick: bool) -> tuple[int, ...]:
    """The run counts to measure: ``$SAPDI_BENCH_SCALING_SIZES`` when set, else 1,000,
    10,000 and 100,000 (``quick``: 1,000 and 10,000)."""
    configured = os.environ.get(SIZES_VARIABLE, "").strip()
    if not configured:
        return QUICK_SIZES if quick else SIZES
    try:
        counts = tuple(int(part) for part in configured.split(","))
    except ValueError:
        raise ValueError(
            f"{SIZES_VARIABLE}={configured!r} is not a comma-separated list of run counts; "
            "give for example 100,1000"
        ) from None
    if any(count < 2 for count in counts) or list(counts) != sorted(set(counts)):
        raise ValueError(
            f"{SIZES_VARIABLE}={configured!r}: run counts must be at least 2 and ascending, "
            "each once; give for example 100,1000"
        )
    return counts


def build(path: Path, runs: int, *, schema: int = BASE_VERSION) -> None:
    """Write ``runs`` runs at schema version ``schema``: the first as the SDK writes it
    (context, host, process), the others copied from it with SQL, each with its own id,
    name, start time and values."""
    from sapdi_local import MLTrackingSDK
    from sapdi_local.store.schema import apply_migrations

    with tempfile.TemporaryDirectory(prefix="sapdi-scaling-") as scratch:
        sdk = MLTrackingSDK(db_path=Path(scratch) / "first.db", **CONTEXT)  # type: ignore[arg-type]
        sdk.start_run(run_collection_name=COLLECTION, run_name="run-0")
        sdk.end_run()
        sdk.close()
        first = sqlite3.connect(Path(scratch) / "first.db")
        first_run = first.execute(f"SELECT {RUN_COLUMNS} FROM runs").fetchone()
        first.close()
    connection = sqlite3.connect(path, isolation_level=None)
    # A throwaway fixture: written straight into the file, not through the WAL.
    connection.execute("PRAGMA journal_mode=DELETE")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA cache_size=-262144")
    connection.execute("BEGIN")
    apply_migrations(connection, up_to=schema)
    marks = ", ".join("?" for _ in first_run)
    connection.execute(f"INSERT INTO runs (key, {RUN_COLUMNS}) VALUES (1, {marks})", first_run)
    first_start = first_run[RUN_COLUMNS.split(", ").index("start_time")]
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


def _kept(path: Path, make: Callable[[Path], object], what: str) -> Path:
    """``path``, made by ``make`` now unless a complete one is already there."""
    done = path.with_suffix(".complete")
    if not done.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
        started = time.perf_counter()
        print(f"  {what} {path.name} ...", file=sys.stderr, flush=True)
        make(path)
        print(f"  done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        done.touch()
    return path


def base_database(runs: int) -> Path:
    """The kept file of ``runs`` runs at schema version ``BASE_VERSION``."""
    path = results_folder() / f"scaling-{runs}-schema{BASE_VERSION}.db"
    return _kept(path, lambda target: build(target, runs), f"building {runs:,} runs in")


def database(runs: int) -> Path:
    """The built file of ``runs`` runs at the current schema, built now unless a complete
    one is already there: the base file itself, or a copy of it migrated by the SDK."""
    from sapdi_local.store import SCHEMA_VERSION

    base = base_database(runs)
    if SCHEMA_VERSION == BASE_VERSION:
        return base
    # Named by what the migrations since the base do, not only by their count: a migration
    # edited before it is released must not be measured on a copy its older text made.
    path = results_folder() / f"scaling-{runs}-schema{SCHEMA_VERSION}-{migrations_digest()}.db"
    for stale in results_folder().glob(f"scaling-{runs}-schema*-*.*"):
        if not stale.name.startswith(path.stem + "."):
            stale.unlink()  # a copy made by other migrations: 630 MB at 100,000 runs
    return _kept(path, lambda target: migrated_copy(base, target), "migrating a copy to")


def migrations_digest() -> str:
    """A short digest of the text of the migrations after ``BASE_VERSION``."""
    from sapdi_local.store.schema import MIGRATIONS

    return hashlib.sha256(repr(MIGRATIONS[BASE_VERSION:]).encode()).hexdigest()[:8]


def migrated_copy(base: Path, target: Path) -> float:
    """Copy ``base`` to ``target`` and open the copy for writing with the SDK, which brings
    it to the current schema: the seconds the opening took."""
    from sapdi_local import MLTrackingSDK
    from sapdi_local.store import SCHEMA_VERSION

    shutil.copyfile(base, target)
    started = time.perf_counter()
    sdk = MLTrackingSDK(db_path=target)
    sdk.store.connection()  # the store opens (and migrates) on first use
    sdk.close()
    elapsed = time.perf_counter() - started
    check = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    (version,) = check.execute("PRAGMA user_version").fetchone()
    check.close()
    if version != SCHEMA_VERSION:
        raise RuntimeError(f"{target} is at schema {version} after opening, not {SCHEMA_VERSION}")
    return elapsed


# ---------------------------------------------------------------- measuring


@dataclass
class Operation:
    """One operation of the suite and what it is measured against."""

    name: str
    baseline_name: str = ""  # empty: no baseline
    baseline_label: str = ""  # what the table writes beside the baseline's figure
    note: str = ""
    target: str = ""  # the target, checked at the largest size


@dataclass
class Measured:
    """An operation's samples at one size: milliseconds, and peak memory in MB if measured."""

    ours: list[float]
    baseline: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)
    baseline_peak_mb: list[float] = field(default_factory=list)


def growth_per_10x(smaller: tuple[int, float], larger: tuple[int, float]) -> float | None:
    """How many times the value grows per 10× runs between two (runs, value) points: the
    value at 10× the size over the value at the size, for sizes 10× apart."""
    (small_runs, small_value), (large_runs, large_value) = smaller, larger
    if small_value <= 0 or large_value <= 0 or large_runs <= small_runs:
        return None
    return float((large_value / small_value) ** (1 / math.log10(large_runs / small_runs)))


def _milliseconds(call: Callable[[], object], calls: int) -> float:
    """The median of ``calls`` calls of ``call``, in milliseconds."""
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return median(samples)


def in_process(
    ours: Callable[[], object],
    baseline: Callable[[], object] | None,
    repeats: int,
    calls: int,
) -> Measured:
    """Both calls timed alternately (a sample is the median of ``calls`` calls), after one
    call of each to warm the file's pages and the connections."""
    ours()
    if baseline is None:
        return Measured([_milliseconds(ours, calls) for _ in range(repeats)])
    baseline()
    ours_samples, baseline_samples = alternate(
        lambda: _milliseconds(ours, calls), lambda: _milliseconds(baseline, calls), repeats
    )
    return Measured(ours_samples, baseline_samples)


# A small process that runs a command and says how long it took and how much memory it
# peaked at. Its own memory is small, so the command's peak is its own: a child's
# ru_maxrss starts from what its parent held at the fork, and the suite's process holds
# a whole collection after get_runs.
PEAK_WRAPPER = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
result = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
seconds = time.perf_counter() - started
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024,
                  "returncode": result.returncode,
                  "stderr": result.stderr.decode(errors="replace")[-2000:]}))
"""


def timed_process(command: Sequence[str]) -> tuple[float, float]:
    """Run ``command`` through the wrapper: its wall time in milliseconds and its peak
    resident memory in MB. A command that fails stops the suite with its error."""
    result = subprocess.run(
        [sys.executable, "-c", PEAK_WRAPPER, *command],
        capture_output=True,
        text=True,
        timeout=3600,
        check=True,
    )
    report = json.loads(result.stdout)
    if report["returncode"] != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited with {report['returncode']}:\n{report['stderr']}"
        )
    return report["seconds"] * 1000, report["peak_mb"]


def processes(
    ours: Callable[[], Sequence[str]],
    baseline: Callable[[], Sequence[str]] | None,
    repeats: int,
    after: Callable[[], None] = lambda: None,
) -> Measured:
    """Each command run ``repeats`` times (alternating with the baseline's): time and peak
    memory. ``ours`` and ``baseline`` give the command line of each repeat; ``after``
    clears what one left behind."""
    measured = Measured([])

    def run_ours() -> float:
        milliseconds, peak = timed_process(ours())
        after()
        measured.peak_mb.append(peak)
        return milliseconds

    def run_baseline() -> float:
        assert baseline is not None
        milliseconds, peak = timed_process(baseline())
        measured.baseline_peak_mb.append(peak)
        return milliseconds

    if baseline is None:
        measured.ours = [run_ours() for _ in range(repeats)]
    else:
        measured.ours, measured.baseline = alternate(run_ours, run_baseline, repeats)
    return measured


def command_line() -> list[str]:
    """How a user starts the command: the ``sapdi-local`` script beside this interpreter."""
    script = Path(sys.executable).parent / "sapdi-local"
    return [str(script)] if script.exists() else [sys.executable, "-m", "sapdi_local"]


def plain_page_sql(order: str) -> str:
    """The SQL of a page of the collection, by start time or by the last accuracy, with the
    search's tie-break (newest first)."""
    if order == "start":
        return (
            "SELECT runs.* FROM runs WHERE runs.scenario = ? AND runs.collection = ? "
            "ORDER BY runs.start_time DESC, runs.key DESC LIMIT ?"
        )
    return (
        "SELECT runs.* FROM runs "
        "JOIN latest_metrics AS m ON m.run_key = runs.key AND m.name = 'accuracy' "
        "WHERE runs.scenario = ? AND runs.collection = ? "
        "ORDER BY m.value DESC, runs.start_time DESC, runs.key DESC LIMIT ?"
    )


def plain_page(connection: sqlite3.Connection, order: str, limit: int) -> list[tuple[Any, ...]]:
    """A page of runs and the details of its runs, read with plain SQL."""
    rows = connection.execute(plain_page_sql(order), (SCENARIO, COLLECTION, limit)).fetchall()
    keys = [row[0] for row in rows]
    marks = ", ".join("?" for _ in keys)
    for table in DETAIL_TABLES:
        connection.execute(
            f"SELECT run_key, name, value FROM {table} WHERE run_key IN ({marks})", keys
        ).fetchall()
    return rows


def plain_whole(connection: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """Every run of the scenario and the details of each, read with plain SQL: the floor
    of a whole-collection read."""
    rows = connection.execute("SELECT * FROM runs WHERE scenario = ?", (SCENARIO,)).fetchall()
    for table in DETAIL_TABLES:
        connection.execute(
            f"SELECT run_key, name, value FROM {table} "
            "WHERE run_key IN (SELECT key FROM runs WHERE scenario = ?)",
            (SCENARIO,),
        ).fetchall()
    return rows


def plain_runs(connection: sqlite3.Connection) -> list[Any]:
    """The Runs get_runs returns, made from plain SQL's rows as directly as Python can,
    with nothing checked and the collector paused: the floor of any read that returns them
    (each run a ``Run`` with its times, ``start``/``end`` as ISO text and a dict of each
    kind of its own). ``measure_size`` checks it equals get_runs' answer."""
    from sapdi_local.collector import collector_paused
    from sapdi_local.model import Run

    with collector_paused():
        rows = connection.execute(
            f"SELECT {RUN_FIELDS_SQL}, key FROM runs WHERE scenario = ? "
            "ORDER BY start_time DESC, key DESC",
            (SCENARIO,),
        ).fetchall()
        details: dict[int, tuple[dict[str, Any], ...]] = {row[-1]: ({}, {}, {}, {}) for row in rows}
        for index, table in enumerate(DETAIL_TABLES):
            for key, name, value in connection.execute(
                f"SELECT run_key, name, value FROM {table} "
                "WHERE run_key IN (SELECT key FROM runs WHERE scenario = ?)",
                (SCENARIO,),
            ):
                details[key][index][name] = value
        runs = []
        for row in rows:
            start = None if row[10] is None else datetime.fromtimestamp(row[10], timezone.utc)
            end = None if row[11] is None else datetime.fromtimestamp(row[11], timezone.utc)
            parameters, tags, labels, metrics = details[row[-1]]
            parameters["start"] = "" if start is None else start.isoformat()
            if end is not None:
                parameters["end"] = end.isoformat()
            tags["runName"] = row[1]
            labels = {name: json.loads(text) for name, text in labels.items()}
            fields = (*row[:3], bool(row[3]), *row[4:10], start, end)
            runs.append(tuple.__new__(Run, (*fields, parameters, tags, labels, metrics, ())))
        return runs


# The columns of a Run's fields, in Run's order, that ``runs`` holds as they are.
RUN_FIELDS_SQL = (
    "id, name, collection, collection_is_default, scenario, scenario_version, notebook, "
    "pipeline, execution, status, start_time, end_time"
)


# What a program does with sqlite3 alone to print the CLI's page: the same rows, read and
# printed, in a new interpreter.
PLAIN_CLI = """
import sqlite3, sys
connection = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
rows = connection.execute(
    "SELECT * FROM runs WHERE collection = ? ORDER BY start_time DESC, key DESC LIMIT ?",
    (sys.argv[2], int(sys.argv[3]))).fetchall()
keys = [row[0] for row in rows]
marks = ", ".join("?" for _ in keys)
for table in ("parameters", "tags", "labels", "latest_metrics"):
    connection.execute(
        f"SELECT run_key, name, value FROM {table} WHERE run_key IN ({marks})", keys).fetchall()
for row in rows:
    print(row[1], row[2], row[10], row[11])
"""


def repeats_for(runs: int, quick: bool) -> dict[str, int]:
    """Repeats by kind of operation: fewer for the slow ones and at 100,000 runs, where an
    export of every run takes minutes; one of each below 1,000 runs, sizes that only check
    that the suite runs."""
    if runs < 1_000:
        return dict.fromkeys(("page", "whole", "process", "export", "migration"), 1)
    if quick or runs < 100_000:
        return {"page": 7, "whole": 5, "process": 5, "export": 3, "migration": 3}
    return {"page": 5, "whole": 3, "process": 3, "export": 1, "migration": 2}


def measure_size(runs: int, quick: bool, folder: Path) -> dict[str, tuple[Operation, Measured]]:
    """Every operation on the file of ``runs`` runs."""
    from sapdi_local import MLTrackingSDK
    from sapdi_local.records import runs_from_records
    from sapdi_local.store import SCHEMA_VERSION, ReadOnlyStore, search_run_records
    from sapdi_local.ui import api

    path = database(runs)
    repeats = repeats_for(runs, quick)
    measured: dict[str, tuple[Operation, Measured]] = {}

    def step(operation: Operation, measure: Callable[[], Measured]) -> None:
        print(f"  {runs:,} runs: {operation.name}", file=sys.stderr, flush=True)
        measured[operation.name] = (operation, measure())

    cli = command_line()
    step(
        Operation(
            f"`runs --collection {COLLECTION} --limit {CLI_PAGE}`, a new process",
            "python -c with sqlite3 printing the same runs",
            "python + SQL",
            "wall time of the whole command: the interpreter's start and the imports included",
        ),
        lambda: processes(
            lambda: [*cli, "runs", "--collection", COLLECTION, "--limit", str(CLI_PAGE),
                     "--db", str(path)],
            lambda: [sys.executable, "-c", PLAIN_CLI, str(path), COLLECTION, str(CLI_PAGE)],
            repeats["process"],
        ),
    )  # fmt: skip

    store = ReadOnlyStore(path)
    plain = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    expression = f"collection = '{COLLECTION}'"
    page_target = f"under {PAGE_TARGET_MS:g} ms, at most {PAGE_GROWTH_LIMIT:g}× the smallest file's"

    def search_page(order_by: list[str]) -> list[Any]:
        _, records = search_run_records(store, expression, order_by, limit=PAGE)
        return runs_from_records(records)

    for order, order_by, label in (
        ("start", [], "by start time"),
        ("metric", [BY_METRIC], "by metric"),
    ):
        ours_names = [
            record.row["name"]
            for record in search_run_records(store, expression, order_by, limit=PAGE)[1]
        ]
        plain_names = [row[2] for row in plain_page(plain, order, PAGE)]
        if ours_names != plain_names:
            raise RuntimeError(f"the page {label} differs from plain SQL's at {runs:,} runs")
        step(
            Operation(
                f"first page of {PAGE} {label}, search_run_records",
                "plain SQL, the same page and its details",
                "SQL",
                f"search_run_records(store, {expression!r}, {order_by}, limit={PAGE}) on a "
                "ReadOnlyStore, records made Runs",
                page_target,
            ),
            partial(
                in_process,
                partial(search_page, order_by),
                partial(plain_page, plain, order, PAGE),
                repeats["page"],
                3,
            ),
        )
        query = {"scenario": [SCENARIO], "collection": [COLLECTION], "limit": [str(PAGE)]}
        if order_by:
            query["order_by"] = order_by
        step(
            Operation(
                f"first page of {PAGE} {label}, the explorer's /api/runs",
                "plain SQL, the same page and its details",
                "SQL",
                "ui.api.runs(store, query) in the process: the page, its total and the "
                "collection's column names, as JSON-ready data",
                page_target,
            ),
            partial(
                in_process,
                partial(api.runs, store, query),
                partial(plain_page, plain, order, PAGE),
                repeats["page"],
                3,
            ),
        )
    step(
        Operation(
            "/api/database",
            note="ui.api.database(store, {}): the file's counts of scenarios, collections, "
            "runs and stored values, which the page polls",
        ),
        lambda: in_process(lambda: api.database(store, {}), None, repeats["page"], 3),
    )

    sdk = MLTrackingSDK(db_path=path, **CONTEXT)  # type: ignore[arg-type]
    whole_target = f"within {WHOLE_READ_LIMIT:g}× plain SQL"
    step(
        Operation(
            f'get_runs(scenario="{SCENARIO}"), every run',
            "plain SQL reading the same rows",
            "SQL",
            "the runs, then their parameters, tags, labels and last metrics; plain SQL "
            "fetches the same rows and builds nothing from them",
            whole_target,
        ),
        lambda: in_process(
            lambda: sdk.get_runs(scenario=SCENARIO),
            lambda: plain_whole(plain),
            repeats["whole"],
            1,
        ),
    )
    if plain_runs(plain) != list(sdk.get_runs(scenario=SCENARIO)):
        raise RuntimeError(f"the floor's Runs differ from get_runs' at {runs:,} runs")
    step(
        Operation(
            "the same Runs from plain SQL, nothing checked",
            "plain SQL reading the same rows",
            "SQL",
            "the floor of get_runs: the Runs it returns, made from plain SQL's rows as "
            "directly as Python can, with no field checked and the collector paused",
        ),
        lambda: in_process(
            lambda: plain_runs(plain),
            lambda: plain_whole(plain),
            repeats["whole"],
            1,
        ),
    )
    step(
        Operation(
            f'runs_frame(scenario="{SCENARIO}"), every run',
            "plain SQL reading the same rows",
            "SQL",
            "a pandas DataFrame of one row per run; plain SQL fetches the same rows",
            whole_target,
        ),
        lambda: in_process(
            lambda: sdk.runs_frame(scenario=SCENARIO),
            lambda: plain_whole(plain),
            repeats["whole"],
            1,
        ),
    )
    every_run = {"scenario": [SCENARIO], "collection": [COLLECTION]}  # no limit: all of them
    step(
        Operation(
            "the explorer's /api/runs, every run",
            "plain SQL reading the same rows",
            "SQL",
            "ui.api.runs(store, query) without a limit, in the process: every run of the "
            "collection as the JSON-ready summaries of the explorer's list",
            whole_target,
        ),
        lambda: in_process(
            lambda: api.runs(store, every_run),
            lambda: plain_whole(plain),
            repeats["whole"],
            1,
        ),
    )
    sdk.close()
    plain.close()
    store.close()

    memory_target = f"peak within {MEMORY_SLACK_MB:g} MB of the smallest file's"
    out = folder / "out"

    def clear() -> None:
        if out.is_dir():
            shutil.rmtree(out)
        else:
            out.unlink(missing_ok=True)

    for name, arguments in (
        ("`export --format csv`, every run", ["--format", "csv"]),
        ("`export --format json`, every run", ["--format", "json"]),
        (f"`export --format db --collection {COLLECTION}`", ["--format", "db",
                                                              "--collection", COLLECTION]),
    ):  # fmt: skip
        step(
            Operation(name, note="a new process: wall time and peak memory", target=memory_target),
            partial(
                processes,
                partial(list, [*cli, "export", str(out), *arguments, "--db", str(path)]),
                None,
                repeats["export"],
                clear,
            ),
        )
    step(
        Operation(
            f"`runs --collection {COLLECTION} --limit 100000 --json`, every run",
            note="a new process writing to /dev/null: wall time and peak memory",
            target=memory_target,
        ),
        lambda: processes(
            lambda: [*cli, "runs", "--collection", COLLECTION, "--limit", "100000", "--json",
                     "--db", str(path)],
            None,
            repeats["export"],
        ),
    )  # fmt: skip

    if SCHEMA_VERSION > BASE_VERSION:
        base = base_database(runs)
        copy = folder / "migrating.db"

        def migrate_once() -> float:
            try:
                return migrated_copy(base, copy) * 1000
            finally:
                for part in (copy, Path(f"{copy}-wal"), Path(f"{copy}-shm"), Path(f"{copy}.lock")):
                    part.unlink(missing_ok=True)

        step(
            Operation(
                f"migrating a file of schema {BASE_VERSION} to {SCHEMA_VERSION}",
                note="opening a copy of the file for writing with the SDK, which migrates "
                "it under the lock; the copying is not counted",
            ),
            lambda: Measured([migrate_once() for _ in range(repeats["migration"])]),
        )
    elif runs == sizes(quick)[0]:
        print(
            f"  no migration after schema {BASE_VERSION} yet: nothing to migrate, not measured",
            file=sys.stderr,
        )
    return measured


def figures_of(
    measurements: dict[int, dict[str, tuple[Operation, Measured]]], *, check_targets: bool
) -> list[Figure]:
    """The figures of every operation at every size, each with its growth per 10× from the
    size before; targets checked at the largest size when ``check_targets``."""
    counts = sorted(measurements)
    names = list(dict.fromkeys(name for size in counts for name in measurements[size]))
    figures: list[Figure] = []
    for name in names:
        present = [size for size in counts if name in measurements[size]]
        for kind in ("time", "memory"):
            values: dict[int, float] = {}
            for size in present:
                operation, measured = measurements[size][name]
                samples = measured.ours if kind == "time" else measured.peak_mb
                if samples:
                    values[size] = median(samples)
            for index, size in enumerate(present):
                if size not in values:
                    continue
                operation, measured = measurements[size][name]
                previous = present[index - 1] if index else None
                growth = (
                    growth_per_10x((previous, values[previous]), (size, values[size]))
                    if previous in values
                    else None
                )
                largest = size == present[-1] and len(present) > 1 and check_targets
                met = _target_met(operation, kind, values, size, measured) if largest else None
                ours_samples = measured.ours if kind == "time" else measured.peak_mb
                base_samples = measured.baseline if kind == "time" else measured.baseline_peak_mb
                figures.append(
                    Figure(
                        benchmark=f"{name}, {size:,} runs"
                        + ("" if kind == "time" else ", peak memory"),
                        unit="ms" if kind == "time" else "MB",
                        ours=values[size],
                        baseline=median(base_samples) if base_samples else None,
                        baseline_name=operation.baseline_name,
                        higher_is_better=False,
                        target=operation.target if met is not None else "",
                        met=met,
                        note=operation.note
                        + ("" if growth is None else f"; ×{growth:.2f} per 10× runs"),
                        samples={"ours": ours_samples, "baseline": base_samples},
                        details={
                            "suite": "scaling",
                            "operation": name,
                            "kind": kind,
                            "runs": size,
                            "growth_per_10x": growth,
                            "baseline_label": operation.baseline_label,
                        },
                    )
                )
    return figures


def _target_met(
    operation: Operation, kind: str, values: dict[int, float], size: int, measured: Measured
) -> bool | None:
    """Whether the issue's target holds at ``size``, the largest: each target is about one
    kind of figure (pages and whole reads: time; exports: memory)."""
    if not operation.target:
        return None
    smallest = min(values)
    if operation.target.startswith("peak"):
        if kind != "memory":
            return None
        return values[size] <= values[smallest] + MEMORY_SLACK_MB
    if kind != "time":
        return None
    if operation.target.startswith("under"):
        return (
            values[size] < PAGE_TARGET_MS and values[size] <= PAGE_GROWTH_LIMIT * values[smallest]
        )
    return values[size] <= WHOLE_READ_LIMIT * median(measured.baseline)


def run(quick: bool) -> list[Figure]:
    """The suite, as the runner calls it: every operation at every size."""
    counts = sizes(quick)
    measurements: dict[int, dict[str, tuple[Operation, Measured]]] = {}
    with scratch_folder("scaling") as folder:
        for runs in counts:
            measurements[runs] = measure_size(runs, quick, folder)
    figures = figures_of(measurements, check_targets=not quick)
    print(markdown_table({"figures": [figure.to_dict() for figure in figures]}), file=sys.stderr)
    return figures


# ---------------------------------------------------------------- the published table


def _duration(milliseconds: float) -> str:
    if milliseconds >= 10_000:
        return f"{milliseconds / 1000:.1f} s"
    if milliseconds >= 1000:
        return f"{milliseconds / 1000:.2f} s"
    if milliseconds >= 10:
        return f"{milliseconds:.0f} ms"
    return f"{milliseconds:.1f} ms"


def _megabytes(value: float) -> str:
    return f"{value:,.0f}"


def markdown_table(results: dict[str, Any]) -> str:
    """The scaling figures of ``results`` (the published JSON: its ``figures``, and its
    date, commit and machine when present) as one Markdown table: each operation, its
    median at each size (beside the baseline's), its growth per 10× runs and its peak
    memory at each size; then a line saying where and when they were measured.

    >>> print(markdown_table(json.loads(PUBLISHED.read_text())))
    """
    rows: dict[str, dict[str, dict[int, dict[str, Any]]]] = {}
    for figure in results.get("figures", []):
        details = figure.get("details") or {}
        if details.get("suite") != "scaling":
            continue
        by_kind = rows.setdefault(details["operation"], {"time": {}, "memory": {}})
        by_kind[details["kind"]][int(details["runs"])] = figure
    if not rows:
        raise ValueError(
            "no figures of the scaling suite in these results; make them with "
            "python -m benchmarks.scaling --publish"
        )
    counts = sorted({runs for by_kind in rows.values() for kinds in by_kind.values()
                     for runs in kinds})  # fmt: skip
    header = ["operation", *(f"{runs:,} runs" for runs in counts), "growth per 10×",
              "peak memory (MB)"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (
        len(header) - 1)) + "|"]  # fmt: skip
    for operation, by_kind in rows.items():
        cells = [operation.replace("|", "\\|")]
        for runs in counts:
            figure = by_kind["time"].get(runs)
            if figure is None:
                cells.append("")
                continue
            cell = _duration(figure["ours"])
            if figure.get("baseline") is not None:
                label = figure["details"].get("baseline_label") or "baseline"
                cell += f" ({label} {_duration(figure['baseline'])})"
            if figure.get("met") is not None:
                cell += " ✓" if figure["met"] else " ✗"
            cells.append(cell)
        growths = [
            by_kind["time"][runs]["details"].get("growth_per_10x")
            for runs in counts
            if runs in by_kind["time"]
        ]
        cells.append(", ".join(f"×{growth:.2f}" for growth in growths if growth is not None))
        peaks = []
        for runs in counts:
            figure = by_kind["memory"].get(runs)
            if figure is not None:
                mark = "" if figure.get("met") is None else (" ✓" if figure["met"] else " ✗")
                peaks.append(_megabytes(figure["ours"]) + mark)
        cells.append(" / ".join(peaks))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + caption(results)


def caption(results: dict[str, Any]) -> str:
    """The line under the table: when, at which commit and on what machine, if known."""
    parts = []
    if results.get("date"):
        parts.append(f"Measured {results['date'][:10]}")
    if results.get("commit"):
        parts.append(f"at commit {results['commit']}")
    info = results.get("machine")
    if info:
        parts.append(
            f"on {info['cpus']} CPUs, Python {info['python']}, SQLite {info['sqlite']}, "
            f"sapdi-local {info['packages'].get('sapdi-local')}"
        )
    line = " ".join(parts)
    return (
        "\n\nMedians over repeats (a page's repeat is the median of 3 calls; fewer repeats "
        "at 100,000 runs, one of each export: the samples are in "
        "benchmarks/published/scaling.json). Growth per 10×: the figure over the one at a "
        "tenth of the runs, for each step. ✓/✗: the target (in benchmarks/scaling.py) at "
        "the largest size. " + (line + "." if line else "")
    ).rstrip()


def commit() -> str | None:
    """The checked-out commit, with "+changes" when the package's files differ from it."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "sapdi_local"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + (" with uncommitted changes to sapdi_local/" if changed else "")  # fmt: skip


def publish(quick: bool, out: Path = PUBLISHED) -> dict[str, Any]:
    """Run the suite and write its figures, with the date, commit and machine, to ``out``."""
    from benchmarks.run import machine

    started = time.perf_counter()
    measured_at = commit()
    figures = run(quick)
    results = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": measured_at,
        "quick": quick,
        "sizes": list(sizes(quick)),
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine(),
        "figures": [figure.to_dict() for figure in figures],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scaling",
        description="Build the scaling suite's files, or publish and print its figures.",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--table", action="store_true", help="print the published figures as a Markdown table"
    )
    action.add_argument(
        "--publish", action="store_true", help="run the suite and write the published figures"
    )
    parser.add_argument("--quick", action="store_true", help="with --publish: stop at 10,000")
    parser.add_argument(
        "--file", type=Path, default=PUBLISHED, help=f"the published figures (default {PUBLISHED})"
    )
    arguments = parser.parse_args(argv)
    if arguments.table:
        if not arguments.file.exists():
            parser.error(
                f"no published figures at {arguments.file}; make them with "
                "python -m benchmarks.scaling --publish"
            )
        print(markdown_table(json.loads(arguments.file.read_text())))
    elif arguments.publish:
        results = publish(arguments.quick, arguments.file)
        print(markdown_table(results))
        print(f"\nwritten to {arguments.file}")
    else:
        for size in SIZES:
            print(database(size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
