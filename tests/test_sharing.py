"""Sharing a database file: it opens anywhere, a file that is not ours is never changed, and
only what the SDK's rules allow enters.

Real files throughout: read-only places are a real read-only bind mount (as root) and a
folder of root's read by an unprivileged process (``nobody``); foreign and hostile files are
written by tests/fixtures/make_shared_files.py; SQLite's own write lock is held by a plain
``sqlite3`` process.
"""

from __future__ import annotations

import hashlib
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

import httpx
import pytest
from click.testing import CliRunner
from conftest import CONTEXT_VARIABLES, fixture_script

from sapdi_local import MLTrackingSDK, tracking  # noqa: E402
from sapdi_local.cli import main  # noqa: E402
from sapdi_local.errors import (  # noqa: E402
    InvalidValueError,
    LockTimeoutError,
    SnapshotWarning,
    StorageError,
)
from sapdi_local.store import (  # noqa: E402
    APPLICATION_ID,
    ReadOnlyStore,
    Store,
    merge_from,
    places,  # noqa: E402
)
from sapdi_local.ui.server import Explorer  # noqa: E402

files = fixture_script("make_shared_files")
NOBODY = 65534
IS_ROOT = os.geteuid() == 0


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def invoke(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def make_runs(path: Path, count: int = 2, scenario: str = "shared") -> list[str]:
    ids = []
    with MLTrackingSDK(db_path=path, scenario=scenario) as sdk:
        for index in range(count):
            run = sdk.start_run(run_name=f"run-{index}")
            sdk.log_parameters({"lr": 0.1 * (index + 1)})
            sdk.log_metric("loss", 1.0 / (index + 1))
            sdk.end_run()
            ids.append(run.id)
    return ids


# ---------------------------------------------------------------- read-only places


@pytest.fixture
def read_only_mount() -> Iterator[tuple[Path, Path]]:
    """(source, mount): a folder, and the same folder bind-mounted read-only."""
    if not IS_ROOT:
        pytest.skip("a bind mount needs root")
    source = Path(tempfile.mkdtemp(prefix="sapdi-share-src-"))
    source.chmod(0o755)  # other users may enter it, as a shared mount would let them
    mount = Path(tempfile.mkdtemp(prefix="sapdi-share-ro-"))
    bound = False
    try:
        done = subprocess.run(["mount", "--bind", str(source), str(mount)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot bind-mount here: {done.stderr.decode().strip()}")
        bound = True
        remounted = subprocess.run(
            ["mount", "-o", "remount,ro,bind", str(mount)], capture_output=True
        )
        assert remounted.returncode == 0, remounted.stderr
        yield source, mount
    finally:
        if bound:
            subprocess.run(["umount", str(mount)], check=False)
        shutil.rmtree(source, ignore_errors=True)
        mount.rmdir()


@pytest.fixture
def root_folder() -> Iterator[Path]:
    """A folder of root's that other users may read and enter but not write (0755)."""
    folder = Path(tempfile.mkdtemp(prefix="sapdi-share-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# Everything the child needs is imported before it drops to nobody: the interpreter's own
# files may sit where nobody cannot read them.
AS_NOBODY = """
import json, os, sys, sqlite3, warnings
import pandas
import sqlite_utils
from click.testing import CliRunner
from sapdi_local import MLTrackingSDK
from sapdi_local.cli import main
from sapdi_local.errors import SnapshotWarning, StorageError
from sapdi_local.store import ReadOnlyStore
import sapdi_local.cli.reading, sapdi_local.cli.sharing, sapdi_local.display, tabulate
import datetime, csv, io, platform, socket, shutil
os.setgroups([])
os.setgid(65534)
os.setuid(65534)
"""


def run_as_nobody(code: str, *args: object) -> dict[str, Any]:
    if not IS_ROOT:
        pytest.skip("dropping to another user needs root")
    env = {k: v for k, v in os.environ.items() if k not in CONTEXT_VARIABLES}
    result = subprocess.run(
        [sys.executable, "-c", AS_NOBODY + textwrap.dedent(code), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


OTHER_CLIENTS = """
db = sys.argv[1]
report = {"uid": os.geteuid()}
uri = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
report["sqlite_mode_ro"] = uri.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
uri.close()
def read_only():
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True)
report["pandas"] = len(pandas.read_sql("SELECT * FROM runs", read_only()))
report["sqlite_utils"] = sqlite_utils.Database(read_only())["runs"].count
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    result = CliRunner().invoke(main, ["runs", "--db", db, "--json"])
report["cli_exit"] = result.exit_code
report["cli_runs"] = (
    len(json.loads(result.stdout)) if result.exit_code == 0 else result.output
)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    with MLTrackingSDK(db_path=db) as sdk:
        report["sdk_runs"] = len(sdk.get_runs(scenario="shared"))
        try:
            sdk.start_run()
            report["write"] = "accepted"
        except StorageError as error:
            report["write"] = str(error)
report["warnings"] = [str(w.message) for w in caught if issubclass(w.category, SnapshotWarning)]
print(json.dumps(report))
"""


def test_an_exported_file_opens_read_only_from_a_read_only_mount_in_any_client(
    read_only_mount: tuple[Path, Path], tmp_path: Path
) -> None:
    """The export is one self-contained file (rollback journal, no -wal or -shm needed): on a
    read-only bind mount, read by another user, sqlite3 with ?mode=ro, pandas, sqlite-utils,
    `sapdi-local runs` and the SDK all read it, with no snapshot warning (there is no log to
    miss), and a write says why it cannot be made without touching the file."""
    source, mount = read_only_mount
    live = tmp_path / "live.db"
    make_runs(live, 3)
    result = invoke("export", str(source / "share.db"), "--db", str(live), "--shared")
    assert result.exit_code == 0, result.output
    exported = source / "share.db"
    assert exported.read_bytes()[18:20] == b"\x01\x01"  # rollback journal, not WAL
    assert sorted(p.name for p in source.iterdir()) == ["share.db"]
    assert exported.stat().st_mode & 0o777 == 0o644
    before = digest(exported)

    report = run_as_nobody(OTHER_CLIENTS, mount / "share.db")
    assert report["uid"] == NOBODY
    assert report["sqlite_mode_ro"] == report["pandas"] == report["sqlite_utils"] == 3
    assert report["cli_exit"] == 0 and report["cli_runs"] == 3
    assert report["sdk_runs"] == 3
    assert "may not write it here" in report["write"]
    assert report["warnings"] == []
    assert digest(exported) == before
    assert sorted(p.name for p in source.iterdir()) == ["share.db"]


def test_an_export_is_private_unless_shared(root_folder: Path, tmp_path: Path) -> None:
    """Without --shared the copy is 0600 and another user cannot read it at all."""
    live = tmp_path / "live.db"
    make_runs(live)
    assert invoke("export", str(root_folder / "mine.db"), "--db", str(live)).exit_code == 0
    assert (root_folder / "mine.db").stat().st_mode & 0o777 == 0o600
    report = run_as_nobody(
        """
        try:
            open(sys.argv[1], "rb")
            print(json.dumps({"read": True}))
        except PermissionError:
            print(json.dumps({"read": False}))
        """,
        root_folder / "mine.db",
    )
    assert report == {"read": False}


LIVE_READER = """
db = sys.argv[1]
report = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    with MLTrackingSDK(db_path=db) as sdk:
        report["names"] = sorted(run.name for run in sdk.get_runs(scenario="shared"))
report["sdk_warnings"] = [str(w.message) for w in caught if issubclass(w.category, SnapshotWarning)]
result = CliRunner().invoke(main, ["runs", "--db", db])
report["cli_exit"] = result.exit_code
report["cli_stderr"] = result.stderr
print(json.dumps(report))
"""


def test_our_live_database_in_a_folder_another_user_cannot_write_is_read_without_writing(
    root_folder: Path,
) -> None:
    """Our own WAL database, closed by its writer, read by another user who may not write
    the folder: the SDK and `sapdi-local runs` read every run, say they read a snapshot,
    and leave the folder exactly as it was."""
    db = root_folder / "tracking.db"
    make_runs(db, 2)
    db.chmod(0o644)
    listing = sorted(p.name for p in root_folder.iterdir())
    before = digest(db)
    report = run_as_nobody(LIVE_READER, db)
    assert report["names"] == ["run-0", "run-1"]
    assert report["cli_exit"] == 0
    assert any("snapshot" in text for text in report["sdk_warnings"])
    assert report["cli_stderr"].startswith("warning: ") and "snapshot" in report["cli_stderr"]
    assert "persist again" not in report["cli_stderr"]  # no writer's advice to a reader
    assert sorted(p.name for p in root_folder.iterdir()) == listing
    assert digest(db) == before


def test_a_live_database_with_its_log_beside_it_shows_the_newest_runs_to_another_user(
    root_folder: Path,
) -> None:
    """While a writer keeps the database open (its -wal and -shm files beside it, readable),
    another user reads through the log: the run committed only to the log is seen, and no
    snapshot warning is given."""
    db = root_folder / "tracking.db"
    make_runs(db, 1)
    writer = MLTrackingSDK(db_path=db, scenario="shared")
    try:
        writer.start_run(run_name="in-the-log")
        writer.log_metric("loss", 0.1)
        writer.persist_run()
        for part in root_folder.iterdir():
            part.chmod(0o644)
        assert (root_folder / "tracking.db-wal").stat().st_size > 0
        report = run_as_nobody(LIVE_READER, db)
    finally:
        writer.end_run()
        writer.close()
    assert report["names"] == ["in-the-log", "run-0"]
    assert report["sdk_warnings"] == []
    assert report["cli_exit"] == 0


def test_the_sdk_reads_from_a_read_only_mount_as_root_and_refuses_writes_clearly(
    read_only_mount: tuple[Path, Path],
) -> None:
    """Root too is refused writes by a read-only mount (EROFS): the SDK reads the runs, says
    it reads a snapshot, and a write names the place without changing anything."""
    source, mount = read_only_mount
    make_runs(source / "tracking.db", 2)
    before = digest(source / "tracking.db")
    with pytest.warns(SnapshotWarning, match="snapshot"):
        sdk = MLTrackingSDK(db_path=mount / "tracking.db")
        assert len(sdk.get_runs(scenario="shared")) == 2
    with pytest.raises(StorageError, match="may not write it here"):
        sdk.start_run()
    sdk.close()
    store = ReadOnlyStore(mount / "tracking.db")
    with pytest.warns(SnapshotWarning):
        assert store.counts()["runs"] == 2
    store.close()
    assert digest(source / "tracking.db") == before
    assert sorted(p.name for p in source.iterdir()) == ["tracking.db", "tracking.db.lock"]


def test_a_relative_path_opens_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_runs(tmp_path / "t.db")
    monkeypatch.chdir(tmp_path)
    store = ReadOnlyStore(Path("t.db"))
    assert store.counts()["runs"] == 2
    store.close()


def test_a_damaged_file_read_gives_reading_advice_only(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    make_runs(db)
    data = bytearray(db.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)
    db.write_bytes(bytes(data))
    result = invoke("runs", "--db", str(db))
    assert result.exit_code == 2
    assert "persist again" not in result.output and "Traceback" not in result.output


# ---------------------------------------------------------------- foreign files


FOREIGN = [
    "foreign-v0.db",
    "foreign-v1.db",
    "foreign-v2.db",
    "foreign-v3.db",
    "foreign-app.db",
    "foreign-runs.db",
]
COMMANDS = [
    ("submit", ["submit", "loss=0.5"]),
    ("gc", ["gc"]),
    ("delete", ["delete", "--scenario", "s", "--yes"]),
    ("runs", ["runs"]),
    ("import-target", ["import", "mlflow"]),
    ("merge-target", ["merge"]),
]


@pytest.mark.parametrize("name", FOREIGN)
@pytest.mark.parametrize(("command", "args"), COMMANDS, ids=[c for c, _ in COMMANDS])
def test_a_file_that_is_not_ours_is_refused_before_a_byte_changes(
    tmp_path: Path, name: str, command: str, args: list[str]
) -> None:
    """Whatever its user_version (0 to 4) or application_id, another application's file is
    refused by every command, and neither it nor its folder changes."""
    db = tmp_path / name
    files.WRITERS[name](db)
    before = digest(db)
    if command == "import-target":
        source = tmp_path / "mlflow.db"
        files.mlflow_layout_file(source)
        args = [*args, str(source)]
    if command == "merge-target":
        other = tmp_path / "other.db"
        make_runs(other)
        args = [*args, str(other)]

    def beside() -> list[str]:
        return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(name))

    listing = beside()
    result = invoke(*args, "--db", str(db))
    assert result.exit_code == 2, result.output
    assert "not a sapdi-local database" in result.output
    assert digest(db) == before
    assert beside() == listing


@pytest.mark.parametrize("name", FOREIGN)
def test_the_sdk_and_the_explorer_refuse_a_foreign_file_unchanged(
    tmp_path: Path, name: str
) -> None:
    db = tmp_path / name
    files.WRITERS[name](db)
    before = digest(db)
    sdk = MLTrackingSDK(db_path=db, scenario="s")
    with pytest.raises(StorageError, match="not a sapdi-local database"):
        sdk.start_run()
    sdk.close()
    with pytest.raises(StorageError, match="not a sapdi-local database"):
        ReadOnlyStore(db).counts()
    app = Explorer(db)
    with httpx.Client(
        transport=httpx.WSGITransport(app=app), base_url="http://127.0.0.1:8600"
    ) as client:
        answer = client.get("/api/runs", params={"scenario": "s"})
        assert answer.status_code == 503
        assert "not a sapdi-local database" in answer.text
    app.close()
    assert digest(db) == before


@pytest.mark.parametrize("name", FOREIGN)
def test_a_foreign_file_is_refused_as_a_merge_source(tmp_path: Path, name: str) -> None:
    other = tmp_path / name
    files.WRITERS[name](other)
    before = digest(other)
    target = tmp_path / "mine.db"
    make_runs(target)
    result = invoke("merge", str(other), "--db", str(target))
    assert result.exit_code == 2 and "not a sapdi-local database" in result.output
    assert digest(other) == before


def test_a_file_of_the_release_before_the_mark_keeps_opening_and_gets_the_mark(
    tmp_path: Path,
) -> None:
    """A schema-3 file (no application_id) is recognised by its migration records: read as
    it is by a reader, and marked when a writer opens it."""
    db = tmp_path / "v3.db"
    files.schema_v3_file(db)
    assert invoke("runs", "--db", str(db)).exit_code == 0
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA application_id").fetchone()[0] == 0
    with MLTrackingSDK(db_path=db, scenario="s") as sdk:
        assert [run.name for run in sdk.get_runs(scenario="s")] == ["old"]
    connection = sqlite3.connect(db)
    assert connection.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    connection.close()


def test_a_marked_file_whose_runs_is_a_view_is_refused_at_once(tmp_path: Path) -> None:
    """A crafted file with our marks and a `runs` view that never ends is refused when it is
    opened, before any query of runs could start the view."""
    other = tmp_path / "views.db"
    files.marked_with_views(other)
    target = tmp_path / "mine.db"
    make_runs(target)
    result = invoke("merge", str(other), "--db", str(target))
    assert result.exit_code == 2 and "lacks the tables runs" in result.output


# ---------------------------------------------------------------- merging by the rules


def test_merge_lets_in_only_runs_that_keep_every_rule(tmp_path: Path) -> None:
    """A file edited by hand: each damaged run is skipped whole and reported with its reason;
    the good runs arrive; every reader of the target works afterwards."""
    other = tmp_path / "hostile.db"
    ids = files.hostile_database(other)
    target = tmp_path / "mine.db"
    make_runs(target)
    result = invoke("merge", str(other), "--db", str(target), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert sorted(report["added"]) == sorted([ids["good-1"], ids["good-2"]])
    skipped = {item["run"]: item["reason"] for item in report["skipped"]}
    assert len(skipped) == len(files.DAMAGE)
    reasons = " | ".join(skipped.values())
    for expected in (
        "not valid JSON",
        "levels deep",
        "not a finite",
        "not a number",
        "not Unix seconds",
        "outside 1678",
        "5000",
        "NUL",
        "EXPLODED",
        "not text",
        "64-bit",
        "run id",
    ):
        assert expected in reasons, (expected, reasons)
    for command in (["runs"], ["export", str(tmp_path / "out.json"), "--format", "json"]):
        done = invoke(*command, "--db", str(target))
        assert done.exit_code == 0, done.output
    with MLTrackingSDK(db_path=target) as sdk:
        names = sorted(run.name for run in sdk.get_runs(scenario="shared"))
    assert names == ["good-1", "good-2", "run-0", "run-1"]
    connection = sqlite3.connect(target)
    for table in ("parameters", "tags", "labels", "metrics", "latest_metrics"):
        orphans = connection.execute(
            f"SELECT COUNT(*) FROM {table} WHERE run_key NOT IN (SELECT key FROM runs)"
        ).fetchone()[0]
        assert orphans == 0
    connection.close()
    again = invoke("merge", str(other), "--db", str(target), "--json")
    assert json.loads(again.stdout)["added"] == []


def test_a_label_nested_thousands_deep_is_refused_by_set_labels(sdk: MLTrackingSDK) -> None:
    nested: Any = 1
    for _ in range(3000):
        nested = [nested]
    tracking.start_run()
    with pytest.raises(InvalidValueError, match="levels deep"):
        tracking.set_labels({"deep": nested})
    tracking.set_labels({"fine": {"a": [1, {"b": 2}]}})
    tracking.end_run()


@pytest.mark.parametrize("how", ["same path", "symlink", "hard link", "relative"])
def test_merging_a_file_into_itself_is_refused_at_once(
    tmp_path: Path, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "mine.db"
    make_runs(db)
    other = {
        "same path": db,
        "symlink": tmp_path / "link.db",
        "hard link": tmp_path / "hard.db",
        "relative": Path("mine.db"),
    }[how]
    if how == "symlink":
        other.symlink_to(db)
    if how == "hard link":
        os.link(db, other)
    monkeypatch.chdir(tmp_path)
    result = invoke("merge", str(other), "--db", str(db))
    assert result.exit_code == 2
    assert "is the database being merged into" in result.output


@pytest.mark.timeout(120)  # a child process that hangs would otherwise block a read
def test_merge_reads_the_other_file_without_the_lock_of_the_target(tmp_path: Path) -> None:
    """While another process holds the target's lock, merge still reads and checks the
    other file; only its one write waits, and gives up after lock_timeout."""
    other = tmp_path / "theirs.db"
    make_runs(other, 3)
    target = tmp_path / "mine.db"
    make_runs(target, 1)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from filelock import FileLock; "
            "lock = FileLock(sys.argv[1]); lock.acquire(); print('held', flush=True); "
            "time.sleep(60)",
            str(target) + ".lock",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        store = Store(target, lock_timeout=1)
        theirs = ReadOnlyStore(other)
        with pytest.raises(LockTimeoutError):
            merge_from(store, theirs)
        store.close()
        theirs.close()
    finally:
        holder.kill()
        holder.wait()
    store = Store(target)
    report = merge_from(store, ReadOnlyStore(other))
    store.close()
    assert len(report.added) == 3


# ---------------------------------------------------------------- SQLite's own lock


HOLD_SQLITE_LOCK = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("held", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("lock_file", ["kept", "removed"])
@pytest.mark.timeout(45)  # SQLite's own 60 s busy wait would outlast it: lock_timeout bounds it
def test_lock_timeout_bounds_a_wait_on_sqlites_own_write_lock(
    tmp_path: Path, lock_file: str
) -> None:
    """A plain sqlite3 process holds the write lock (it knows nothing of our lock file): a
    persist with lock_timeout=2 gives up with LockTimeoutError long before SQLite's 60 s
    busy timeout, and keeps what was logged; once the lock is gone the values are written."""
    db = tmp_path / "t.db"
    make_runs(db, 1)
    if lock_file == "removed":
        Path(str(db) + ".lock").unlink()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_SQLITE_LOCK, str(db)], stdout=subprocess.PIPE, text=True
    )
    sdk = MLTrackingSDK(db_path=db, scenario="shared", lock_timeout=2)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockTimeoutError, match="SQLite's write lock for the whole 2 s"):
            sdk.start_run(run_name="waits")
    finally:
        holder.kill()
        holder.wait()
    run = sdk.start_run(run_name="after")
    sdk.log_metric("loss", 0.5)
    sdk.end_run()
    assert [r.name for r in sdk.get_runs(run=run)] == ["after"]
    sdk.close()


# ---------------------------------------------------------------- network filesystems


def mountinfo_saying(tmp_path: Path, folder: Path, fstype: str) -> Path:
    table = tmp_path / "mountinfo"
    table.write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        f"40 22 0:40 / {str(folder).replace(' ', chr(92) + '040')} rw,relatime shared:9 - "
        f"{fstype} server:/export rw,vers=4.2\n"
    )
    return table


@pytest.mark.parametrize("fstype", ["nfs4", "cifs", "fuse.sshfs", "nfs"])
def test_a_database_on_a_network_filesystem_is_read_but_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fstype: str
) -> None:
    share = tmp_path / "share with space"
    share.mkdir()
    db = share / "tracking.db"
    make_runs(db, 2)
    before = digest(db)
    monkeypatch.setattr(places, "MOUNTINFO", mountinfo_saying(tmp_path, share, fstype))
    monkeypatch.delenv(places.ALLOW_NETWORK_ENV_VAR, raising=False)
    assert places.filesystem_type(db) == fstype
    sdk = MLTrackingSDK(db_path=db, scenario="shared")
    assert len(sdk.get_runs(scenario="shared")) == 2
    with pytest.raises(StorageError, match=f"network filesystem \\({fstype}\\)"):
        sdk.start_run()
    sdk.close()
    result = invoke("submit", "loss=1", "--db", str(db))
    assert result.exit_code == 2 and "sapdi-local export" in result.output
    new = share / "new.db"
    with pytest.raises(StorageError, match="cannot create a database"):
        MLTrackingSDK(db_path=new).start_run()
    assert not new.exists()
    assert invoke("runs", "--db", str(db)).exit_code == 0
    assert digest(db) == before

    monkeypatch.setenv(places.ALLOW_NETWORK_ENV_VAR, "1")
    with MLTrackingSDK(db_path=db, scenario="shared") as allowed:
        allowed.start_run(run_name="one-writer")
        allowed.end_run()
        assert len(allowed.get_runs(scenario="shared")) == 3


def test_local_and_unknown_filesystems_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for fstype in ("ext4", "tmpfs", "fuse.fuse-overlayfs", "overlay"):
        monkeypatch.setattr(places, "MOUNTINFO", mountinfo_saying(tmp_path, tmp_path, fstype))
        assert places.network_write_refusal(tmp_path / "x.db") is None
    monkeypatch.setattr(places, "MOUNTINFO", tmp_path / "no-such-table")
    assert places.filesystem_type(tmp_path) is None


def test_the_filesystem_of_a_real_mount_is_found(tmp_path: Path) -> None:
    """The kernel's own mount table: a tmpfs mounted here is seen as tmpfs, the longest
    mount point containing the path wins."""
    if not IS_ROOT:
        pytest.skip("mounting needs root")
    point = tmp_path / "mnt"
    point.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(point)]).returncode != 0:
        pytest.skip("cannot mount tmpfs here")
    try:
        assert places.filesystem_type(point / "sub" / "tracking.db") == "tmpfs"
        assert places.filesystem_type(tmp_path / "elsewhere.db") != "tmpfs"
    finally:
        subprocess.run(["umount", str(point)], check=True)


# ---------------------------------------------------------------- the explorer


def test_the_explorer_says_it_reads_a_snapshot_of_a_file_on_a_read_only_mount(
    read_only_mount: tuple[Path, Path],
) -> None:
    """The JSON API gives the snapshot note, and the page, in a real headless Chromium, shows
    "read-only snapshot" in its header with the note as its title."""
    source, mount = read_only_mount
    make_runs(source / "tracking.db", 2)
    app = Explorer(mount / "tracking.db")
    transport = httpx.WSGITransport(app=app)
    with (
        pytest.warns(SnapshotWarning),
        httpx.Client(transport=transport, base_url="http://127.0.0.1:8600") as client,
    ):
        answer = client.get("/api/database").json()
    app.close()
    assert answer["counts"]["runs"] == 2
    assert "snapshot" in answer["snapshot_note"]

    from test_ui_browser import CHROMIUM, CHROMIUM_ARGS, playwright_api, serving

    if not CHROMIUM.exists():
        pytest.skip("needs Chromium")
    with (
        pytest.warns(SnapshotWarning),
        serving(mount / "tracking.db") as base,
        playwright_api.sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page()
        page.goto(f"{base}/#/")
        badge = page.locator(".db-snapshot")
        badge.wait_for(timeout=30_000)
        assert badge.inner_text() == "read-only snapshot"
        assert "snapshot" in (badge.get_attribute("title") or "")
        browser.close()
    clean = Explorer(source / "tracking.db")
    with httpx.Client(
        transport=httpx.WSGITransport(app=clean), base_url="http://127.0.0.1:8600"
    ) as client:
        assert client.get("/api/database").json()["snapshot_note"] is None
    clean.close()


# ---------------------------------------------------------------- found by trying to break it


def foreign_wal_file(path: Path) -> None:
    """Another application's WAL database whose last write is still in its -wal file."""
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE notes (body TEXT)")
    writer.execute("INSERT INTO notes VALUES ('precious')")
    kept = {end: Path(f"{path}{end}").read_bytes() for end in ("", "-wal", "-shm")}
    writer.close()  # checkpoints and removes -wal: put the open state back
    for end, data in kept.items():
        Path(f"{path}{end}").write_bytes(data)


@pytest.mark.parametrize("args", [["submit", "a=1"], ["gc"], ["runs"]])
def test_a_foreign_wal_file_is_refused_without_checkpointing_its_log(
    tmp_path: Path, args: list[str]
) -> None:
    db = tmp_path / "theirs.db"
    foreign_wal_file(db)
    before = {end: digest(Path(f"{db}{end}")) for end in ("", "-wal")}
    result = invoke(*args, "--db", str(db))
    assert result.exit_code == 2 and "not a sapdi-local database" in result.output
    assert {end: digest(Path(f"{db}{end}")) for end in ("", "-wal")} == before


def test_text_that_is_not_utf8_is_read_and_shown_and_kept_out_of_a_merge(
    tmp_path: Path,
) -> None:
    other = tmp_path / "theirs.db"
    ids = make_runs(other, 3)
    connection = sqlite3.connect(other)
    connection.execute("UPDATE runs SET name = CAST(x'66ff6f' AS TEXT) WHERE id = ?", (ids[1],))
    connection.commit()
    connection.close()
    listed = invoke("runs", "--json", "--db", str(other))
    assert listed.exit_code == 0, listed.output
    assert "f\ufffdo" in [run["name"] for run in json.loads(listed.stdout)]
    target = tmp_path / "mine.db"
    make_runs(target, 1, scenario="mine")
    merged = invoke("merge", str(other), "--db", str(target), "--json")
    assert merged.exit_code == 0, merged.output
    report = json.loads(merged.stdout)
    assert sorted(report["added"]) == sorted([ids[0], ids[2]])
    assert [item["run"] for item in report["skipped"]] == [ids[1]]
    assert "surrogate" in report["skipped"][0]["reason"]


def test_a_marked_file_missing_a_column_or_holding_a_trigger_is_refused_cleanly(
    tmp_path: Path,
) -> None:
    for damage in (
        "ALTER TABLE runs DROP COLUMN host",
        "CREATE TRIGGER t AFTER DELETE ON runs BEGIN UPDATE metrics SET value = 666; END",
    ):
        db = tmp_path / f"{len(damage)}.db"
        make_runs(db)
        connection = sqlite3.connect(db)
        connection.execute(damage)
        connection.commit()
        connection.close()
        before = digest(db)
        for args in (
            ["runs"],
            ["export", str(tmp_path / "out.db"), "--run", "run-0"],
            ["submit", "a=1"],
        ):
            result = invoke(*args, "--db", str(db))
            assert result.exit_code == 2, (damage, args, result.output)
            assert "changed by another tool" in result.output
            assert "Traceback" not in result.output
        assert digest(db) == before


def test_export_replace_and_writers_refuse_what_is_not_a_regular_file(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    make_runs(db)
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    replaced = invoke("export", str(pipe), "--replace", "--db", str(db))
    assert replaced.exit_code == 2 and "not a regular file" in replaced.output
    assert pipe.is_fifo()
    written = invoke("submit", "a=1", "--db", str(pipe))
    assert written.exit_code == 2 and "not a regular file" in written.output
    assert not Path(f"{pipe}.lock").exists()


def test_a_write_on_a_read_only_mount_says_the_mount_is_read_only(
    read_only_mount: tuple[Path, Path],
) -> None:
    source, mount = read_only_mount
    make_runs(source / "tracking.db")
    for args in (["submit", "a=1"], ["gc"]):
        result = invoke(*args, "--db", str(mount / "tracking.db"))
        assert result.exit_code == 2
        assert "mounted read-only" in result.output, result.output
        assert "chmod" not in result.output
