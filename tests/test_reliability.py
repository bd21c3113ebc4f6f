"""Reliability under faults and load: real processes, a real SQLite file, the real file lock.

No fault here is mocked: a read-only file is refused by the kernel to a process that is not
root, a full disk is the kernel's EFBIG under a file size limit, and the load is twelve
interpreters on one file. Each test says what it proves in its docstring.
"""

from __future__ import annotations

import json
import os
import shutil
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


def run_child(code: str, *args: object, timeout: float = CHILD_TIMEOUT) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter and return the JSON object it prints last."""
    env = {k: v for k, v in os.environ.items() if k not in CONTEXT_VARIABLES}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        env=env,
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
# Values logged to the stored run are cached; the persist is refused and keeps them.
for index in range(300):
    later.log_metric("late", float(index), run=run.id)
later.log_parameters({"epochs": 3}, run=run.id)
later.set_tags({"phase": "late"}, run=run.id)
later.set_labels({"late": {"unit": "s"}}, run=run.id)
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


def test_a_read_only_database_is_refused_clearly_and_loses_nothing(open_folder: Path) -> None:
    """A database file that cannot be written (refused by the kernel to an unprivileged
    process): start_run and persist_run raise StorageError naming the file and the files to
    make writable; the cached values are kept, and once the modes are fixed a later
    persist_run() in the same process writes every one of them and new runs start again.

    Found and fixed: a connection opened while the file was read-only stayed read-only, so
    every later persist of that process failed even after the file was made writable."""
    db = open_folder / "tracking.db"
    report = run_child(READ_ONLY_FILE, open_folder)
    assert report["uid"] != 0
    for call in ("start_run", "persist"):
        message = str(report[call])
        assert message.startswith(f"cannot write to {db}: attempt to write a readonly database")
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
