"""Reliability under faults and load: real processes, a real SQLite file, the real file lock.

No fault here is mocked: a read-only file is refused by the kernel to a process that is not
root, a full disk is the kernel's EFBIG under a file size limit, and the load is twelve
interpreters on one file. Each test says what it proves in its docstring.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CONTEXT_VARIABLES, read_only

CHILD_TIMEOUT = 120  # seconds any child may take; generous, the machine is shared
NOBODY = 65534  # the unprivileged user and group a root test drops to


def run_child(
    code: str, *args: object, timeout: float = CHILD_TIMEOUT, cwd: Path | None = None
) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter and return the JSON object it prints last."""
    env = {k: v for k, v in os.environ.items() if k not in CONTEXT_VARIABLES}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"child exited {result.returncode}:\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A new folder an unprivileged user can write to (pytest's own are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="sapdi-reliability-"))
    try:
        if os.geteuid() == 0:
            os.chown(folder, NOBODY, NOBODY)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------- file faults

# Root may write any file whatever its mode, so a test run as root drops to nobody first.
# The interpreter may sit where nobody cannot read (a pyenv under /root): every module the
# SDK uses is loaded before, by a throwaway run in a folder of its own.
AS_NOBODY = f"""
import json, os, sys, tempfile
from pathlib import Path
from sapdi_local import MLTrackingSDK
from sapdi_local.errors import StorageError, TrackingError

if os.geteuid() == 0:
    with tempfile.TemporaryDirectory() as warm_folder:
        warm = MLTrackingSDK(db_path=Path(warm_folder, "warm.db"), scenario="warm")
        warm_run = warm.start_run()
        warm.log_metric("m", 1.0)
        warm.log_parameters({{"p": 1}})
        warm.set_tags({{"t": "x"}})
        warm.set_labels({{"l": {{"x": 1}}}})
        warm.persist_run()
        warm.get_runs(run=warm_run.id)
        warm.get_metrics_history(run=warm_run.id)
        warm.end_run()
        warm.close()
    os.setgroups([])
    os.setgid({NOBODY})
    os.setuid({NOBODY})
"""

READ_ONLY_FILE = (
    AS_NOBODY
    + """
db = Path(sys.argv[1]) / "tracking.db"
beside = [db.with_name(db.name + end) for end in ("-wal", "-shm")]
report = {"uid": os.geteuid()}

first = MLTrackingSDK(db_path=db, scenario="faults")
run = first.start_run(run_name="before")
first.log_metrics({"loss": 0.5, "accuracy": 0.75})
first.end_run()
first.close()

os.chmod(db, 0o444)  # the fault: a database file nobody may write
later = MLTrackingSDK(db_path=db, scenario="faults")
try:
    later.start_run(run_name="refused")
    report["start_run"] = "accepted"
except StorageError as error:
    report["start_run"] = str(error)
# Values logged to the stored run (not the active one) are persisted by each call: each is
# refused, raises, and keeps what it logged.
refusals = []
for index in range(300):
    try:
        later.log_metric("late", float(index), run=run.id)
    except StorageError as error:
        refusals.append(str(error))
for late_call in (
    lambda: later.log_parameters({"epochs": 3}, run=run.id),
    lambda: later.set_tags({"phase": "late"}, run=run.id),
    lambda: later.set_labels({"late": {"unit": "s"}}, run=run.id),
):
    try:
        late_call()
    except StorageError as error:
        refusals.append(str(error))
report["late_refused"] = len(refusals)
report["late"] = refusals[0] if refusals else "accepted"
try:
    later.persist_run()
    report["persist"] = "accepted"
except StorageError as error:
    report["persist"] = str(error)
report["pending"] = later.has_pending()

# Lift the fault as the message says (SQLite made the -wal and -shm files read-only too).
for path in (db, *beside):
    if path.exists():
        os.chmod(path, 0o600)
later.persist_run()
report["pending_after"] = later.has_pending()
after = later.start_run(run_name="after")
later.log_metric("loss", 0.25)
later.end_run()
report["runs"] = [run.id, after.id]
print(json.dumps(report))
"""
)


