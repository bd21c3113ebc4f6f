"""Several real processes writing to and reading from one real SQLite file at the same time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import CONTEXT_VARIABLES, read_only

from sapdi_local import MLTrackingSDK
from sapdi_local.store import MIGRATION_SET, MIGRATIONS, SCHEMA_VERSION

CHILD_TIMEOUT = 120  # seconds any child may take; generous, the machine is shared

# Every child script starts with this: the barrier that lets them all begin at once.
PRELUDE = """
import json, os, sys, time
from pathlib import Path
from sapdi_local import MLTrackingSDK

def wait_for_go(folder, me):
    # Announce readiness, then wait for the test to release everyone at the same moment.
    Path(folder, f"ready-{me}").touch()
    deadline = time.monotonic() + 60
    while not Path(folder, "go").exists():
        if time.monotonic() > deadline:
            sys.exit("the go signal never came")
        time.sleep(0.002)
"""


def spawn(code: str, *args: object, db: Path) -> subprocess.Popen[str]:
    """Start ``code`` (after PRELUDE) in its own interpreter, writing to ``db``."""
    env = {k: v for k, v in os.environ.items() if k not in CONTEXT_VARIABLES}
    env["SAPDI_LOCAL_DB"] = str(db)
    env["SAPDI_SCENARIO"] = "concurrency"
    script = PRELUDE + textwrap.dedent(code)
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def release_when_ready(folder: Path, count: int, children: list[subprocess.Popen[str]]) -> None:
    """Wait until ``count`` children are at the barrier, then let them all go."""
    deadline = time.monotonic() + 60
    while len(list(folder.glob("ready-*"))) < count:
        crashed = [child for child in children if child.poll() is not None]
        if crashed:
            out, err = crashed[0].communicate()
            raise AssertionError(f"a child ended before the barrier:\n{out}\n{err}")
        if time.monotonic() > deadline:
            raise AssertionError("the children never reached the barrier")
        time.sleep(0.01)
    (folder / "go").touch()


def finish(children: list[subprocess.Popen[str]]) -> list[tuple[str, str]]:
    """Wait for every child; each must exit 0 without a traceback or a lock error."""
    outputs = []
    try:
        for child in children:
            out, err = child.communicate(timeout=CHILD_TIMEOUT)
            outputs.append((out, err))
            assert child.returncode == 0, f"child exited {child.returncode}:\n{out}\n{err}"
            assert "locked" not in err.lower(), err
            assert "Traceback" not in err, err
            assert "Warning" not in err, err
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=10)
    return outputs


def create_database(db: Path) -> None:
    """Create the database file with its schema, so a test races on writes only."""
    sdk = MLTrackingSDK(db_path=db)
    sdk.store.connection()
    sdk.close()


# ---------------------------------------------------------------- many writers, many runs

WRITER = """
folder, me = sys.argv[1], int(sys.argv[2])
sdk = MLTrackingSDK()
wait_for_go(folder, me)
run = sdk.start_run(run_collection_name="parallel", run_name=f"worker-{me}")
sdk.log_parameters({"worker": me, "learning_rate": 0.001 * me})
sdk.set_tags({"worker": str(me), "kind": "parallel"})
for step in range(2000):
    for offset, metric in enumerate(("loss", "accuracy", "lr")):
        sdk.log_metric(metric, me * 100_000 + offset * 10_000 + step, step=step)
    if (step + 1) % 500 == 0:
        sdk.persist_run()
