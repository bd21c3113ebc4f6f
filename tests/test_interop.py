"""Moving runs: import from MLflow (its SQLite file written by MLflow itself, and a real
`mlflow server`) and from trackio (a database trackio wrote), and push to a real MLflow
tracking server, killed halfway once. No mocks: every store is written by its own library."""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import suppress
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from sapdi_local import MLTrackingSDK
from sapdi_local.cli import main
from sapdi_local.store import ReadOnlyStore, RunFilter

FIXTURES = Path(__file__).parent / "fixtures"
T0 = 1_795_000_000_000  # ms
SERVER_START_TIMEOUT = 90


def invoke(*arguments: str) -> Result:
    return CliRunner().invoke(main, list(arguments))


def parsed(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def stored(db: Path) -> dict[str, dict[str, Any]]:
    """Every run of a database: its row, parameters, tags and (seq, value, step, timestamp)
    histories, read back through the store."""
    store = ReadOnlyStore(db)
    try:
        runs = {}
        for record in store.select_runs(RunFilter()):
            run_id = record.row["id"]
            runs[run_id] = {
                "row": {k: v for k, v in record.row.items() if k != "key"},
                "parameters": dict(record.parameters),
                "tags": dict(record.tags),
                "labels": dict(record.labels),
                "metrics": store.metric_values_after(run_id, {}),
            }
        return runs
    finally:
        store.close()


# ---------------------------------------------------------------- an MLflow store


def write_mlflow_store(path: Path) -> dict[str, Any]:
    """An MLflow SQLite store written by MLflow's own client: two experiments, runs of
    every status, a deleted run, a NaN value, a 5500-character parameter, a reserved
    parameter name and a 1500-value history."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    client = MlflowClient(tracking_uri=f"sqlite:///{path}")
    a = client.create_experiment("exp-a")
    b = client.create_experiment("exp-b")
    ids: dict[str, str] = {}
    main_run = client.create_run(
        a,
        start_time=T0,
        run_name="long-history",
        tags={"team": "vision", "mlflow.source.git.commit": "0123456789abcdef0123"},
    ).info.run_id
    ids["long-history"] = main_run
    client.log_batch(
        main_run,
        params=[Param("lr", "0.01"), Param("long", "x" * 5500), Param("start", "early")],
    )
    for first in range(0, 1500, 500):
        client.log_batch(
            main_run,
            metrics=[
                Metric("loss", 1.0 / (i + 1), T0 + 10 * i, i) for i in range(first, first + 500)
            ],
        )
    client.log_batch(
        main_run,
        metrics=[
            Metric("acc", 0.5, T0 + 1, 0),
            Metric("acc", float("nan"), T0 + 2, 1),
            Metric("acc", 0.75, T0 + 3, 2),
            Metric("acc", 0.8, T0 + 3, 3),  # same timestamp, next step
        ],
    )
    client.set_terminated(main_run, "FINISHED", end_time=T0 + 60_000)
    for status in ("FAILED", "KILLED", "RUNNING"):
        run_id = client.create_run(b, start_time=T0 + 1000, run_name=f"run-{status}").info.run_id
        ids[f"run-{status}"] = run_id
        client.log_param(run_id, "status_was", status)
        client.log_metric(run_id, "score", 1.5, timestamp=T0 + 1500, step=3)
        if status != "RUNNING":
            client.set_terminated(run_id, status, end_time=T0 + 2000)
    deleted = client.create_run(a, run_name="deleted").info.run_id
    client.delete_run(deleted)
    return {"ids": ids, "deleted": deleted, "uri": f"sqlite:///{path}"}


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    return path, write_mlflow_store(path)


def mlflow_truth(uri: str) -> dict[str, dict[str, Any]]:
    """What MLflow's own client reads from a store, run by run."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_uri=uri)
    truth = {}
    for experiment in client.search_experiments():
        for run in client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL):
            truth[run.info.run_id] = {
                "experiment": experiment.name,
                "info": run.info,
                "params": dict(run.data.params),
                "tags": dict(run.data.tags),
                "metrics": {
                    key: [
                        (m.value, m.step, m.timestamp)
                        for m in client.get_metric_history(run.info.run_id, key)
                    ]
                    for key in run.data.metrics
                },
            }
    return truth


