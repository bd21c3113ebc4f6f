"""The process around the SDK: exit, fork, multiprocessing workers, dropped SDK objects."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import filelock
import pytest
from conftest import run_python


def rows(db: Path, query: str) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(query).fetchall()


def test_a_forked_child_does_not_write_the_parents_values(tmp_path: Path) -> None:
    """A fork child that reads and exits writes nothing of its parent's cache, and does not
    end the parent's run; the parent then writes its values exactly once."""
    db = tmp_path / "t.db"
    run_python(
        f"""
        import os
        from sapdi_local import MLTrackingSDK
        sdk = MLTrackingSDK(db_path={str(db)!r}, pipeline="parent.py")
        run = sdk.start_run()
        for i in range(10):
            sdk.log_metric("m", i)
        pid = os.fork()
        if pid == 0:
            sdk.get_runs(run=run)  # a read persists pending values: the parent's are not its own
            raise SystemExit(0)   # a normal exit runs the atexit handlers
        os.waitpid(pid, 0)
        [stored] = sdk.get_runs(run=run)
        assert stored.status == "RUNNING", stored.status
        sdk.end_run()
        """
    )
    assert rows(db, "SELECT COUNT(*) FROM metrics") == [(10,)]
    assert rows(db, "SELECT status FROM runs") == [("FINISHED",)]


def test_a_multiprocessing_worker_saves_its_values_at_exit(tmp_path: Path) -> None:
    """A fork-started multiprocessing worker leaves through os._exit; what it logged to a
    run with run= is still stored."""
    db = tmp_path / "t.db"
    run_python(
        f"""
        import multiprocessing
        from sapdi_local import MLTrackingSDK, tracking

        def work(run_id):
            for i in range(5):
                tracking.log_metric("from_worker", i, run=run_id)

        if __name__ == "__main__":
            tracking.set_default_sdk(MLTrackingSDK(db_path={str(db)!r}, pipeline="p.py"))
            run = tracking.start_run()
            tracking.end_run()
            context = multiprocessing.get_context("fork")
            worker = context.Process(target=work, args=(run.id,))
            worker.start()
            worker.join(60)
            assert worker.exitcode == 0
        """
    )
    assert rows(db, "SELECT value FROM metrics WHERE name = 'from_worker' ORDER BY seq") == [
        (float(i),) for i in range(5)
    ]


def test_an_sdk_dropped_without_end_run_still_saves_at_exit(tmp_path: Path) -> None:
    """An SDK whose last reference is gone while its run is active is kept until its work
    is saved: the run ends at exit with its values."""
    db = tmp_path / "t.db"
    run_python(
        f"""
        import gc
        from sapdi_local import MLTrackingSDK, tracking

        def train():
            sdk = MLTrackingSDK(db_path={str(db)!r}, pipeline="local.py")
            sdk.start_run()
            for i in range(100):
                sdk.log_metric("m", i)

        train()
        tracking.set_default_sdk(MLTrackingSDK(db_path={str(db)!r}, pipeline="replaced.py"))
        tracking.start_run()
        tracking.log_metric("n", 1)
        tracking.set_default_sdk(MLTrackingSDK(db_path={str(db)!r}))  # the old one is dropped
        gc.collect()
        """
    )
    assert rows(db, "SELECT pipeline, status FROM runs ORDER BY pipeline") == [
        ("local.py", "FINISHED"),
        ("replaced.py", "FINISHED"),
    ]
    assert rows(db, "SELECT COUNT(*) FROM metrics") == [(101,)]


def test_a_saved_sdk_is_let_go(tmp_path: Path) -> None:
    """Once its run ended and nothing is pending, an SDK is no longer held alive."""
    import gc
    import weakref

    from sapdi_local import MLTrackingSDK

    sdk = MLTrackingSDK(db_path=tmp_path / "t.db", pipeline="p.py")
    sdk.start_run()
    sdk.log_metric("m", 1)
    sdk.end_run()
    sdk.close()
    reference = weakref.ref(sdk)
    del sdk
    gc.collect()
    assert reference() is None