sdk.end_run()
print(run.id)
"""


@pytest.mark.slow
def test_six_writers_each_keep_their_window_parameters_and_tags(
    db_path: Path, tmp_path: Path
) -> None:
    """Six processes logging at once lose nothing: each metric keeps its latest 1000 values."""
    create_database(db_path)
    workers = 6
    children = [spawn(WRITER, tmp_path, me, db=db_path) for me in range(workers)]
    release_when_ready(tmp_path, workers, children)
    outputs = finish(children)
    run_ids = {me: out.strip() for me, (out, _) in enumerate(outputs)}

    with read_only(db_path) as connection:
        assert connection.execute("SELECT count(*) FROM runs").fetchone()[0] == workers
        for me, run_id in run_ids.items():
            key, name, status = connection.execute(
                "SELECT key, name, status FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            assert (name, status) == (f"worker-{me}", "FINISHED")
            for offset, metric in enumerate(("loss", "accuracy", "lr")):
                rows = connection.execute(
                    "SELECT step, value FROM metrics WHERE run_key = ? AND name = ? ORDER BY seq",
                    (key, metric),
                ).fetchall()
                base = me * 100_000 + offset * 10_000
                assert rows == [(step, float(base + step)) for step in range(1000, 2000)]
                latest = connection.execute(
                    "SELECT step, value FROM latest_metrics WHERE run_key = ? AND name = ?",
                    (key, metric),
                ).fetchone()
                assert latest == (1999, float(base + 1999))
            parameters = dict(
                connection.execute("SELECT name, value FROM parameters WHERE run_key = ?", (key,))
            )
            assert parameters == {"worker": str(me), "learning_rate": str(0.001 * me)}
            tags = dict(
                connection.execute("SELECT name, value FROM tags WHERE run_key = ?", (key,))
            )
            assert tags == {"worker": str(me), "kind": "parallel"}
        # Nothing else was written: the totals match the per-run counts exactly.
        totals = {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("metrics", "latest_metrics", "parameters", "tags")
        }
        assert totals == {
            "metrics": workers * 3 * 1000,
            "latest_metrics": workers * 3,
            "parameters": workers * 2,
            "tags": workers * 2,
        }


# ---------------------------------------------------------------- a brand-new file

FIRST_USERS = """
folder, me = sys.argv[1], int(sys.argv[2])
sdk = MLTrackingSDK()
wait_for_go(folder, me)
run = sdk.start_run(run_name=f"first-{me}")  # opens (and creates) the database here
sdk.log_metric("m", float(me))
sdk.end_run()
print(run.id)
"""


@pytest.mark.slow
@pytest.mark.parametrize("attempt", range(3))
def test_processes_creating_a_new_database_together_migrate_it_once(
    tmp_path: Path, attempt: int
) -> None:
    """Eight processes opening a not-yet-existing file at once: one schema, one migration, WAL."""
    db = tmp_path / "new" / "tracking.db"
    assert not db.exists()
    users = 8
    children = [spawn(FIRST_USERS, tmp_path, me, db=db) for me in range(users)]
    release_when_ready(tmp_path, users, children)
    outputs = finish(children)

    with read_only(db) as connection:
        finished = connection.execute("SELECT name FROM runs WHERE status = 'FINISHED'")
        names = {row[0] for row in finished}
        assert names == {f"first-{me}" for me in range(users)}
        stored_ids = {row[0] for row in connection.execute("SELECT id FROM runs")}
        assert stored_ids == {out.strip() for out, _ in outputs}
        assert connection.execute("SELECT count(*) FROM metrics").fetchone()[0] == users
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        migrations = connection.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ?", (MIGRATION_SET,)
        ).fetchall()
        assert migrations == [(name,) for name, _ in MIGRATIONS]
        count = connection.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0]
        assert count == SCHEMA_VERSION  # each migration applied once
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# ---------------------------------------------------------------- two processes, one run

SAME_RUN_OWNER = """
folder, me = sys.argv[1], int(sys.argv[2])
sdk = MLTrackingSDK()
run = sdk.start_run(run_name="shared")
Path(folder, "run-id.tmp").write_text(run.id)
Path(folder, "run-id.tmp").rename(Path(folder, "run-id"))  # appears whole or not at all
wait_for_go(folder, me)
for index in range(1500):
    # Values tell the writer and the order: the owner logs 1_000_000.., the guest 2_000_000..
    sdk.log_metric("shared", 1_000_000 + index, step=index)
    if (index + 1) % 50 == 0:
        sdk.persist_run()
sdk.end_run()
"""

SAME_RUN_GUEST = """
folder, me = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 60
while not Path(folder, "run-id").exists():
    if time.monotonic() > deadline:
        sys.exit("the owner never shared its run id")
    time.sleep(0.002)
run_id = Path(folder, "run-id").read_text()
sdk = MLTrackingSDK()
wait_for_go(folder, me)
for index in range(1500):
    sdk.log_metric("shared", 2_000_000 + index, run=run_id, step=index)
    if (index + 1) % 50 == 0:
        sdk.persist_run()