def assert_matches_mlflow(ours: dict[str, dict[str, Any]], truth: dict[str, Any]) -> None:
    """Every run MLflow holds (but deleted ones) is ours, value for value, with only what
    our rules refuse left out."""
    statuses = {"FINISHED": "FINISHED", "FAILED": "FAILED", "KILLED": "TERMINATED"}
    statuses["RUNNING"] = "RUNNING"
    active = {k: v for k, v in truth.items() if v["info"].lifecycle_stage == "active"}
    assert set(ours) == set(active)
    for run_id, source in active.items():
        run = ours[run_id]
        info = source["info"]
        assert run["row"]["name"] == info.run_name
        assert run["row"]["collection"] == run["row"]["scenario"] == source["experiment"]
        assert run["row"]["status"] == statuses[info.status]
        assert run["row"]["start_time"] == info.start_time / 1000
        assert run["row"]["end_time"] == (info.end_time and info.end_time / 1000)
        expected_params = {
            k: v for k, v in source["params"].items() if len(v) <= 5000 and k not in ("start",)
        }
        assert run["parameters"] == expected_params
        assert run["tags"] == source["tags"]  # mlflow.* system tags included
        for key, values in source["metrics"].items():
            finite = sorted(
                ((t, s, v) for v, s, t in values if not math.isnan(v)),
            )
            kept = finite[-1000:]
            first = len(finite) - len(kept) + 1
            assert run["metrics"][key] == [
                (seq, v, s, t / 1000) for seq, (t, s, v) in enumerate(kept, start=first)
            ]
        assert set(run["metrics"]) == set(source["metrics"])


