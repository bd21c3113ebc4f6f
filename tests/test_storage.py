"""The database file: where it lives, what is in it, how damaged or foreign files are met."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import platformdirs
import pytest
from conftest import run_python

from sapdi_local import MLTrackingSDK, TrackingError
from sapdi_local.errors import SchemaVersionError, StorageError
from sapdi_local.store import SCHEMA_VERSION

OUR_TABLES = {"runs", "parameters", "tags", "labels", "metrics", "latest_metrics"}
CONTEXT = {
    "scenario": "storage-scenario",
    "scenario_version": "v1",
    "pipeline": "store.py",
    "execution": "exec-storage",
}


@pytest.fixture
def make_sdk(sdk_factory: Callable[..., MLTrackingSDK]) -> Callable[..., MLTrackingSDK]:
    """Build SDKs with a fixed context; each is closed when the test ends."""

    def make(db_path: Path | None = None, **arguments: object) -> MLTrackingSDK:
        return sdk_factory(db_path=db_path, **{**CONTEXT, **arguments})

    return make


def home_env(tmp_path: Path) -> dict[str, str]:
    """HOME and XDG_DATA_HOME inside tmp_path, so the real home folder is never touched."""
    home = tmp_path / "home"
    data = tmp_path / "xdg-data"
    home.mkdir(exist_ok=True)
    return {"HOME": str(home), "XDG_DATA_HOME": str(data)}


def table_names(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        return {row[0] for row in rows}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_full_database(make_sdk: Callable[..., MLTrackingSDK], path: Path, metrics: int = 5) -> str:
    """A real, closed database spanning many pages; returns the id of its run."""
    writer = make_sdk(path)
    run = writer.start_run(run_collection_name="rc", run_name="full")
    writer.log_parameters({"lr": 0.01, "epochs": 3})
    for step in range(1000):
        writer.log_metrics({f"metric_{i}": step * 0.5 + i for i in range(metrics)})
    writer.end_run()
    writer.close()  # the last connection closes: the WAL is folded into the file
    return run.id


# ---------------------------------------------------------------- where the file lives


def test_default_location_is_the_user_data_folder(tmp_path: Path) -> None:
    """Without SAPDI_LOCAL_DB or db_path the file is platformdirs' user data folder/tracking.db."""
    env = home_env(tmp_path)
    result = run_python(
        """
        import json, platformdirs
        from sapdi_local import tracking
        tracking.start_run()
        tracking.end_run()
        print(json.dumps({
            "used": str(tracking.get_default_sdk().db_path),
            "platformdirs": platformdirs.user_data_dir("sapdi-local", appauthor=False),
        }))
        """,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    reported = json.loads(result.stdout)
    expected = Path(env["XDG_DATA_HOME"]) / "sapdi-local" / "tracking.db"
    assert Path(reported["platformdirs"]) / "tracking.db" == expected
    assert Path(reported["used"]) == expected
    assert expected.is_file()
    assert "runs" in table_names(expected)


def test_default_location_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An SDK made without a path uses platformdirs.user_data_dir("sapdi-local")/tracking.db."""
    for name, value in home_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    expected = Path(platformdirs.user_data_dir("sapdi-local", appauthor=False)) / "tracking.db"
    assert expected == tmp_path / "xdg-data" / "sapdi-local" / "tracking.db"
    assert MLTrackingSDK(**CONTEXT).db_path == expected  # type: ignore[arg-type]


def test_env_variable_chooses_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_sdk: Callable[..., MLTrackingSDK]
) -> None:
    """SAPDI_LOCAL_DB names the file the runs go to."""
    for name, value in home_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    chosen = tmp_path / "chosen" / "runs.db"
    monkeypatch.setenv("SAPDI_LOCAL_DB", str(chosen))
    instance = make_sdk()
    run = instance.start_run()
    instance.end_run()
    assert instance.db_path == chosen
    assert [r.id for r in MLTrackingSDK(db_path=chosen).get_runs(run=run)] == [run.id]
    assert not (tmp_path / "xdg-data" / "sapdi-local" / "tracking.db").exists()


def test_db_path_argument_beats_env_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_sdk: Callable[..., MLTrackingSDK]
) -> None:
    """MLTrackingSDK(db_path=...) wins over SAPDI_LOCAL_DB."""
    from_env = tmp_path / "from-env.db"
    from_argument = tmp_path / "from-argument.db"
    monkeypatch.setenv("SAPDI_LOCAL_DB", str(from_env))
    instance = make_sdk(from_argument)
    instance.start_run()
    instance.end_run()
    assert instance.db_path == from_argument
    assert from_argument.is_file()
    assert not from_env.exists()


def test_path_is_resolved_when_first_used_not_at_import(tmp_path: Path) -> None:
    """SAPDI_LOCAL_DB set after `import sapdi_local.tracking` still decides where runs go."""
    env = home_env(tmp_path)
    late = tmp_path / "set-late.db"
    env["LATE_DB"] = str(late)
    result = run_python(
        """
        import os
        import sapdi_local.tracking as tracking
        os.environ["SAPDI_LOCAL_DB"] = os.environ["LATE_DB"]
        run = tracking.start_run()
        tracking.end_run()
        print(run.id)
        """,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    run_id = result.stdout.strip()
    assert [r.id for r in MLTrackingSDK(db_path=late).get_runs(run=run_id)] == [run_id]
    assert not (tmp_path / "xdg-data" / "sapdi-local" / "tracking.db").exists()


# ---------------------------------------------------------------- what is in the file


def test_file_is_wal_versioned_and_readable_with_plain_sql(
    sdk: MLTrackingSDK, db_path: Path
) -> None:
    """The file is in WAL mode, has our user_version and tables, and plain SQL reads the values."""
    run = sdk.start_run(run_collection_name="rc", run_name="plain")
    sdk.log_parameters({"lr": 0.5})
    for value in (0.25, 0.5, 0.75):
        sdk.log_metric("accuracy", value)
    sdk.end_run()

    with sqlite3.connect(db_path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        rows = connection.execute(
            "SELECT runs.id, runs.name, runs.status, metrics.name, metrics.value "
            "FROM runs JOIN metrics ON metrics.run_key = runs.key ORDER BY metrics.seq"
        ).fetchall()
        latest = connection.execute(
            "SELECT latest_metrics.value FROM latest_metrics "
            "JOIN runs ON runs.key = latest_metrics.run_key WHERE runs.id = ?",
            (run.id,),
        ).fetchall()
        parameters = connection.execute(
            "SELECT parameters.name, parameters.value FROM parameters "
            "JOIN runs ON runs.key = parameters.run_key WHERE runs.id = ?",
            (run.id,),
        ).fetchall()
    assert table_names(db_path) >= OUR_TABLES
    assert rows == [(run.id, "plain", "FINISHED", "accuracy", v) for v in (0.25, 0.5, 0.75)]
    assert latest == [(0.75,)]
    assert parameters == [("lr", "0.5")]


def test_files_are_private_and_missing_folders_are_made(tmp_path: Path) -> None:
    """Database, lock and WAL files get mode 0600 (even with umask 0); missing folders are made."""
    path = tmp_path / "not" / "yet" / "there" / "tracking.db"
    result = run_python(
        """
        import json, os
        os.umask(0)  # without an explicit mode, files would be world-readable now
        from sapdi_local import tracking
        tracking.start_run()
        tracking.log_metric("loss", 1.0)
        tracking.end_run()
        db = os.environ["SAPDI_LOCAL_DB"]
        modes = {}
        for suffix in ("", ".lock", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                modes[suffix] = os.stat(db + suffix).st_mode & 0o777
        print(json.dumps(modes))
        """,
        env={"SAPDI_LOCAL_DB": str(path), "SAPDI_SCENARIO": "modes", "SAPDI_PIPELINE": "p.py"},
        cwd=tmp_path,
        timeout=60,
    )
    modes = json.loads(result.stdout)
    assert modes.get("") == 0o600
    assert modes.get(".lock") == 0o600
    for sidecar in ("-wal", "-shm"):  # the WAL holds logged values too
        assert modes.get(sidecar, 0o600) == 0o600
    assert path.parent.is_dir()
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(path.with_name("tracking.db.lock")).st_mode & 0o777 == 0o600


# ---------------------------------------------------------------- versions and migrations


def test_newer_schema_is_refused_and_left_alone(
    tmp_path: Path, make_sdk: Callable[..., MLTrackingSDK]
) -> None:
    """A newer user_version gives SchemaVersionError naming the file; nothing in it changes."""
    path = tmp_path / "newer.db"
    make_full_database(make_sdk, path, metrics=1)
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    before = digest(path)

    reader = make_sdk(path)
    for attempt in (lambda: reader.get_runs(scenario=CONTEXT["scenario"]), reader.start_run):
        with pytest.raises(SchemaVersionError) as info:
            attempt()
        assert isinstance(info.value, StorageError)
        assert isinstance(info.value, TrackingError)
        assert str(path) in str(info.value)
        assert "upgrade" in str(info.value)
    reader.close()
    assert digest(path) == before
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
    connection.close()


def _empty_sqlite(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE scratch (x)")  # forces a real header onto the disk
    connection.execute("DROP TABLE scratch")
    connection.execute("PRAGMA user_version = 0")
    connection.commit()
    connection.close()


@pytest.mark.parametrize(
    "prepare",
    [_empty_sqlite, lambda path: path.write_bytes(b"")],
    ids=["empty-sqlite-version-0", "zero-byte-file"],
)
def test_old_empty_file_is_migrated_in_place(
    tmp_path: Path, make_sdk: Callable[..., MLTrackingSDK], prepare: Callable[[Path], None]
) -> None:
    """An existing file with user_version 0 and no tables is migrated on open and then works."""
    path = tmp_path / "old.db"
    prepare(path)
    assert path.is_file() and not table_names(path)
    instance = make_sdk(path)
    run = instance.start_run()
    instance.log_metric("loss", 0.5)
    instance.end_run()
    [stored] = instance.get_runs(run=run)
    assert stored.metrics == {"loss": 0.5}
    assert OUR_TABLES | {"_sqlite_migrations"} <= table_names(path)
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        applied = connection.execute(
            "SELECT migration_set, name FROM _sqlite_migrations"
        ).fetchall()
    connection.close()
    assert ("sapdi-local", "0001_initial") in applied


def test_sqlite_file_of_another_application_is_refused(
    tmp_path: Path, make_sdk: Callable[..., MLTrackingSDK]
) -> None:
    """An SQLite file with someone else's tables gives StorageError naming it; it is untouched."""
    path = tmp_path / "customers.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        connection.execute("INSERT INTO customers (name) VALUES ('Ada')")
    connection.close()
    before = digest(path)
    instance = make_sdk(path)
    with pytest.raises(StorageError) as info:
        instance.start_run()
    assert str(path) in str(info.value)
    assert not isinstance(info.value, sqlite3.Error)
    assert digest(path) == before
    assert table_names(path) == {"customers"}


@pytest.mark.parametrize(
    "content",
    [
        random.Random(7).randbytes(8192),
        b"name,value\naccuracy,0.9\n" * 200,
        b"hello\n",
    ],
    ids=["random-bytes", "csv-text", "short-text"],
)
@pytest.mark.parametrize("operation", ["start_run", "get_runs"])
def test_file_that_is_not_sqlite_gives_storage_error(
    tmp_path: Path, make_sdk: Callable[..., MLTrackingSDK], content: bytes, operation: str
) -> None:
    """A non-SQLite file gives StorageError naming it (never a raw sqlite3 error); it is kept."""
    path = tmp_path / "not-a-database.db"
    path.write_bytes(content)
    instance = make_sdk(path)
    with pytest.raises(StorageError) as info:
        if operation == "start_run":
            instance.start_run()
        else:
            instance.get_runs(scenario=CONTEXT["scenario"])
    assert not isinstance(info.value, sqlite3.Error)
    assert str(path) in str(info.value)
    assert path.read_bytes() == content


def test_truncated_database_gives_storage_error(
    tmp_path: Path, make_sdk: Callable[..., MLTrackingSDK]
) -> None:
    """A real database cut in half gives StorageError naming it on every call."""
    original = tmp_path / "full.db"
    run_id = make_full_database(make_sdk, original)
    damaged = tmp_path / "truncated.db"
    data = original.read_bytes()
    damaged.write_bytes(data[: len(data) // 2])
    instance = make_sdk(damaged)
    attempts: list[Callable[[], object]] = [
        lambda: instance.get_runs(scenario=CONTEXT["scenario"]),
        lambda: instance.get_metrics_history(run=run_id),
        instance.start_run,
    ]
    for attempt in attempts:
        with pytest.raises(StorageError) as info:
            attempt()
        assert not isinstance(info.value, sqlite3.Error)
        assert str(damaged) in str(info.value)


def test_damaged_pages_give_storage_error_on_reads(
    tmp_path: Path, make_sdk: Callable[..., MLTrackingSDK]
) -> None:
    """A database with overwritten pages gives StorageError on reads, never sqlite3 errors."""
    original = tmp_path / "full.db"
    run_id = make_full_database(make_sdk, original)
    data = bytearray(original.read_bytes())
    half = len(data) // 2 // 4096 * 4096
    data[half:] = b"\xa5" * (len(data) - half)  # same length: only the content is damaged
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(bytes(data))
    instance = make_sdk(damaged)
    outcomes = []
    for attempt in (
        lambda: instance.get_runs(scenario=CONTEXT["scenario"]),
        lambda: instance.get_metrics_history(run=run_id),
    ):
        try:
            attempt()
        except StorageError as error:
            assert str(damaged) in str(error)
            outcomes.append("StorageError")
        else:
            outcomes.append("ok")
    # The metric pages are gone, so at least the history cannot be read.
    assert "StorageError" in outcomes


@pytest.mark.parametrize(
    "relative",
    ["file.txt/sub/tracking.db", "file.txt/tracking.db"],
    ids=["under-a-file", "file-as-folder"],
)
def test_folder_that_cannot_be_made_gives_storage_error(
    tmp_path: Path, make_sdk: Callable[..., MLTrackingSDK], relative: str
) -> None:
    """A database path below a regular file gives StorageError naming the folder."""
    (tmp_path / "file.txt").write_text("not a folder\n")
    path = tmp_path / relative
    instance = make_sdk(path)
    with pytest.raises(StorageError) as info:
        instance.start_run()
    assert str(path.parent) in str(info.value)
    assert (tmp_path / "file.txt").read_text() == "not a folder\n"


# ---------------------------------------------------------------- sharing one file


def test_the_db_file_alone_holds_everything_after_end_run(
    sdk: MLTrackingSDK, db_path: Path, tmp_path: Path
) -> None:
    """Copying only the .db file right after end_run() gives every logged value back."""
    run = sdk.start_run(run_collection_name="shared", run_name="to-share")
    sdk.log_parameters({"lr": 0.01, "optimizer": "adam"})
    sdk.set_tags({"dataset": "v2"})
    sdk.set_labels({"accuracy": {"format_string": "percentage"}})
    for step in range(5):
        sdk.log_metric("loss", 1.0 / (step + 1), step=step, timestamp=1_700_000_000.0 + step)
    sdk.log_metric("accuracy", 0.93)
    sdk.end_run()

    # The program is still running (a notebook kernel, say): the user shares the file now.
    copy = tmp_path / "shared" / "copy.db"
    copy.parent.mkdir()
    shutil.copyfile(db_path, copy)
    assert not copy.with_name("copy.db-wal").exists()

    [original] = sdk.get_runs(run=run)
    reader = MLTrackingSDK(db_path=copy)
    try:
        [shared] = reader.get_runs(run=run)
        assert shared.to_dict() == original.to_dict()
        assert shared.name == "to-share" and shared.collection == "shared"
        assert shared.status == "FINISHED"
        assert shared.parameters["lr"] == "0.01" and shared.parameters["optimizer"] == "adam"
        assert shared.tags["dataset"] == "v2"
        assert shared.labels == {"accuracy": {"format_string": "percentage"}}
        assert shared.metrics == {"loss": 0.2, "accuracy": 0.93}
        assert reader.get_metrics_history(run=run) == sdk.get_metrics_history(run=run)
        [loss] = reader.get_metrics_history(run=run, metrics="loss")
        assert [(v.value, v.step, v.timestamp) for v in loss.values] == [
            (1.0 / (step + 1), step, 1_700_000_000.0 + step) for step in range(5)
        ]
    finally:
        reader.close()


# ---------------------------------------------------------------- failures keep the cache


class LockIsAFolder:
    """The lock file's path is taken by a folder: opening it fails, even for root."""

    def __init__(self, db_path: Path) -> None:
        self.lock = db_path.with_name(db_path.name + ".lock")

    def break_(self) -> None:
        if self.lock.exists():
            self.lock.unlink()
        self.lock.mkdir()

    def repair(self) -> None:
        self.lock.rmdir()


class LockHeldByAnotherProcess:
    """Another process holds the write lock and does not let go until told to."""

    def __init__(self, db_path: Path) -> None:
        self.lock = db_path.with_name(db_path.name + ".lock")
        self.holder: subprocess.Popen[str] | None = None

    def break_(self) -> None:
        self.holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from filelock import FileLock; lock = FileLock(sys.argv[1]); "
                "lock.acquire(); print('locked', flush=True); sys.stdin.read()",
                str(self.lock),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.holder.stdout is not None
        assert self.holder.stdout.readline().strip() == "locked"

    def repair(self) -> None:
        assert self.holder is not None and self.holder.stdin is not None
        self.holder.stdin.close()
        assert self.holder.wait(timeout=30) == 0


@pytest.mark.parametrize("fault", [LockIsAFolder, LockHeldByAnotherProcess])
def test_failed_persist_keeps_the_cache_until_the_store_is_repaired(
    db_path: Path, make_sdk: Callable[..., MLTrackingSDK], fault: type
) -> None:
    """persist_run/end_run raise StorageError on a broken store; a later persist writes all."""
    instance = make_sdk(db_path, lock_timeout=0.3)
    run = instance.start_run(run_collection_name="rc", run_name="kept")
    instance.log_parameters({"lr": 0.1})
    instance.set_tags({"team": "a"})
    instance.set_labels({"loss": {"unit": "nats"}})
    instance.log_metric("loss", 1.0)
    instance.log_metric("loss", 2.0)

    breaker = fault(db_path)
    breaker.break_()
    try:
        with pytest.raises(StorageError):
            instance.persist_run()
        instance.log_metric("loss", 3.0)
        with pytest.raises(StorageError):
            instance.end_run()
        assert instance.active_run is None
        # Nothing reached the file yet: plain SQL sees the bare, running run.
        with sqlite3.connect(db_path) as connection:
            assert connection.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == 0
            assert connection.execute("SELECT COUNT(*) FROM parameters").fetchone()[0] == 0
            assert connection.execute("SELECT status FROM runs").fetchall() == [("RUNNING",)]
        connection.close()
    finally:
        breaker.repair()

    instance.persist_run()
    reader = make_sdk(db_path)
    [stored] = reader.get_runs(run=run)
    assert stored.status == "FINISHED"
    assert stored.end_time is not None
    assert stored.parameters["lr"] == "0.1"
    assert stored.tags["team"] == "a"
    assert stored.labels == {"loss": {"unit": "nats"}}
    [loss] = reader.get_metrics_history(run=run, metrics="loss")
    assert [v.value for v in loss.values] == [1.0, 2.0, 3.0]
    assert not instance.has_pending()


def test_a_version_1_database_is_migrated_in_place_and_keeps_its_data(tmp_path: Path) -> None:
    """A file at schema version 1 (metrics in a rowid table with an index) opens, is
    migrated to the current version, and every value logged before is still there."""
    from sapdi_local.store import apply_migrations

    path = tmp_path / "v1.db"
    database = sqlite3.connect(path, isolation_level=None)
    database.execute("BEGIN")
    apply_migrations(database, up_to=1)
    database.execute(
        "INSERT INTO runs (key, id, name, collection, collection_is_default, scenario, "
        "scenario_version, pipeline, execution, status, start_time, end_time) VALUES "
        "(1, 'old-run', 'old', 'train.py', 1, 's', 'v', 'train.py', 'e', 'FINISHED', 1.0, 2.0)"
    )
    database.executemany(
        "INSERT INTO metrics (run_key, name, seq, step, timestamp, value) "
        "VALUES (1, 'loss', ?, ?, ?, ?)",
        [(seq, seq, 1000.0 + seq, 1.0 / seq) for seq in range(1, 11)],
    )
    database.execute(
        "INSERT INTO latest_metrics (run_key, name, seq, step, timestamp, value) "
        "VALUES (1, 'loss', 10, 10, 1010.0, 0.1)"
    )
    database.execute("COMMIT")
    assert database.execute("PRAGMA user_version").fetchone()[0] == 1
    database.close()

    sdk = MLTrackingSDK(db_path=path, **CONTEXT)
    [history] = sdk.get_metrics_history(run="old-run")
    assert [v.value for v in history.values] == [1.0 / seq for seq in range(1, 11)]
    assert sdk.get_runs(run="old-run")[0].metrics == {"loss": 0.1}
    sdk.log_metric("loss", 0.05, run="old-run")
    sdk.persist_run()
    sdk.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        table = connection.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'metrics'"
        ).fetchone()
        assert "WITHOUT ROWID" in table[0]
        assert connection.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == 11