print(run_id)
"""


@pytest.mark.slow
def test_two_processes_writing_one_metric_of_one_run_keep_the_latest_window(
    db_path: Path, tmp_path: Path
) -> None:
    """Two processes appending to one run's metric: exactly the 1000 latest, none duplicated."""
    create_database(db_path)
    owner = spawn(SAME_RUN_OWNER, tmp_path, 1, db=db_path)
    guest = spawn(SAME_RUN_GUEST, tmp_path, 2, db=db_path)
    release_when_ready(tmp_path, 2, [owner, guest])
    _, (out, _) = finish([owner, guest])
    run_id = out.strip()

    with read_only(db_path) as connection:
        key, status = connection.execute(
            "SELECT key, status FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        rows = connection.execute(
            "SELECT seq, value FROM metrics WHERE run_key = ? AND name = 'shared' ORDER BY seq",
            (key,),
        ).fetchall()
        latest_seq = connection.execute(
            "SELECT seq FROM latest_metrics WHERE run_key = ? AND name = 'shared'", (key,)
        ).fetchone()[0]
    assert status == "FINISHED"
    # 3000 values were persisted in all; the window is the last 1000 of them in persist order.
    assert latest_seq == 3000
    assert [seq for seq, _ in rows] == list(range(2001, 3001))
    values = [value for _, value in rows]
    assert len(values) == len(set(values)) == 1000
    for writer in (1, 2):
        # A writer's kept values are the newest it logged, all of them, in the order it logged them.
        base = writer * 1_000_000
        indexes = [int(value) - base for value in values if value // 1_000_000 == writer]
        if indexes:
            assert indexes == list(range(indexes[0], 1500))
    reader = MLTrackingSDK(db_path=db_path)
    (history,) = reader.get_metrics_history(run=run_id, metrics="shared")
    assert [point.value for point in history.values] == values
    reader.close()


# ---------------------------------------------------------------- a reader during writes

# Every persist writes the same number of values to each of these metrics.
BATCH_METRICS = ["a", "b", "c", "d", "e", "f"]

PAIR_WRITER = """
folder, me, names = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
sdk = MLTrackingSDK()
sdk.start_run(run_collection_name="pairs", run_name=f"pair-{me}")
wait_for_go(folder, me)
# 90 persists of 10 values each: 900 per metric, under the window, so a torn read would show.
for batch in range(90):
    for index in range(batch * 10, batch * 10 + 10):
        sdk.log_metrics({name: float(index) for name in names})
    sdk.persist_run()
sdk.end_run()
"""

READER = """
folder, me, names = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
sdk = MLTrackingSDK()
wait_for_go(folder, me)
polls, problems = 0, []
deadline = time.monotonic() + 90
while not Path(folder, "stop").exists() and time.monotonic() < deadline:
    for run in sdk.get_runs(scenario="concurrency"):
        latest = {run.metrics.get(name) for name in names}
        if len(latest) != 1:
            problems.append(f"{run.name}: latest values {run.metrics}")
        history = sdk.get_metrics_history(run=run.id, metrics=names)
        counts = {h.name: len(h.values) for h in history}
        if len({tuple(v.value for v in h.values) for h in history}) != 1:
            problems.append(f"{run.name}: a partial persist, counts {counts}")
    polls += 1
print(json.dumps({"polls": polls, "problems": problems[:20]}))
"""


@pytest.mark.slow
def test_a_reader_polling_during_persists_never_sees_half_a_persist(
    db_path: Path, tmp_path: Path
) -> None:
    """A reader polling while three writers persist never fails and never sees a partial persist."""
    create_database(db_path)
    names = ",".join(BATCH_METRICS)
    writers = [spawn(PAIR_WRITER, tmp_path, me, names, db=db_path) for me in range(3)]
    reader = spawn(READER, tmp_path, "reader", names, db=db_path)
    release_when_ready(tmp_path, 4, [*writers, reader])
    try:
        finish(writers)
    finally:
        (tmp_path / "stop").touch()
    ((out, _),) = finish([reader])
    report = json.loads(out)
    assert report["problems"] == []
    assert report["polls"] > 0
    # The writers really did their work, so the reader had something to look at.
    with read_only(db_path) as connection:
        counts = connection.execute(
            "SELECT count(*) FROM metrics GROUP BY run_key, name"
        ).fetchall()
    assert counts == [(900,)] * (3 * len(BATCH_METRICS))