def test_import_mlflow_file_keeps_every_value_and_twice_adds_nothing(
    mlflow_store: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """An MLflow SQLite file, given as a path and as sqlite:///: every active run comes in
    with MLflow's run id, name, status (KILLED as TERMINATED), times, parameters, tags
    (system tags too) and metric histories trimmed to the latest 1000; the NaN value, the
    5500-character parameter and the reserved parameter name are reported, not stored; a
    second import (by the other spelling of the source) adds nothing."""
    path, made = mlflow_store
    db = tmp_path / "tracking.db"
    first = parsed(invoke("import", "mlflow", str(path), "--db", str(db), "--json"))
    assert sorted(first["added"]) == sorted(made["ids"].values())
    assert first["non_finite_values_skipped"] == 1
    assert first["values_beyond_window"] == 500
    assert first["deleted_runs_left_out"] == 1
    skipped = {(item["kind"], item["name"]) for item in first["skipped"]}
    assert skipped == {("parameter", "long"), ("parameter", "start")}
    ours = stored(db)
    assert_matches_mlflow(ours, mlflow_truth(made["uri"]))
    main_run = ours[made["ids"]["long-history"]]
    assert main_run["row"]["scenario_version"] == "0123456789ab"
    assert [seq for seq, *_ in main_run["metrics"]["loss"]][:2] == [501, 502]
    assert main_run["metrics"]["acc"] == [
        (1, 0.5, 0, (T0 + 1) / 1000),
        (2, 0.75, 2, (T0 + 3) / 1000),
        (3, 0.8, 3, (T0 + 3) / 1000),
    ]
    second = parsed(invoke("import", "mlflow", made["uri"], "--db", str(db), "--json"))
    assert second["added"] == [] and second["conflicts"] == []
    assert sorted(second["unchanged"]) == sorted(made["ids"].values())
    assert stored(db) == ours
    # The history goes on from the imported steps.
    sdk = MLTrackingSDK(db_path=db)
    sdk.log_metric("loss", 0.0001, run=made["ids"]["long-history"])
    sdk.persist_run()
    [history] = sdk.get_metrics_history(run=made["ids"]["long-history"], metrics="loss")
    assert history.values[-1].step == 1500
    sdk.close()


def test_import_mlflow_conflict_is_reported_and_replace_takes_the_source(
    tmp_path: Path,
) -> None:
    """A run that grew in MLflow after it was imported is a conflict on the next import,
    left as it is here; --replace takes the source's content."""
    from mlflow import MlflowClient

    path = tmp_path / "mlflow.db"
    made = write_mlflow_store(path)
    db = tmp_path / "tracking.db"
    parsed(invoke("import", "mlflow", str(path), "--db", str(db), "--json"))
    before = stored(db)
    grown = made["ids"]["run-RUNNING"]
    MlflowClient(tracking_uri=made["uri"]).log_metric(grown, "score", 2.5, T0 + 1600, 4)
    again = parsed(invoke("import", "mlflow", str(path), "--db", str(db), "--json"))
    assert again["conflicts"] == [grown] and again["added"] == []
    assert stored(db) == before
    replaced = parsed(invoke("import", "mlflow", str(path), "--db", str(db), "--replace", "--json"))
    assert replaced["replaced"] == [grown]
    assert_matches_mlflow(stored(db), mlflow_truth(made["uri"]))


def test_import_refuses_files_that_are_not_mlflow_or_trackio(tmp_path: Path) -> None:
    """A missing file, or an SQLite file of another kind, is a one-line error naming it."""
    nothing = str(tmp_path / "nothing.db")
    missing = invoke("import", "mlflow", nothing, "--db", str(tmp_path / "t.db"))
    assert missing.exit_code == 2
    assert f"{nothing} does not exist" in missing.output
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE things (x)").connection.close()
    for kind in ("mlflow", "trackio"):
        result = invoke("import", kind, str(other), "--db", str(tmp_path / "t.db"))
        assert result.exit_code == 2
        assert "other.db is not" in result.output


# ---------------------------------------------------------------- a real MLflow server


# The port uvicorn bound, which it prints once listening (asked for port 0: any free one).
LISTENING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


class Server:
    """`mlflow server` on a loopback port it picks itself (port 0, read back from its log: a
    port probed free here could be taken before the server binds it), in its own process
    group."""

    def __init__(self, backend: Path, folder: Path) -> None:
        self.port = 0
        self.log = (folder / "server.log").open("w")
        artifacts = folder / "artifacts"
        artifacts.mkdir(exist_ok=True)
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{backend}"}
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "mlflow", "server",
                "--host", "127.0.0.1", "--port", "0",
                "--backend-store-uri", f"sqlite:///{backend}",
                "--default-artifact-root", str(artifacts),
                "--workers", "1",
            ],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if not self.port:
                listening = LISTENING.search(Path(self.log.name).read_text(errors="replace"))
                self.port = int(listening.group(1)) if listening else 0
            if self.port:
                try:
                    with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                        if answer.status == 200:
                            return
                except OSError:
                    pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(
                    f"mlflow server did not start within {SERVER_START_TIMEOUT} s: {self.log.name}"
                )
            time.sleep(0.5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        with_group = [signal.SIGTERM, signal.SIGKILL]
        for sig in with_group:
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue
        self.log.close()


def test_import_from_a_running_server_matches_the_file_import(
    mlflow_store: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """`import mlflow http://...` reads a real server (on a copy of the same store) through
    MLflow's client and stores exactly what the file import stores; twice adds nothing."""
    path, made = mlflow_store
    backend = tmp_path / "served.db"
    shutil.copyfile(path, backend)
    server = Server(backend, tmp_path)
    try:
        from_server = tmp_path / "from-server.db"
        report = parsed(invoke("import", "mlflow", server.url, "--db", str(from_server), "--json"))
        assert sorted(report["added"]) == sorted(made["ids"].values())
        assert report["non_finite_values_skipped"] == 1
        again = parsed(invoke("import", "mlflow", server.url, "--db", str(from_server), "--json"))
        assert again["added"] == [] and len(again["unchanged"]) == len(made["ids"])
        # Pushed back to the server they came from, the runs are found by their own ids and
        # brought up to date: no copy is made and no value is sent twice.
        client = mlflow_client(server.url)
        before = server_histories(client, list(made["ids"].values()))
        pushed = parsed(invoke("push", "mlflow", server.url, "--db", str(from_server), "--json"))
        assert pushed["created"] == [] and pushed["recovered"] == []
        assert sorted(pushed["found_by_id"]) == sorted(made["ids"].values())
        assert pushed["values_sent"] == 0
        assert server_histories(client, list(made["ids"].values())) == before
        assert len(client.search_runs(
            [e.experiment_id for e in client.search_experiments()], max_results=1000
        )) == len(made["ids"])  # fmt: skip
    finally:
        server.stop()
    from_file = tmp_path / "from-file.db"
    parsed(invoke("import", "mlflow", str(path), "--db", str(from_file), "--json"))
    assert stored(from_server) == stored(from_file)


def mlflow_client(url: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=url)


def server_histories(client: Any, run_ids: list[str]) -> dict[str, dict[str, list[Any]]]:
    """Every metric value of the given runs on the server, as (step, timestamp, value)."""
    histories: dict[str, dict[str, list[Any]]] = {}
    for run_id in run_ids:
        metrics = client.get_run(run_id).data.metrics
        histories[run_id] = {
            name: sorted(
                (m.step, m.timestamp, repr(m.value))
                for m in client.get_metric_history(run_id, name)
            )
            for name in metrics
        }
    return histories


# ---------------------------------------------------------------- trackio


def trackio_expectations(expected: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per run name: parameters, tags and finite numeric histories (step, value) as the
    fixture script logged them."""
    runs = {}
    for spec in expected["runs"]:
        histories: dict[str, list[tuple[int, float]]] = {}
        step = -1
        for call in spec["logged"]:
            step = step + 1 if call["step"] is None else call["step"]
            for name, value in call["metrics"].items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    histories.setdefault(name, []).append((step, float(value)))
        params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in spec["config"].items()}
        runs[spec["name"]] = {
            "parameters": params,
            "collection": spec["group"] or expected["project"],
            "metrics": histories,
        }
    return runs


def check_trackio_import(database: Path, expected: dict[str, Any], tmp_path: Path) -> None:
    db = tmp_path / "tracking.db"
    report = parsed(invoke("import", "trackio", str(database), "--db", str(db), "--json"))
    assert len(report["added"]) == len(expected["runs"])
    assert report["non_finite_values_skipped"] == 2  # NaN and Infinity
    assert report["non_numeric_values_skipped"] == 2  # a text and a bool
    assert report["values_beyond_window"] == 201
    wanted = trackio_expectations(expected)
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as source:
        trackio_ids = dict(source.execute("SELECT run_name, run_id FROM configs"))
        created = dict(
            source.execute("SELECT run_name, json_extract(config, '$._Created') FROM configs")
        )
        stamps = {
            (name, step): stamp
            for name, step, stamp in source.execute("SELECT run_name, step, timestamp FROM metrics")
        }
    source.close()
    ours = {run["row"]["name"]: run for run in stored(db).values()}
    assert set(ours) == set(wanted)
    from datetime import datetime

    for name, want in wanted.items():
        run = ours[name]
        assert run["row"]["id"] == trackio_ids[name]
        assert run["row"]["scenario"] == expected["project"]
        assert run["row"]["collection"] == want["collection"]
        assert run["row"]["status"] == "FINISHED"
        assert run["row"]["start_time"] == datetime.fromisoformat(created[name]).timestamp()
        assert run["parameters"] == want["parameters"]
        assert run["tags"]["_Created"] == created[name]
        assert set(run["metrics"]) == set(want["metrics"])
        for metric, values in want["metrics"].items():
            kept = values[-1000:]
            first = len(values) - len(kept) + 1
            assert run["metrics"][metric] == [
                (seq, value, step, datetime.fromisoformat(stamps[(name, step)]).timestamp())
                for seq, (step, value) in enumerate(kept, start=first)
            ]
    again = parsed(invoke("import", "trackio", str(database), "--db", str(db), "--json"))
    assert again["added"] == [] and len(again["unchanged"]) == len(expected["runs"])


def test_import_trackio_fixture_written_by_trackio(tmp_path: Path) -> None:
    """The database trackio 0.43 wrote (tests/fixtures/trackio/demo.db, made by
    tests/fixtures/make_trackio_database.py) comes in
    whole: trackio's run ids, project as scenario, group as collection, config as
    parameters (its _ keys as tags), every numeric value with its step and time, the latest
    1000 per metric; NaN, infinity, text and bool values are counted, not stored; a second
    import adds nothing."""
    expected = json.loads((FIXTURES / "trackio" / "demo.expected.json").read_text())
    # A copy: the file is in WAL mode, and reading it makes -wal and -shm files beside it.
    (tmp_path / "trackio").mkdir()
    shutil.copyfile(FIXTURES / "trackio" / "demo.db", tmp_path / "trackio" / "demo.db")
    check_trackio_import(tmp_path / "trackio" / "demo.db", expected, tmp_path)


def test_import_trackio_fresh_database_when_trackio_is_installed(tmp_path: Path) -> None:
    """With trackio importable here, the fixture script writes a new database with it and
    that one imports the same way (so a newer trackio is checked too)."""
    pytest.importorskip("trackio")
    subprocess.run(
        [sys.executable, str(FIXTURES / "make_trackio_database.py"), str(tmp_path / "made")],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    expected = json.loads((tmp_path / "made" / "demo.expected.json").read_text())
    check_trackio_import(tmp_path / "made" / "demo.db", expected, tmp_path)


def test_import_mlflow_server_without_mlflow_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without MLflow installed, importing from a server or pushing says which extra to
    install; an MLflow file still imports (it needs no MLflow)."""
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    db = tmp_path / "t.db"
    for arguments in (
        ("import", "mlflow", "http://127.0.0.1:1"),
        ("push", "mlflow", "http://127.0.0.1:1"),
    ):
        result = invoke(*arguments, "--db", str(db))
        assert result.exit_code == 2
        assert 'pip install "sapdi-local[mlflow]"' in result.output


# ---------------------------------------------------------------- push


class CountingProxy:
    """A pass-through HTTP proxy in front of the real server that counts, per metric
    key and run, the metric values the server accepted in log-batch requests: how often
    each value was sent.

    With ``hold_after`` set, once that many batches of values have gone through, every
    further request is held (``held`` is set) until ``released``, then dropped unanswered
    and never forwarded: a push killed meanwhile dies at a known point, between two runs'
    batches, however fast or slow the machine."""

    def __init__(self, upstream_port: int) -> None:
        self.values: Counter[tuple[str, str, int, int, float]] = Counter()
        self.requests: Counter[str] = Counter()
        self.active = 0
        self.value_batches = 0
        self.hold_after: int | None = None
        self.held = threading.Event()
        self.released = threading.Event()
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def forward(self) -> None:
                with lock:
                    proxy.active += 1
                    hold = proxy.hold_after is not None and proxy.value_batches >= proxy.hold_after
                try:
                    if hold:
                        proxy.held.set()
                        proxy.released.wait(timeout=600)
                        return
                    self.relay()
                finally:
                    with lock:
                        proxy.active -= 1

            def relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if len(body) < length:
                    return  # the client died mid-request: nothing reaches the server
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                with lock:
                    proxy.requests[self.path.split("?")[0]] += 1
                    if answer.status == 200 and self.path.endswith("/runs/log-batch"):
                        sent = json.loads(body)
                        proxy.value_batches += bool(sent.get("metrics"))
                        for m in sent.get("metrics", []):
                            proxy.values[
                                (sent["run_id"], m["key"], int(m["step"]), int(m["timestamp"]),
                                 float(m["value"]))
                            ] += 1  # fmt: skip
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with suppress(OSError):  # the push was killed while waiting for this answer
                    self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def release(self) -> None:
        """Stop holding: the held requests are dropped, the next ones forwarded."""
        self.hold_after = None
        self.released.set()

    def wait_idle(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.active and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def push_server(tmp_path: Path) -> Iterator[tuple[Server, CountingProxy]]:
    server = Server(tmp_path / "server.db", tmp_path)
    proxy = CountingProxy(server.port)
    try:
        yield server, proxy
    finally:
        proxy.release()
        proxy.close()
        server.stop()


RUNS = 50
VALUES = 1000


def fill_local(db: Path) -> list[str]:
    sdk = MLTrackingSDK(
        db_path=db, scenario="churn", scenario_version="v1", pipeline="train.py", execution="e1"
    )
    ids = []
    for index in range(RUNS):
        run = sdk.start_run(run_collection_name=f"sweep-{index % 3}", run_name=f"run-{index}")
        sdk.log_parameters({"lr": index / 100, "epochs": 10})
        sdk.set_tags({"dataset": f"v{index % 2}"})
        sdk.set_labels({"loss": {"format_string": ".3f"}})
        sdk.log_metrics(
            [
                {"name": "loss", "value": 1.0 / (i + 1 + index), "timestamp": 1.795e9 + i / 7}
                for i in range(VALUES)
            ]
        )
        sdk.end_run()
        ids.append(run.id)
    sdk.close()
    return ids


def pushed_runs(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        (done,) = connection.execute(
            "SELECT COUNT(*) FROM pushed_runs WHERE in_flight = 0"
        ).fetchone()
    connection.close()
    return int(done)


def push_command(db: Path, url: str) -> list[str]:
    return [sys.executable, "-m", "sapdi_local", "push", "mlflow", url, "--db", str(db), "--json"]


def assert_server_holds_each_value_once(db: Path, url: str, proxy: CountingProxy) -> None:
    """Read back through MLflow's client: each local run is on the server once (by its
    tag), with its name, status, parameters, tags, labels and every stored value exactly
    once with its step and timestamp; and the proxy saw each value sent exactly once."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url)
    [experiment] = [e for e in client.search_experiments() if e.name == "churn"]
    remote = {}
    for run in client.search_runs([experiment.experiment_id], max_results=1000):
        local_id = run.data.tags["sapdi_local.run_id"]
        assert local_id not in remote, f"run {local_id} is on the server twice"
        remote[local_id] = run
    ours = stored(db)
    assert set(remote) == set(ours)
    assert all(count == 1 for count in proxy.values.values()), "a value was sent twice"
    sent: dict[tuple[str, str], Counter[tuple[int, int, float]]] = {}
    for (remote_id, name, step, stamp, value), count in proxy.values.items():
        sent.setdefault((remote_id, name), Counter())[(step, stamp, value)] += count
    for run_id, local in ours.items():
        run = remote[run_id]
        assert run.info.run_name == local["row"]["name"]
        assert run.info.status == "FINISHED"
        # The end the push sends is the run's as the API shows it (a datetime, to the
        # microsecond), in milliseconds: computed the same way, a stored time whose
        # microseconds end in exactly half a millisecond rounds the same way too.
        shown_end = datetime.fromtimestamp(local["row"]["end_time"], timezone.utc)
        assert run.info.end_time == round(shown_end.timestamp() * 1000)
        assert run.data.params == local["parameters"]
        tags = {k: v for k, v in run.data.tags.items() if not k.startswith(("mlflow.", "sapdi_"))}
        assert tags == local["tags"]
        assert run.data.tags["sapdi_local.collection"] == local["row"]["collection"]
        assert json.loads(run.data.tags["sapdi_local.labels"]) == {
            k: json.loads(v) for k, v in local["labels"].items()
        }
        assert set(run.data.metrics) == set(local["metrics"])
        for name, values in local["metrics"].items():
            history = client.get_metric_history(run.info.run_id, name)
            there = Counter((m.step, m.timestamp, m.value) for m in history)
            # The server holds what was sent, each value once: every value stored here
            # (values the local window dropped after they were sent stay there).
            assert there == sent[(run.info.run_id, name)]
            assert all(count == 1 for count in there.values())
            assert set(there) >= {(s, round(t * 1000), v) for _, v, s, t in values}


@pytest.mark.slow
@pytest.mark.timeout(600)  # an MLflow server, three pushes: about 2 minutes here
def test_push_to_mlflow_server_killed_halfway_ends_with_each_run_once(
    tmp_path: Path, push_server: tuple[Server, CountingProxy]
) -> None:
    """50 runs with 1000-value histories pushed to a real `mlflow server` through a
    counting pass-through proxy; the push is SIGKILLed once after a quarter of the runs'
    values went through (the proxy holds its next request until then), then run again:
    every run is on the server once, every parameter, tag, label and value exactly once,
    and the proxy saw no value sent twice. Values added afterwards go up
    with the next push and nothing else does; lost records (a run created but not recorded,
    a batch sent but not recorded) are recovered from the server without doubling."""
    server, proxy = push_server
    db = tmp_path / "local.db"
    ids = fill_local(db)
    env = {**os.environ, "MLFLOW_TRACKING_URI": proxy.url}
    env.pop("SAPDI_LOCAL_DB", None)
    proxy.hold_after = RUNS // 4
    process = subprocess.Popen(
        push_command(db, proxy.url), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 300
    while not proxy.held.wait(timeout=0.1):
        assert process.poll() is None, (
            f"the push ended before its {RUNS // 4 + 1}th batch: {process.communicate()}"
        )
        assert time.monotonic() < deadline, f"no batch {RUNS // 4 + 1} within 300 s"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    proxy.release()
    proxy.wait_idle()  # the held request is dropped, never forwarded
    done_before = pushed_runs(db)
    assert 0 < done_before < RUNS
    sent_before = sum(proxy.values.values())

    finished = subprocess.run(
        push_command(db, proxy.url), env=env, capture_output=True, text=True, timeout=600
    )
    assert finished.returncode == 0, finished.stderr
    report = json.loads(finished.stdout)
    assert report["failed"] == [] and report["skipped"] == []
    assert sent_before + report["values_sent"] == RUNS * VALUES
    assert sum(proxy.values.values()) == RUNS * VALUES
    assert_server_holds_each_value_once(db, server.url, proxy)

    # New values in 10 runs: the next push sends those and nothing more.
    sdk = MLTrackingSDK(db_path=db)
    for run_id in ids[:10]:
        for i in range(200):
            sdk.log_metric("loss", 0.001 * i, run=run_id, timestamp=1.796e9 + i)
    sdk.persist_run()
    sdk.close()
    requests_before = sum(proxy.requests.values())
    again = parsed(invoke("push", "mlflow", proxy.url, "--db", str(db), "--json"))
    assert again["values_sent"] == 10 * 200
    assert again["created"] == [] and again["updated"] == []
    assert sum(proxy.values.values()) == RUNS * VALUES + 10 * 200
    # One log-batch per changed run, and (the experiment's lookup aside) no other request.
    assert sum(proxy.requests.values()) - requests_before <= 10 + 1
    assert_server_holds_each_value_once(db, server.url, proxy)

    # Records lost as by a kill at the worst moments: run A created on the server but not
    # recorded here; run B's last batch on the server but not recorded. Nothing doubles.
    a, b = ids[20], ids[30]
    with sqlite3.connect(db) as connection:
        key_a = connection.execute("SELECT key FROM runs WHERE id = ?", (a,)).fetchone()[0]
        key_b = connection.execute("SELECT key FROM runs WHERE id = ?", (b,)).fetchone()[0]
        connection.execute("DELETE FROM pushed_runs WHERE run_key = ?", (key_a,))
        connection.execute("DELETE FROM pushed_metrics WHERE run_key = ?", (key_a,))
        connection.execute("UPDATE pushed_runs SET in_flight = 1 WHERE run_key = ?", (key_b,))
        connection.execute(
            "UPDATE pushed_metrics SET seq = seq - 400, count = count - 400 WHERE run_key = ?",
            (key_b,),
        )
    connection.close()
    recovered = parsed(invoke("push", "mlflow", proxy.url, "--db", str(db), "--json"))
    assert recovered["recovered"] == [a] and recovered["created"] == []
    assert recovered["values_sent"] == 0
    assert recovered["values_already_there"] == VALUES + 400
    assert_server_holds_each_value_once(db, server.url, proxy)