@pytest.mark.timeout(120)  # a child process that hangs would otherwise block a read
def test_a_failed_save_at_exit_says_what_is_lost(tmp_path: Path) -> None:
    """When the lock is held at exit, the warning says the values are lost, not kept."""
    db = tmp_path / "t.db"
    lock = filelock.FileLock(str(db) + ".lock")
    code = f"""
        from sapdi_local import MLTrackingSDK, tracking
        tracking.set_default_sdk(MLTrackingSDK(db_path={str(db)!r}, lock_timeout=0.3))
        tracking.start_run()
        tracking.log_metric("m", 1)
        print("started", flush=True)
        input()
    """
    child = subprocess.Popen(
        [sys.executable, "-c", __import__("textwrap").dedent(code)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "started"
    with lock:
        _, stderr = child.communicate("\n", timeout=60)
    assert "lost" in stderr and "1 metric values" in stderr
    assert "kept in memory" not in stderr


def test_an_interactive_session_that_survived_an_error_ends_its_run_finished(
    tmp_path: Path,
) -> None:
    """In `python -i`, an earlier error the session survived does not mark the run FAILED."""
    db = tmp_path / "t.db"
    session = "\n".join(
        [
            "1/0",
            "from sapdi_local import MLTrackingSDK, tracking",
            f"tracking.set_default_sdk(MLTrackingSDK(db_path={str(db)!r}))",
            "run = tracking.start_run()",
            "exit()",
        ]
    )
    subprocess.run(
        [sys.executable, "-i", "-q"],
        input=session + "\n",
        text=True,
        capture_output=True,
        timeout=60,
    )
    assert rows(db, "SELECT status FROM runs") == [("FINISHED",)]


@pytest.mark.parametrize("interactive", [False, True])
def test_exit_status_comes_from_how_the_program_ends(interactive: bool) -> None:
    """exit_status is FAILED only for a program (not a session) ending on an exception."""
    code = f"""
        import sys
        from sapdi_local.sdk import lifecycle
        sys.last_value = RuntimeError("boom")
        if {interactive}:
            sys.ps1 = ">>> "
        print(lifecycle.exit_status())
    """
    result = run_python(code)
    assert result.stdout.strip() == ("FINISHED" if interactive else "FAILED")


SIGNALLED_CHILD = """
import sys, time
from sapdi_local import MLTrackingSDK, tracking
tracking.set_default_sdk(MLTrackingSDK(db_path=sys.argv[1]))
run = tracking.start_run()
for step in range(100):
    tracking.log_metric("loss", 1 / (step + 1), step=step)
tracking.log_metric("alive", 1.0)  # before "ready": a signal right after it finds one logged
print("ready", flush=True)
while True:
    tracking.log_metric("alive", 1.0)
    time.sleep(0.001)
"""


@pytest.mark.timeout(120)  # a child process that hangs would otherwise block a read
@pytest.mark.parametrize(
    "signal_name, status, exit_codes",
    [("SIGTERM", "TERMINATED", {143}), ("SIGINT", "INTERRUPTED", {1, -2, 130})],
)
def test_a_signal_during_a_run_ends_it_with_a_status_that_says_why(
    tmp_path: Path, signal_name: str, status: str, exit_codes: set[int]
) -> None:
    """SIGTERM or Ctrl-C (SIGINT) while a run logs: every value logged is stored and the run
    ends TERMINATED or INTERRUPTED."""
    import signal

    db = tmp_path / "t.db"
    child = subprocess.Popen(
        [sys.executable, "-c", SIGNALLED_CHILD, str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    child.send_signal(getattr(signal, signal_name))
    child.wait(timeout=60)
    assert child.returncode in exit_codes, child.stderr.read() if child.stderr else ""
    assert rows(db, "SELECT status FROM runs") == [(status,)]
    assert rows(db, "SELECT COUNT(*) FROM metrics WHERE name = 'loss'") == [(100,)]
    assert rows(db, "SELECT COUNT(*) FROM metrics WHERE name = 'alive'")[0][0] >= 1


def test_a_program_with_its_own_sigterm_handler_keeps_it(tmp_path: Path) -> None:
    """start_run leaves a SIGTERM handler the program set itself in place."""
    result = run_python(
        f"""
        import signal
        from sapdi_local import MLTrackingSDK
        def mine(signum, frame):
            pass
        signal.signal(signal.SIGTERM, mine)
        sdk = MLTrackingSDK(db_path={str(tmp_path / "t.db")!r})
        sdk.start_run()
        print(signal.getsignal(signal.SIGTERM) is mine)
        sdk.end_run()
        """
    )
    assert result.stdout.strip() == "True"
