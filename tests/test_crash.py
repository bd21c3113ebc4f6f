"""Crashes, exits and a busy lock: what was persisted stays, what was logged is not lost."""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from conftest import CONTEXT_VARIABLES, read_only, run_python
from filelock import FileLock

from sapdi_local import MLTrackingSDK, TrackingError
from sapdi_local.errors import LockTimeoutError, PersistWarning
from sapdi_local.validation import HISTORY_WINDOW

CHILD_TIMEOUT = 60  # seconds any child or wait may take


# A child reports with one os.write per line: a line written by print() is several writes
# when PYTHONUNBUFFERED is set (the text, then the newline), and a SIGKILL can land between
# them. Lines up to PIPE_BUF bytes reach a pipe whole or not at all.
REPORT = """
import os

def report(*words):
    os.write(1, (" ".join(map(str, words)) + "\\n").encode())
"""


class Child:
    """A child interpreter whose stdout lines can be awaited with a timeout. Only whole
    lines count: a line cut short by a kill, with no newline, is no report."""

    def __init__(self, code: str, *args: object, db: Path, unbuffered: bool | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if k not in CONTEXT_VARIABLES}
        env["SAPDI_LOCAL_DB"] = str(db)
        env["SAPDI_SCENARIO"] = "crash"
        if unbuffered is not None:  # else as this process has it
            env.pop("PYTHONUNBUFFERED", None)
            if unbuffered:
                env["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.endswith("\n"):
                self.lines.put(line.strip())
        self.lines.put(None)  # end of output

    def wait_for(self, prefix: str, count: int = 1) -> str:
        """Block until the ``count``-th line starting with ``prefix`` and return it."""
        deadline = time.monotonic() + CHILD_TIMEOUT
        found = 0
        while True:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            if line is None:
                err = self.process.stderr.read() if self.process.stderr else ""
                raise AssertionError(f"child ended before {prefix!r}: {self.seen}\n{err}")
            self.seen.append(line)
            if line.startswith(prefix):
                found += 1
                if found == count:
                    return line

    def kill(self) -> list[str]:
        """SIGKILL the child, reap it, and return every line it printed."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=CHILD_TIMEOUT)
        self._reader.join(timeout=CHILD_TIMEOUT)
        while True:
            line = self.lines.get(timeout=CHILD_TIMEOUT)
            if line is None:
                break
            self.seen.append(line)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return self.seen


def stored_values(db: Path, run_id: str, metric: str) -> list[float]:
    """The values of one metric of one run as stored, oldest first (read without the SDK)."""
    with read_only(db) as connection:
        return [
            value
            for (value,) in connection.execute(
                "SELECT value FROM metrics JOIN runs ON runs.key = metrics.run_key "
                "WHERE runs.id = ? AND metrics.name = ? ORDER BY seq",
                (run_id, metric),
            )
        ]


def stored_status(db: Path, run_id: str) -> str:
    with read_only(db) as connection:
        return connection.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0]


# ---------------------------------------------------------------- SIGKILL

METRICS = 20
BATCH = 700  # values per metric per persist: 14,000 rows, so a persist takes a while
KILLS = 50  # child processes SIGKILLed in a row on one database file

VICTIM = (
    REPORT
    + """
import sys
from sapdi_local import MLTrackingSDK
round_, metrics, batch = (int(arg) for arg in sys.argv[1:4])
names = [f"m{index:02d}" for index in range(metrics)]
# No automatic persist: every persist is one explicit batch with equal counts for all metrics.
sdk = MLTrackingSDK(cache_limit_bytes=1e12)
run = sdk.start_run(run_collection_name="victims", run_name=f"victim-{round_}")
report("started", run.id)
sdk.log_parameters({"round": round_})
done = 0
while done < 10_000_000:
    for index in range(done, done + batch):
        for name in names:
            sdk.log_metric(name, float(index))
    report("persisting", done + batch)
    sdk.persist_run()
    done += batch
    report("persisted", done)
"""
)


@pytest.mark.slow
@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "PYTHONUNBUFFERED=1"])
def test_sigkill_keeps_every_reported_persist_and_the_file_intact(
    db_path: Path, unbuffered: bool
) -> None:
    """Fifty SIGKILLs in a row, half aimed at a persist in flight: every value reported as
    persisted stays, each persist is all or nothing, the file passes integrity_check, the
    killed runs are reported KILLED, and a new process then writes normally. With and
    without PYTHONUNBUFFERED, which splits what print() writes: a kill must not cut a
    report in two."""
    rng = random.Random(20240611)
    victims: dict[str, tuple[int, int]] = {}  # run id -> (round, values reported as persisted)
    mid_persist = 0
    for round_ in range(KILLS):
        child = Child(VICTIM, round_, METRICS, BATCH, db=db_path, unbuffered=unbuffered)
        try:
            run_id = child.wait_for("started").split()[1]
            if round_ % 2 == 0:
                # Aim at a persist in flight: kill just after it was announced.
                child.wait_for("persisting", count=rng.randint(1, 3))
                time.sleep(rng.uniform(0.0, 0.05))
            else:
                time.sleep(rng.uniform(0.1, 1.0))
        finally:
            lines = child.kill()
        assert child.process.returncode == -signal.SIGKILL
        reported = [int(line.split()[1]) for line in lines if line.startswith("persisted")]
        victims[run_id] = (round_, max(reported, default=0))
        if lines[-1].startswith("persisting"):
            mid_persist += 1  # killed between announcing a persist and seeing it return

    with read_only(db_path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]

    reader = MLTrackingSDK(db_path=db_path)
    runs = {run.id: run for run in reader.get_runs(run=list(victims))}
    assert set(runs) == set(victims)
    names = [f"m{index:02d}" for index in range(METRICS)]
    checked = 0
    for run_id, (round_, reported) in victims.items():
        run = runs[run_id]
        assert run.status == "KILLED", run
        assert stored_status(db_path, run_id) == "RUNNING"  # nobody ended it; it is reported KILLED
        history = {
            h.name: [point.value for point in h.values]
            for h in reader.get_metrics_history(run=run_id)
        }
        if not history:
            assert reported == 0  # killed before its first persist committed
            continue
        # All or nothing: every metric of the batch got exactly the same values.
        assert sorted(history) == names
        first = history[names[0]]
        assert all(values == first for values in history.values())
        total = int(first[-1]) + 1
        # What was reported is there; at most one more (unreported) persist committed.
        assert total in (reported, reported + BATCH), (reported, total)
        assert first == [float(index) for index in range(max(0, total - HISTORY_WINDOW), total)]
        assert run.metrics == {name: float(total - 1) for name in names}
        assert run.parameters["round"] == str(round_)  # persisted with the first batch
        checked += len(names) * len(first)

    print(f"{KILLS} SIGKILLs, {mid_persist} during a persist; {checked} stored values checked")

    # The file still takes writes from a new process.
    result = run_python(
        """
        from sapdi_local import tracking
        run = tracking.start_run(run_name="after-the-crashes")
        for index in range(5):
            tracking.log_metric("loss", 1.0 / (index + 1))
        tracking.end_run()
        print(run.id)
        """,
        env={"SAPDI_LOCAL_DB": str(db_path)},
        timeout=CHILD_TIMEOUT,
    )
    run_id = result.stdout.strip()
    (after,) = reader.get_runs(run=run_id)
    assert after.status == "FINISHED"
    assert stored_values(db_path, run_id, "loss") == [1.0 / (index + 1) for index in range(5)]
    reader.close()


# ---------------------------------------------------------------- interpreter exit


def test_a_script_ending_without_end_run_finishes_its_run(
    db_path: Path, sdk: MLTrackingSDK
) -> None:
    """A script that never calls end_run: its run is FINISHED at exit and its values stored."""
    result = run_python(
        """
        from sapdi_local import tracking
        run = tracking.start_run(run_name="no-end-run")
        tracking.log_parameters({"epochs": 3})
        tracking.set_tags({"kind": "exit"})
        for value in (0.5, 0.25, 0.125):
            tracking.log_metric("loss", value)
        print(run.id)
        """,
        env={"SAPDI_LOCAL_DB": str(db_path)},
        timeout=CHILD_TIMEOUT,
    )
    run_id = result.stdout.strip()
    (run,) = sdk.get_runs(run=run_id)
    assert run.status == "FINISHED"
    assert run.end_time is not None
    assert run.parameters["epochs"] == "3"
    assert run.tags["kind"] == "exit"
    assert stored_values(db_path, run_id, "loss") == [0.5, 0.25, 0.125]
    assert "Warning" not in result.stderr


def test_a_script_dying_of_an_uncaught_exception_fails_its_run(
    db_path: Path, sdk: MLTrackingSDK
) -> None:
    """A script that dies of an uncaught exception: its run is FAILED and its values stored."""
    result = run_python(
        """
        from sapdi_local import tracking
        run = tracking.start_run(run_name="crashes")
        print(run.id, flush=True)
        tracking.log_parameters({"epochs": 3})
        for value in (0.5, 0.25):
            tracking.log_metric("loss", value)
        raise RuntimeError("training blew up")
        """,
        env={"SAPDI_LOCAL_DB": str(db_path)},
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    assert result.returncode == 1
    assert "training blew up" in result.stderr
    run_id = result.stdout.strip()
    (run,) = sdk.get_runs(run=run_id)
    assert run.status == "FAILED"
    assert run.end_time is not None
    assert run.parameters["epochs"] == "3"
    assert stored_values(db_path, run_id, "loss") == [0.5, 0.25]


@pytest.mark.parametrize("started_by", ["the same script", "another process"])
def test_values_logged_to_an_ended_run_are_stored_at_exit(
    db_path: Path, sdk: MLTrackingSDK, started_by: str
) -> None:
    """Values logged with run=<id> to an ended run, from the script that ran it or from
    another process, are stored (each such call persists before it returns)."""
    if started_by == "the same script":
        prologue = "run_id = tracking.start_run(run_name='ended').id\ntracking.end_run()"
    else:
        run_id = sdk.start_run(run_name="ended").id
        sdk.end_run()
        prologue = f"run_id = {run_id!r}"
    result = run_python(
        "from sapdi_local import tracking\n"
        + prologue
        + """
tracking.log_metric("late", 7.0, run=run_id, step=1)
tracking.log_metrics({"late": 8.0}, run=run_id)
tracking.log_parameters({"late_parameter": "yes"}, run=run_id)
tracking.set_tags({"late_tag": "yes"}, run=run_id)
print(run_id)
""",
        env={"SAPDI_LOCAL_DB": str(db_path)},
        timeout=CHILD_TIMEOUT,
    )
    run_id = result.stdout.strip()
    (run,) = sdk.get_runs(run=run_id)
    assert run.status == "FINISHED"
    assert run.parameters["late_parameter"] == "yes"
    assert run.tags["late_tag"] == "yes"
    assert stored_values(db_path, run_id, "late") == [7.0, 8.0]


# ---------------------------------------------------------------- a held lock


def test_explicit_persist_under_a_held_lock_raises_and_keeps_the_cache(db_path: Path) -> None:
    """persist_run()/end_run() under a held lock raise LockTimeoutError; later all is written."""
    writer = MLTrackingSDK(db_path=db_path, lock_timeout=0.5, scenario="crash")
    run = writer.start_run(run_name="locked-out")
    for index in range(10):
        writer.log_metric("loss", float(index))
    writer.log_parameters({"batch_size": 32})
    lock_path = Path(f"{db_path}.lock")
    with FileLock(lock_path):
        with pytest.raises(LockTimeoutError) as raised:
            writer.persist_run()
        assert isinstance(raised.value, TimeoutError)
        assert isinstance(raised.value, TrackingError)
        assert str(lock_path) in str(raised.value)
        assert writer.has_pending()
        # More logging and an end_run while locked out: the end is kept too.
        for index in range(10, 20):
            writer.log_metric("loss", float(index))
        with pytest.raises(LockTimeoutError):
            writer.end_run()
        assert stored_values(db_path, run.id, "loss") == []  # nothing got through
        assert stored_status(db_path, run.id) == "RUNNING"
    writer.persist_run()
    assert not writer.has_pending()
    assert stored_values(db_path, run.id, "loss") == [float(index) for index in range(20)]
    assert stored_status(db_path, run.id) == "FINISHED"
    (stored,) = MLTrackingSDK(db_path=db_path).get_runs(run=run.id)
    assert stored.parameters["batch_size"] == "32"
    writer.close()


def test_automatic_persist_under_a_held_lock_warns_and_keeps_the_window(db_path: Path) -> None:
    """An automatic persist under a held lock warns (never raises); a later persist writes all."""
    # A budget of 400 cached values: log_metric persists by itself every 400 values.
    writer = MLTrackingSDK(
        db_path=db_path, lock_timeout=0.5, scenario="crash", cache_limit_bytes=120 * 400
    )
    run = writer.start_run(run_name="auto-locked-out")
    values = [float(index) for index in range(1200)]
    with FileLock(f"{db_path}.lock"):
        with pytest.warns(PersistWarning) as warned:
            for value in values:
                writer.log_metric("loss", value)  # must not raise
        assert len(warned) >= 2
        assert stored_values(db_path, run.id, "loss") == []
    writer.persist_run()
    # 1200 values were logged, the window keeps the latest 1000, in order.
    assert stored_values(db_path, run.id, "loss") == values[-HISTORY_WINDOW:]
    writer.end_run()
    assert stored_status(db_path, run.id) == "FINISHED"
    writer.close()


LOCK_HOLDER = """
import sys, time
from filelock import FileLock
lock = FileLock(sys.argv[1])
lock.acquire()
print("locked", flush=True)
time.sleep(120)
"""


def test_a_lock_left_by_a_killed_process_does_not_block_the_next_writer(db_path: Path) -> None:
    """A lock file whose holder was SIGKILLed does not block later writers."""
    writer = MLTrackingSDK(db_path=db_path, lock_timeout=0.5, scenario="crash")
    run = writer.start_run(run_name="after-a-stale-lock")
    writer.log_metric("loss", 1.0)
    lock_path = Path(f"{db_path}.lock")
    holder = Child(LOCK_HOLDER, lock_path, db=db_path)
    try:
        holder.wait_for("locked")
        # The lock really is held while the holder lives.
        with pytest.raises(LockTimeoutError):
            writer.persist_run()
    finally:
        holder.kill()
    assert lock_path.exists()  # the killed holder left its lock file behind
    writer.log_metric("loss", 2.0)
    writer.end_run()
    assert stored_values(db_path, run.id, "loss") == [1.0, 2.0]
    assert stored_status(db_path, run.id) == "FINISHED"
    # And a brand-new process writes as usual.
    result = run_python(
        """
        from sapdi_local import tracking
        run = tracking.start_run(run_name="next-writer")
        tracking.log_metric("loss", 3.0)
        tracking.end_run()
        print(run.id)
        """,
        env={"SAPDI_LOCAL_DB": str(db_path)},
        timeout=CHILD_TIMEOUT,
    )
    assert stored_values(db_path, result.stdout.strip(), "loss") == [3.0]
    writer.close()