UNSEEN_FOLDER = (
    AS_NOBODY
    + """
db = Path(sys.argv[1]) / "tracking.db"
with MLTrackingSDK(db_path=db) as sdk:  # no scenario given: it comes from the folder
    run = sdk.start_run()
    sdk.log_metric("loss", 0.5)
print(json.dumps({"uid": os.geteuid(), "scenario": run.scenario, "cwd": os.getcwd()}))
"""
)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a folder nobody may enter")
def test_a_working_folder_the_process_may_not_look_into_still_names_the_scenario(
    open_folder: Path, tmp_path: Path
) -> None:
    """A process whose working folder it may not look into (a parent private to another user,
    as a checkout in a 0700 temporary folder is to a process that dropped to nobody) starts
    runs; the folder's name is the scenario, since no .git can be seen."""
    private = Path(tempfile.mkdtemp(prefix="sapdi-private-"))  # 0700, owned by root
    try:
        work = private / "project-x"
        work.mkdir()
        report = run_child(UNSEEN_FOLDER, open_folder, cwd=work)
    finally:
        shutil.rmtree(private, ignore_errors=True)
    assert report["uid"] == NOBODY
    assert report["scenario"] == "project-x"


def test_a_read_only_database_is_refused_clearly_and_loses_nothing(open_folder: Path) -> None:
    """A database file that cannot be written (refused by the kernel to an unprivileged
    process): start_run, each call logging to a stored run with run= (which persists) and
    persist_run raise StorageError naming the file and the files to make writable; the
    cached values are kept, and once the modes are fixed a later
    persist_run() in the same process writes every one of them and new runs start again.

    Found and fixed: a connection opened while the file was read-only stayed read-only, so
    every later persist of that process failed even after the file was made writable."""
    db = open_folder / "tracking.db"
    report = run_child(READ_ONLY_FILE, open_folder)
    assert report["uid"] != 0
    assert report["late_refused"] == 303  # every call logging to the ended run
    for call in ("start_run", "late", "persist"):
        message = str(report[call])
        assert message.startswith(f"cannot write to {db}: this process may not write it here")
        assert f"make {db}" in message and "writable (chmod u+w)" in message
        assert "logged values are kept" in message
    assert report["pending"] is True
    assert report["pending_after"] is False

    before_id, after_id = report["runs"]
    with read_only(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        names = [row[0] for row in connection.execute("SELECT name FROM runs ORDER BY key")]
        assert names == ["before", "after"]  # the refused start_run left no row
        assert connection.execute(
            "SELECT value FROM metrics JOIN runs ON key = run_key "
            "WHERE id = ? AND metrics.name = 'late' "
            "ORDER BY seq",
            (before_id,),
        ).fetchall() == [(float(index),) for index in range(300)]
        for table, expected in (
            ("parameters", [("epochs", "3")]),
            ("tags", [("phase", "late")]),
            ("labels", [("late", '{"unit": "s"}')]),
        ):
            rows = connection.execute(
                f"SELECT t.name, t.value FROM {table} AS t JOIN runs ON key = run_key WHERE id = ?",
                (before_id,),
            ).fetchall()
            assert rows == expected, table
        assert connection.execute(
            "SELECT status FROM runs WHERE id = ?", (after_id,)
        ).fetchone() == ("FINISHED",)


FULL_DISK = """
import json, os, resource, signal, sys
from pathlib import Path
from sapdi_local import MLTrackingSDK
from sapdi_local.errors import StorageError

db = Path(sys.argv[1]) / "tracking.db"
# Past the limit, write() fails with EFBIG instead of killing the process with SIGXFSZ.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
sdk = MLTrackingSDK(db_path=db, scenario="faults", cache_limit_bytes=1e12)
run = sdk.start_run(run_name="disk-full")
for index in range(100):
    sdk.log_metric("early", float(index))
sdk.persist_run()
report = {"run": run.id, "refused": []}
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
largest = max(path.stat().st_size for path in db.parent.iterdir())
# The fault: no file of this process may grow more than a page past the largest one now.
resource.setrlimit(resource.RLIMIT_FSIZE, (largest + 4096, hard))
for attempt in range(3):
    for index in range(attempt * 1000, attempt * 1000 + 1000):
        for metric in range(10):
            sdk.log_metric(f"m{metric}", float(index))
    sdk.log_parameters({f"attempt_{attempt}": attempt})
    try:
        sdk.persist_run()
        report["refused"].append(None)
    except StorageError as error:
        report["refused"].append(str(error))
try:
    sdk.end_run()
    report["end_run"] = None
except StorageError as error:
    report["end_run"] = str(error)
report["pending"] = sdk.has_pending()
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space is freed
sdk.persist_run()
report["pending_after"] = sdk.has_pending()
print(json.dumps(report))
"""


def test_a_full_disk_is_refused_clearly_and_loses_nothing(tmp_path: Path) -> None:
    """Writes failing with a real OS error (EFBIG under RLIMIT_FSIZE, as on a full disk):
    every persist_run() and end_run() raises StorageError naming the file and saying to free
    space; the cache is kept whole (the window keeps the latest 1000 values of each metric),
    and after the limit is lifted one persist_run() in the same process writes it all: the
    run ends FINISHED with every value, and the file passes integrity_check."""
    db = tmp_path / "tracking.db"
    report = run_child(FULL_DISK, tmp_path)
    refusals = [*report["refused"], report["end_run"]]
    assert len(refusals) == 4
    for message in refusals:
        assert message is not None, "a write went through despite the size limit"
        assert str(message).startswith(f"cannot write to {db}: ")
        assert "free" in message and "space" in message
        assert "logged values are kept" in message
    assert report["pending"] is True
    assert report["pending_after"] is False

    with read_only(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        key, status = connection.execute(
            "SELECT key, status FROM runs WHERE id = ?", (report["run"],)
        ).fetchone()
        assert status == "FINISHED"

        def values(metric: str) -> list[float]:
            rows = connection.execute(
                "SELECT value FROM metrics WHERE run_key = ? AND name = ? ORDER BY seq",
                (key, metric),
            )
            return [value for (value,) in rows]

        assert values("early") == [float(index) for index in range(100)]
        for metric in range(10):
            # 3000 logged while the disk was full; the window keeps the latest 1000.
            assert values(f"m{metric}") == [float(index) for index in range(2000, 3000)]
        parameters = dict(
            connection.execute("SELECT name, value FROM parameters WHERE run_key = ?", (key,))
        )
        assert parameters == {f"attempt_{attempt}": str(attempt) for attempt in range(3)}


# ---------------------------------------------------------------- upgrade

FIXTURES = Path(__file__).with_name("fixtures")


def fixture_script() -> Any:
    """The script that wrote fixtures/schema-v1.db, imported for the rows it wrote."""
    path = FIXTURES / "make_schema_v1_database.py"
    spec = importlib.util.spec_from_file_location("make_schema_v1_database", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table_rows(connection: sqlite3.Connection, table: str) -> list[tuple[Any, ...]]:
    order = {"runs": "key", "metrics": "run_key, name, seq"}.get(table, "run_key, name")
    return connection.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()


def test_a_schema_v1_database_is_migrated_in_place_under_the_lock_and_keeps_all_its_data(
    tmp_path: Path,
) -> None:
    """The committed version-1 file (written by fixtures/make_schema_v1_database.py with
    migration 0001 only): opening it waits for the write lock (while another process holds
    it, the open times out and the file stays at version 1), then migrates it in place to
    the current version with the migration recorded; every run, parameter, tag, label and
    metric value the script wrote is still there, read through plain SQL and the SDK, and
    new values continue each metric's sequence."""
    from filelock import FileLock

    from sapdi_local import MLTrackingSDK
    from sapdi_local.errors import LockTimeoutError
    from sapdi_local.store import MIGRATION_SET, MIGRATIONS, SCHEMA_VERSION

    script = fixture_script()
    ids = {row[0]: row[1] for row in script.RUNS}  # run key -> run id
    db = tmp_path / "tracking.db"
    shutil.copyfile(FIXTURES / "schema-v1.db", db)
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 1
        (applied_v1,) = connection.execute("SELECT applied_at FROM _sqlite_migrations").fetchone()
    connection.close()

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from filelock import FileLock; lock = FileLock(sys.argv[1]); "
            "lock.acquire(); print('locked', flush=True); sys.stdin.read()",
            str(db) + ".lock",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        blocked = MLTrackingSDK(db_path=db, lock_timeout=0.3)
        with pytest.raises(LockTimeoutError) as raised:
            blocked.get_runs(run=list(ids.values()))
        assert f"{db}.lock" in str(raised.value)
        blocked.close()
        with read_only(db) as connection:
            assert connection.execute("PRAGMA user_version").fetchone()[0] == 1
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        assert holder.wait(timeout=CHILD_TIMEOUT) == 0

    sdk = MLTrackingSDK(db_path=db, scenario="churn")
    runs = {run.id: run for run in sdk.get_runs(run=list(ids.values()))}
    with FileLock(f"{db}.lock", timeout=0):
        pass  # the migration let the lock go
    with read_only(db) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert connection.execute(
            "SELECT migration_set, name, applied_at FROM _sqlite_migrations ORDER BY id"
        ).fetchall()[0] == (MIGRATION_SET, "0001_initial", applied_v1)
        names = [row[0] for row in connection.execute("SELECT name FROM _sqlite_migrations")]
        assert names == [name for name, _ in MIGRATIONS]
        (metrics_sql,) = connection.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'metrics'"
        ).fetchone()
        assert "WITHOUT ROWID" in metrics_sql
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # Every row the script wrote, exactly.
        assert table_rows(connection, "runs") == script.RUNS
        for table in ("parameters", "tags"):
            assert table_rows(connection, table) == sorted(
                (key, name, value)
                for key, pairs in getattr(script, table.upper()).items()
                for name, value in pairs.items()
            )
        labels = {
            (key, name): json.loads(text) for key, name, text in table_rows(connection, "labels")
        }
        assert labels == {
            (key, name): value
            for key, pairs in script.LABELS.items()
            for name, value in pairs.items()
        }
        written = script.metric_rows()
        assert table_rows(connection, "metrics") == sorted(
            (key, name, *row) for (key, name), rows in written.items() for row in rows
        )
        assert table_rows(connection, "latest_metrics") == sorted(
            (key, name, *rows[-1]) for (key, name), rows in written.items()
        )

    # The same through the SDK.
    assert set(runs) == set(ids.values())
    for key, run_id in ids.items():
        run = runs[run_id]
        for kept in ("parameters", "tags", "labels"):
            stored = getattr(run, kept)
            expected = getattr(script, kept.upper()).get(key, {})
            assert {name: stored[name] for name in expected} == expected, (run_id, kept)
        histories = {h.name: h.values for h in sdk.get_metrics_history(run=run_id)}
        mine = {name: rows for (owner, name), rows in written.items() if owner == key}
        assert histories.keys() == mine.keys()
        for name, rows in mine.items():
            assert [(v.value, v.timestamp) for v in histories[name]] == [
                (value, timestamp) for _, _, timestamp, value in rows
            ]
            assert run.metrics[name] == rows[-1][3]

    # Writing goes on where version 1 left off: seq 1501, the window still 1000 long.
    first = ids[1]
    sdk.log_metric("loss", 0.25, run=first, step=1500)
    sdk.persist_run()
    sdk.close()
    with read_only(db) as connection:
        seqs = connection.execute(
            "SELECT seq FROM metrics WHERE run_key = 1 AND name = 'loss' ORDER BY seq"
        ).fetchall()
    assert [seq for (seq,) in seqs] == list(range(502, 1502))


# ---------------------------------------------------------------- load

OWN_RUN_WRITER = """
folder, me = sys.argv[1], int(sys.argv[2])
sdk = MLTrackingSDK()
wait_for_go(folder, me)
run = sdk.start_run(run_collection_name="load", run_name=f"own-{me}")
sdk.log_parameters({"writer": me, "steps": 1500})
sdk.set_tags({"writer": str(me), "kind": "load"})
for step in range(1500):
    for offset, metric in enumerate(("loss", "accuracy", "lr")):
        sdk.log_metric(metric, me * 100_000 + offset * 10_000 + step, step=step)
    if (step + 1) % 25 == 0:
        sdk.persist_run()  # 60 persists, each the same number of values of every metric
sdk.end_run()
print(run.id)
"""

POLLING_READER = """
folder, me = sys.argv[1], sys.argv[2]
sdk = MLTrackingSDK()
wait_for_go(folder, me)
polls, histories, problems = 0, 0, []
deadline = time.monotonic() + 110
while not Path(folder, "stop").exists() and time.monotonic() < deadline:
    try:
        for run in sdk.get_runs(scenario="concurrency"):
            history = {h.name: h.values for h in sdk.get_metrics_history(run=run.id)}
            histories += 1
            if run.name.startswith("own-"):
                steps = {name: [v.step for v in values] for name, values in history.items()}
                if len({tuple(s) for s in steps.values()}) > 1:
                    problems.append(f"{run.name}: half a persist, {len(steps)} metrics differ")
            for name, values in history.items():
                if len(values) > 1000:
                    problems.append(f"{run.name}/{name}: {len(values)} values")
    except Exception as error:  # every call must succeed: record any that raised
        problems.append(f"{type(error).__name__}: {error}")
    polls += 1
print(json.dumps({"polls": polls, "histories": histories, "problems": problems[:20]}))
"""


@pytest.mark.slow
def test_load_of_ten_writers_and_two_readers_keeps_exact_counts_and_windows(
    db_path: Path, tmp_path: Path
) -> None:
    """Eight processes each writing their own run (60 persists each) and two processes
    writing one shared run (30 persists each), while two readers poll get_runs and
    get_metrics_history: no call raises or warns in any process, the readers never see half
    a persist nor more than 1000 values, and afterwards the counts of every table are exact
    and each metric's stored window is exactly its most recent 1000 values, in order."""
    from test_concurrency import (
        SAME_RUN_GUEST,
        SAME_RUN_OWNER,
        create_database,
        finish,
        release_when_ready,
        spawn,
    )

    create_database(db_path)
    own = [spawn(OWN_RUN_WRITER, tmp_path, me, db=db_path) for me in range(8)]
    shared = [
        spawn(SAME_RUN_OWNER, tmp_path, 8, db=db_path),
        spawn(SAME_RUN_GUEST, tmp_path, 9, db=db_path),
    ]
    readers = [spawn(POLLING_READER, tmp_path, f"reader-{n}", db=db_path) for n in range(2)]
    release_when_ready(tmp_path, 12, [*own, *shared, *readers])
    try:
        outputs = finish([*own, *shared])
    finally:
        (tmp_path / "stop").touch()
    reports = [json.loads(out) for out, _ in finish(readers)]
    for report in reports:
        assert report["problems"] == []
        assert report["polls"] > 0
    own_ids = {me: out.strip() for me, (out, _) in enumerate(outputs[:8])}
    shared_id = outputs[9][0].strip()

    with read_only(db_path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        totals = {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("runs", "metrics", "latest_metrics", "parameters", "tags")
        }
        assert totals == {
            "runs": 9,
            "metrics": 8 * 3 * 1000 + 1000,
            "latest_metrics": 8 * 3 + 1,
            "parameters": 8 * 2,
            "tags": 8 * 2,
        }
        for me, run_id in own_ids.items():
            key, name, status = connection.execute(
                "SELECT key, name, status FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            assert (name, status) == (f"own-{me}", "FINISHED")
            for offset, metric in enumerate(("loss", "accuracy", "lr")):
                rows = connection.execute(
                    "SELECT seq, step, value FROM metrics WHERE run_key = ? AND name = ? "
                    "ORDER BY seq",
                    (key, metric),
                ).fetchall()
                base = me * 100_000 + offset * 10_000
                assert rows == [(step + 1, step, float(base + step)) for step in range(500, 1500)]
        key, status = connection.execute(
            "SELECT key, status FROM runs WHERE id = ?", (shared_id,)
        ).fetchone()
        assert status == "FINISHED"
        rows = connection.execute(
            "SELECT seq, value FROM metrics WHERE run_key = ? AND name = 'shared' ORDER BY seq",
            (key,),
        ).fetchall()
        latest = connection.execute(
            "SELECT seq FROM latest_metrics WHERE run_key = ? AND name = 'shared'", (key,)
        ).fetchone()
    # 3000 values persisted to the shared metric: the window is the last 1000, persist order.
    assert latest == (3000,)
    assert [seq for seq, _ in rows] == list(range(2001, 3001))
    values = [value for _, value in rows]
    assert len(set(values)) == 1000
    for writer in (1, 2):
        # Each writer's kept values are the newest it logged, all of them, in its order.
        indexes = [int(value) - writer * 1_000_000 for value in values if value // 1e6 == writer]
        if indexes:
            assert indexes == list(range(indexes[0], 1500))
    print(
        f"load: 10 writers, {8 * 60 + 2 * 30} persists, {8 * 3 * 1500 + 2 * 1500} values; "
        f"2 readers, {sum(r['polls'] for r in reports)} polls, "
        f"{sum(r['histories'] for r in reports)} histories read"
    )
