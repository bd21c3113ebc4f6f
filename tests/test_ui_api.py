"""The explorer's JSON API and HTTP layer, through an HTTP client on the WSGI application.

Every endpoint answers what the store holds (compared with the SDK's own reads), every
filter narrows as documented, bad input is a 4xx with a message and never a traceback,
and no request changes the database file.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import run_python

from sapdi_local import MLTrackingSDK, tracking
from sapdi_local.errors import MissingExtraError
from sapdi_local.store import APPLICATION_ID, SCHEMA_VERSION
from sapdi_local.ui import server as ui_server
from sapdi_local.ui.server import Explorer, is_loopback, plotly_script

ClientFor = Callable[..., httpx.Client]


@pytest.fixture
def client_for() -> Iterator[ClientFor]:
    """HTTP clients on an Explorer for a given file; closed with their apps afterwards."""
    made: list[tuple[httpx.Client, Explorer]] = []

    def make(path: Path, **options: Any) -> httpx.Client:
        app = Explorer(path, **options)
        client = httpx.Client(
            transport=httpx.WSGITransport(app=app), base_url="http://127.0.0.1:8600"
        )
        made.append((client, app))
        return client

    yield make
    for client, app in made:
        client.close()
        app.close()


@pytest.fixture
def filled(sdk_factory: Callable[..., MLTrackingSDK], db_path: Path) -> dict[str, str]:
    """Three runs in two scenarios: two collections of 'churn' (one a notebook's default)
    and one of 'forecast'; returns their ids by name."""
    ids: dict[str, str] = {}
    churn = sdk_factory(db_path=db_path, scenario="churn", notebook="explore.ipynb")
    for name, collection, lr, tag in (
        ("lr-small", "Logistic", "0.001", "v1"),
        ("lr-big", "Logistic", "0.1", "v2"),
        ("quick look", None, "0.01", "v2"),
    ):
        run = churn.start_run(run_collection_name=collection, run_name=name)
        churn.log_parameters({"learning_rate": lr})
        churn.set_tags({"dataset": tag})
        churn.set_labels({"accuracy": {"format_string": "percentage"}})
        for step in range(5):
            churn.log_metric("accuracy", 0.5 + step / 10 + float(lr), step=step)
        churn.log_metric("f1", 0.7)
        churn.end_run()
        ids[name] = run.id
    forecast = sdk_factory(db_path=db_path, scenario="forecast", pipeline="train.py")
    run = forecast.start_run(run_collection_name="LSTM", run_name="lstm")
    forecast.log_metric("mape", 12.5)
    forecast.end_run()
    ids["lstm"] = run.id
    return ids


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]["message"]
    assert response.json()["error"]["status"] == status
    assert "Traceback" not in response.text
    return str(message)


# ---------------------------------------------------------------- endpoints


def test_database_reports_path_schema_and_counts(
    client_for: ClientFor, db_path: Path, filled: dict[str, str]
) -> None:
    data = client_for(db_path).get("/api/database").json()
    assert data["path"] == str(db_path)
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["counts"] == {"scenarios": 2, "collections": 3, "runs": 4, "values": 19}
    wal = db_path.with_name(db_path.name + "-wal")
    assert data["bytes"] == db_path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    assert "KILLED" in data["statuses"]
    assert data["system_parameters"] == ["start", "end"]


def test_collections_are_grouped_by_scenario_with_default_marked(
    client_for: ClientFor, db_path: Path, filled: dict[str, str]
) -> None:
    scenarios = client_for(db_path).get("/api/collections").json()["scenarios"]
    assert [s["name"] for s in scenarios] == ["churn", "forecast"]
    churn = {c["name"]: c for c in scenarios[0]["collections"]}
    assert churn["Logistic"]["runs"] == 2
    assert churn["Logistic"]["display_name"] == "Logistic"
    assert churn["explore.ipynb"]["is_default"] is True
    assert churn["explore.ipynb"]["display_name"] == "explore.ipynb (Default)"
    assert scenarios[1]["collections"][0]["name"] == "LSTM"
    assert scenarios[1]["collections"][0]["last_start"].endswith("+00:00")


def test_runs_list_summaries_of_what_the_sdk_reads(
    client_for: ClientFor, db_path: Path, filled: dict[str, str]
) -> None:
    """Each listed run has what the SDK's get_runs says, without the system parameters
    (start, end) and tag (runName) that lists show as columns of their own."""
    data = client_for(db_path).get("/api/runs").json()
    with MLTrackingSDK(db_path=db_path) as reader:
        expected = reader.get_runs(run=list(filled.values()))
    assert data["total"] == 4
    for got, run in zip(data["runs"], expected, strict=True):
        assert got["id"] == run.id
        assert (got["name"], got["scenario"], got["collection"]) == (
            run.name,
            run.scenario,
            run.collection,
        )
        assert got["collection_is_default"] is run.collection_is_default
        assert got["status"] == run.status
        assert got["start_time"] == run.start_time.isoformat()
        assert got["end_time"] == run.end_time.isoformat()
        assert got["duration_seconds"] == pytest.approx(
            (run.end_time - run.start_time).total_seconds(), abs=1e-5
        )
        system = ("start", "end")
        assert got["parameters"] == {k: v for k, v in run.parameters.items() if k not in system}
        assert got["tags"] == {k: v for k, v in run.tags.items() if k != "runName"}
        assert got["labels"] == run.labels
        assert got["metrics"] == run.metrics


def test_a_run_whose_process_is_gone_is_listed_as_killed(
    client_for: ClientFor, db_path: Path
) -> None:
    run_python(
        f"""
        import os
        from sapdi_local import MLTrackingSDK
        sdk = MLTrackingSDK(db_path={str(db_path)!r}, scenario="s")
        sdk.start_run(run_collection_name="c")
        sdk.log_metric("loss", 1.0)
        sdk.persist_run()
        os._exit(0)  # no exit handlers: the run is left RUNNING in the file
        """
    )
    [run] = client_for(db_path).get("/api/runs").json()["runs"]
    assert run["status"] == "KILLED"
    assert client_for(db_path).get("/api/runs", params={"status": "KILLED"}).json()["total"] == 1


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({"scenario": "forecast"}, ["lstm"]),
        ({"collection": "Logistic"}, ["lr-big", "lr-small"]),
        ([("collection", "Logistic"), ("collection", "LSTM")], ["lstm", "lr-big", "lr-small"]),
        # a comma list, as the command line reads it
        ({"collection": "Logistic,LSTM"}, ["lstm", "lr-big", "lr-small"]),
        ({"scenario": "churn", "collection": "explore.ipynb"}, ["quick look"]),
        ({"tag": "dataset=v2"}, ["quick look", "lr-big"]),
        ({"tag": "dataset=v9"}, []),
        ({"q": "LR-"}, ["lr-big", "lr-small"]),  # case-insensitive
        ({"q": "k l"}, ["quick look"]),  # matched as typed, spaces included
        ({"q": "%"}, []),  # not a LIKE pattern
        ({"status": "FINISHED"}, ["lstm", "quick look", "lr-big", "lr-small"]),
        ({"status": "RUNNING"}, []),
    ],
)
def test_runs_filters(
    client_for: ClientFor,
    db_path: Path,
    filled: dict[str, str],
    query: Any,
    names: list[str],
) -> None:
    data = client_for(db_path).get("/api/runs", params=query).json()
    assert [run["name"] for run in data["runs"]] == names
    assert data["total"] == len(names)


@pytest.fixture
def sweep(sdk_factory: Callable[..., MLTrackingSDK], db_path: Path) -> list[str]:
    """Six runs in a collection whose name holds a comma: lr and depth parameters (one run
    without depth), an accuracy metric (one run without it), tags."""
    writer = sdk_factory(db_path=db_path, scenario="sweep")
    names = []
    for index, (lr, depth, accuracy) in enumerate(
        [("0.1", "8", 0.7), ("0.003", "2", 0.9), ("0.02", "16", None), ("1e-4", "4", 0.8),
         ("0.5", None, 0.6), ("0.05", "32", 0.95)]
    ):  # fmt: skip
        writer.start_run(run_collection_name="grid, small", run_name=f"Run-{index}")
        writer.log_parameters({"lr": lr, **({} if depth is None else {"depth": depth})})
        writer.set_tags({"seed": str(10 - index)})
        if accuracy is not None:
            writer.log_metric("accuracy", accuracy)
        writer.end_run()
        names.append(f"Run-{index}")
    return names


@pytest.mark.parametrize(
    ("sort", "direction", "expected"),
    [
        (None, None, [5, 4, 3, 2, 1, 0]),  # newest first
        ("start", "asc", [0, 1, 2, 3, 4, 5]),
        ("name", "asc", [0, 1, 2, 3, 4, 5]),
        ("metric:accuracy", "desc", [5, 1, 3, 0, 4, 2]),  # a run without it comes last
        ("metric:accuracy", "asc", [4, 0, 3, 1, 5, 2]),  # last both ways
        ("param:lr", "asc", [3, 1, 2, 5, 0, 4]),  # as numbers: 1e-4 < 0.003 < ... < 0.5
        ("param:depth", "desc", [5, 2, 0, 3, 1, 4]),  # 32 > 16 > 8, not as text
        ("tag:seed", "asc", [5, 4, 3, 2, 1, 0]),
    ],
)
def test_runs_sort_in_sql_with_missing_values_last(
    client_for: ClientFor,
    db_path: Path,
    sweep: list[str],
    sort: str | None,
    direction: str | None,
    expected: list[int],
) -> None:
    params = {"collection": "grid, small"}
    params.update({"sort": sort} if sort else {})
    params.update({"dir": direction} if direction else {})
    data = client_for(db_path).get("/api/runs", params=params).json()
    assert [run["name"] for run in data["runs"]] == [sweep[i] for i in expected]


def test_a_sorted_list_pages_and_lists_every_column(
    client_for: ClientFor, db_path: Path, sweep: list[str]
) -> None:
    client = client_for(db_path)
    pages = [
        client.get(
            "/api/runs",
            params={"collection": "grid, small", "sort": "param:lr", "limit": 4, "offset": offset},
        ).json()
        for offset in (0, 4)
    ]
    assert [len(page["runs"]) for page in pages] == [4, 2]
    assert all(page["total"] == 6 for page in pages)
    assert pages[1]["offset"] == 4
    names = [run["name"] for page in pages for run in page["runs"]]
    assert names == [sweep[i] for i in (3, 1, 2, 5, 0, 4)]
    # the columns of all six runs, though the second page has no run with every one
    assert pages[1]["columns"] == {
        "parameters": ["depth", "lr"],
        "metrics": ["accuracy"],
        "tags": ["seed"],
    }


def test_running_and_killed_runs_are_told_apart_when_filtering(
    client_for: ClientFor, db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]
) -> None:
    run_python(
        f"""
        import os
        from sapdi_local import MLTrackingSDK
        sdk = MLTrackingSDK(db_path={str(db_path)!r}, scenario="s")
        sdk.start_run(run_collection_name="c", run_name="killed")
        sdk.persist_run()
        os._exit(0)
        """
    )
    live = sdk_factory(db_path=db_path, scenario="s")
    live.start_run(run_collection_name="c", run_name="live")
    live.persist_run()
    done = sdk_factory(db_path=db_path, scenario="s")
    done.start_run(run_collection_name="c", run_name="done")
    done.end_run()
    client = client_for(db_path)

    def names(statuses: list[str]) -> list[str]:
        params = [("status", status) for status in statuses] + [("sort", "name")]
        return [run["name"] for run in client.get("/api/runs", params=params).json()["runs"]]

    assert names(["RUNNING"]) == ["live"]
    assert names(["KILLED"]) == ["killed"]
    assert names(["FINISHED"]) == ["done"]
    assert names(["KILLED", "FINISHED"]) == ["done", "killed"]
    assert names(["RUNNING", "KILLED", "FINISHED"]) == ["done", "killed", "live"]
    assert names(["FAILED"]) == []


def test_runs_by_id_and_paging(
    client_for: ClientFor, db_path: Path, filled: dict[str, str]
) -> None:
    client = client_for(db_path)
    chosen = client.get(
        "/api/runs", params=[("run", filled["lstm"]), ("run", filled["lr-small"])]
    ).json()
    assert {run["name"] for run in chosen["runs"]} == {"lstm", "lr-small"}
    page = client.get("/api/runs", params={"limit": 2, "offset": 1}).json()
    assert page["total"] == 4
    assert page["offset"] == 1
    assert [run["name"] for run in page["runs"]] == ["quick look", "lr-big"]


def test_one_run_has_process_and_metric_stats(
    client_for: ClientFor, db_path: Path, filled: dict[str, str]
) -> None:
    data = client_for(db_path).get(f"/api/runs/{filled['lr-big']}").json()
    assert data["name"] == "lr-big"
    assert data["parameters"]["learning_rate"] == "0.1"
    assert data["labels"] == {"accuracy": {"format_string": "percentage"}}
    assert data["process"]["pid"] > 0
    accuracy = data["metric_stats"]["accuracy"]
    assert accuracy["count"] == 5
    assert accuracy["min"] == pytest.approx(0.6)
    assert accuracy["max"] == pytest.approx(1.0)
    assert accuracy["last"] == pytest.approx(1.0)
    assert data["metric_stats"]["f1"] == {"last": 0.7, "count": 1, "min": 0.7, "max": 0.7}


def test_metrics_of_several_runs_match_get_metrics_history(
    client_for: ClientFor, db_path: Path, filled: dict[str, str]
) -> None:
    runs = [filled["lr-small"], filled["lr-big"]]
    data = client_for(db_path).get("/api/metrics", params=[("run", r) for r in runs]).json()
    with MLTrackingSDK(db_path=db_path) as reader:
        for run_id in runs:
            for history in reader.get_metrics_history(run=run_id):
                got = data["runs"][run_id][history.name]
                assert got["value"] == [v.value for v in history.values]
                assert got["step"] == [v.step for v in history.values]
                assert got["timestamp"] == [v.timestamp for v in history.values]
    assert set(data["runs"][runs[0]]) == {"accuracy", "f1"}
    assert data["runs"][runs[0]]["f1"]["step"] == [0]


def test_metrics_can_be_limited_to_named_ones(
    client_for: ClientFor, db_path: Path, filled: dict[str, str]
) -> None:
    data = (
        client_for(db_path)
        .get("/api/metrics", params={"run": filled["lr-big"], "metric": "f1"})
        .json()
    )
    assert data["runs"] == {
        filled["lr-big"]: {
            "f1": {"step": [0], "timestamp": [pytest.approx(0, abs=2e9)], "value": [0.7]}
        }
    }


def test_the_api_lists_its_endpoints(client_for: ClientFor, db_path: Path) -> None:
    endpoints = client_for(db_path).get("/api/").json()["endpoints"]
    assert "/api/runs/<id>" in endpoints
    assert "/api/metrics" in endpoints


# ---------------------------------------------------------------- the search language


def names_of(client: httpx.Client, params: Any) -> list[str]:
    response = client.get("/api/runs", params=params)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["total"] == len(data["runs"])
    return [run["name"] for run in data["runs"]]


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"where": "params.learning_rate < 0.05"}, ["quick look", "lr-small"]),
        ({"where": "metrics.f1 = 0.7 and tags.dataset = 'v2'"}, ["quick look", "lr-big"]),
        ({"where": "scenario = 'forecast' OR name ILIKE 'QUICK%'"}, ["lstm", "quick look"]),
        ({"where": "metrics.accuracy BETWEEN 0.905 AND 2"}, ["quick look", "lr-big"]),
        # NOT binds tighter than AND; a run without the tag is not one with dataset v1
        (
            {"where": "NOT tags.dataset = 'v1' AND status = 'FINISHED'"},
            ["lstm", "quick look", "lr-big"],
        ),
        ({"where": "params.learning_rate > 0.01", "collection": "Logistic"}, ["lr-big"]),
        ({"where": "params.learning_rate > 0.01", "collection": "LSTM"}, []),
        ({"where": "   "}, ["lstm", "quick look", "lr-big", "lr-small"]),  # no filter
        ({"where": "tags.dataset = 'v2'", "q": "LOOK"}, ["quick look"]),
        ({"order_by": "params.learning_rate DESC"}, ["lr-big", "quick look", "lr-small", "lstm"]),
        ({"order_by": "params.learning_rate"}, ["lr-small", "quick look", "lr-big", "lstm"]),
        (
            [("order_by", "metrics.f1"), ("order_by", "name DESC")],
            ["quick look", "lr-small", "lr-big", "lstm"],
        ),
        ({"order_by": "tags.dataset, name"}, ["lr-small", "lr-big", "quick look", "lstm"]),
        # ties newest first
        ({"sort": "tag:dataset", "dir": "desc"}, ["quick look", "lr-big", "lr-small", "lstm"]),
    ],
)
def test_runs_where_and_order_by(
    client_for: ClientFor, db_path: Path, filled: dict[str, str], params: Any, names: list[str]
) -> None:
    assert names_of(client_for(db_path), params) == names


def cli_names(db_path: Path, *options: str) -> list[str]:
    from click.testing import CliRunner

    from sapdi_local.cli import main

    result = CliRunner().invoke(
        main, ["runs", "--json", "--limit", "1000", *options, "--db", str(db_path)]
    )
    assert result.exit_code == 0, result.output
    return [run["name"] for run in json.loads(result.stdout)]


@pytest.mark.parametrize(
    ("params", "options"),
    [
        ({"scenario": "churn,forecast"}, ["--scenario", "churn,forecast"]),
        ({"scenario": "churn, forecast"}, ["--scenario", "churn, forecast"]),
        ({"collection": "Logistic,LSTM"}, ["--collection", "Logistic,LSTM"]),
        ({"collection": "explore.ipynb (Default)"}, ["--collection", "explore.ipynb (Default)"]),
        ({"collection": "explore.ipynb"}, ["--collection", "explore.ipynb"]),
        ({"status": "finished"}, ["--status", "finished"]),
        ({"status": "FAILED"}, ["--status", "FAILED"]),
        (
            {"tag": "dataset=v2", "scenario": "churn"},
            ["--tag", "dataset=v2", "--scenario", "churn"],
        ),
        ({"where": "metrics.f1 >= 0.7"}, ["--where", "metrics.f1 >= 0.7"]),
        ({"order_by": "metrics.accuracy DESC"}, ["--order-by", "metrics.accuracy DESC"]),
        (
            {"where": "collection = 'explore.ipynb (Default)' OR params.learning_rate > 0.05"},
            ["--where", "collection = 'explore.ipynb (Default)' OR params.learning_rate > 0.05"],
        ),
    ],
)
def test_each_filter_means_what_the_command_line_option_means(
    client_for: ClientFor, db_path: Path, filled: dict[str, str], params: Any, options: list[str]
) -> None:
    """The same runs, in the same order, from the API's parameter and the command line's
    option of the same name (both made into one expression by options_expression)."""
    assert names_of(client_for(db_path), params) == cli_names(db_path, *options)


def test_a_whole_name_holding_a_comma_names_one_collection(
    client_for: ClientFor, db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]
) -> None:
    """A value is a comma list, unless it is the whole name of a collection or scenario:
    the page names any collection, commas and all."""
    writer = sdk_factory(db_path=db_path, scenario="s, t")
    for collection in ("a, b", "a", "b"):
        writer.start_run(run_collection_name=collection, run_name=f"in {collection}")
        writer.end_run()
    client = client_for(db_path)
    assert names_of(client, {"collection": "a, b"}) == ["in a, b"]
    assert names_of(client, {"collection": "a,b"}) == ["in b", "in a"]  # no such name: a list
    assert names_of(client, {"scenario": "s, t", "collection": "b"}) == ["in b"]
    assert names_of(client, {"scenario": "s,t"}) == []


def test_name_search_ignores_case_in_all_of_unicode_and_takes_wildcards_as_text(
    client_for: ClientFor, db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]
) -> None:
    writer = sdk_factory(db_path=db_path, scenario="s")
    for name in ("Über-run", "ΣΊΣΥΦΟΣ", "a_b", "axb", "50% off", "50 percent", "[x]*?"):
        writer.start_run(run_collection_name="c", run_name=name)
        writer.end_run()
    client = client_for(db_path)
    assert names_of(client, {"q": "über"}) == ["Über-run"]
    assert names_of(client, {"q": "σίσυφος"}) == ["ΣΊΣΥΦΟΣ"]
    assert names_of(client, {"q": "a_b"}) == ["a_b"]
    assert names_of(client, {"q": "_"}) == ["a_b"]
    assert names_of(client, {"q": "0%"}) == ["50% off"]
    assert names_of(client, {"q": "*?"}) == ["[x]*?"]
    assert names_of(client, {"q": "[x]"}) == ["[x]*?"]
    assert names_of(client, {"q": "Über\0"}) == []  # SQLite would end the pattern at NUL
    # Text holding a wildcard is matched outside SQL: its pages and total are the same.
    page = client.get("/api/runs", params={"q": "_", "limit": 0}).json()
    assert (page["total"], page["runs"]) == (1, [])
    page = client.get("/api/runs", params={"q": "%", "offset": 1}).json()
    assert (page["total"], page["runs"]) == (1, [])
    both = client.get("/api/runs", params={"q": "5", "limit": 1, "offset": 1}).json()
    assert both["total"] == 2 and [run["name"] for run in both["runs"]] == ["50% off"]


def test_columns_are_those_of_the_options_before_where_and_q_narrow(
    client_for: ClientFor, db_path: Path, sweep: list[str]
) -> None:
    client = client_for(db_path)
    every = client.get("/api/runs", params={"collection": "grid, small"}).json()["columns"]
    narrowed = client.get(
        "/api/runs", params={"collection": "grid, small", "where": "params.depth IS NULL"}
    ).json()
    assert [run["name"] for run in narrowed["runs"]] == ["Run-4"]
    assert narrowed["columns"] == every
    assert every == {"parameters": ["depth", "lr"], "metrics": ["accuracy"], "tags": ["seed"]}


@pytest.mark.parametrize(
    ("params", "parameter", "position", "needle"),
    [
        ({"where": "metrics.accuracy >"}, "where", 19, "expected a value"),
        ({"where": "params.lr = 1 and"}, "where", 18, "expected a key"),
        ({"where": "accuracy > 0.9"}, "where", 1, "metrics.accuracy"),
        ({"where": "status = 'DONE'"}, "where", 10, "expected a status"),
        ({"where": "name = 'unclosed"}, "where", 8, "closing '"),
        ({"where": "params.x = 1 " + "and params.x = 1 " * 5 + "or )"}, "where", 102, "')'"),
        ({"where": "metrics.a > 1) "}, "where", 14, "closes no '('"),
        ({"order_by": "metrics.x DSC"}, "order_by", 11, "ASC, DESC"),
        ({"order_by": "accuracy"}, "order_by", 1, "expected a key"),
    ],
)
def test_a_malformed_expression_or_order_is_400_with_its_position(
    client_for: ClientFor,
    db_path: Path,
    filled: dict[str, str],
    params: Any,
    parameter: str,
    position: int,
    needle: str,
) -> None:
    response = client_for(db_path).get("/api/runs", params=params)
    message = error_of(response, 400)
    error = response.json()["error"]
    assert (error["parameter"], error["position"]) == (parameter, position)
    assert needle in message
    assert f"position {position}" in message
    assert message.splitlines()[-1].endswith("^")  # the expression with a caret under it


def test_errors_name_the_order_by_item_and_refuse_mixing_orders(
    client_for: ClientFor, db_path: Path, filled: dict[str, str]
) -> None:
    client = client_for(db_path)
    response = client.get("/api/runs", params=[("order_by", "name"), ("order_by", "x DESC")])
    assert "order_by item 2" in error_of(response, 400)
    assert response.json()["error"] | {"message": ""} == {
        "status": 400,
        "message": "",
        "parameter": "order_by",
        "position": 1,
        "item": 2,
    }
    mixed = client.get("/api/runs", params={"order_by": "name", "sort": "name"})
    assert "not both" in error_of(mixed, 400)
    many = client.get("/api/runs", params={"order_by": ", ".join(["name"] * 21)})
    assert "at most 20" in error_of(many, 400)
    status = client.get("/api/runs", params={"status": "DONE"})
    assert response.status_code == 400
    assert status.json()["error"]["parameter"] == "status"


# ---------------------------------------------------------------- live reading


def test_runs_written_while_serving_appear_on_the_next_request(
    client_for: ClientFor, db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]
) -> None:
    writer = sdk_factory(db_path=db_path, scenario="live")
    run = writer.start_run(run_collection_name="growing")
    writer.log_metric("loss", 1.0, step=0)
    writer.persist_run()
    client = client_for(db_path)
    first = client.get("/api/metrics", params={"run": run.id}).json()
    assert first["runs"][run.id]["loss"]["value"] == [1.0]
    assert client.get("/api/runs").json()["runs"][0]["status"] == "RUNNING"
    writer.log_metric("loss", 0.5, step=1)
    writer.end_run()
    second = client.get("/api/metrics", params={"run": run.id}).json()
    assert second["runs"][run.id]["loss"]["value"] == [1.0, 0.5]
    assert client.get("/api/runs").json()["runs"][0]["status"] == "FINISHED"


def test_the_file_appearing_after_start_is_picked_up(
    client_for: ClientFor, db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]
) -> None:
    client = client_for(db_path)
    assert "no database at" in error_of(client.get("/api/collections"), 503)
    writer = sdk_factory(db_path=db_path, scenario="late")
    writer.start_run(run_collection_name="first")
    writer.end_run()
    assert client.get("/api/collections").json()["scenarios"][0]["name"] == "late"


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("path", "params", "needle"),
    [
        ("/api/runs", {"tag": "dataset"}, "is not KEY=VALUE"),
        ("/api/runs", {"tag": "=v2"}, "is not KEY=VALUE"),
        ("/api/runs", {"status": "DONE"}, "is not one of"),
        ("/api/runs", {"limit": "ten"}, "whole number"),
        ("/api/runs", {"limit": "-1"}, "whole number"),
        ("/api/runs", {"offset": "1e9"}, "whole number"),
        ("/api/runs", {"sort": "accuracy"}, "cannot sort by 'accuracy'"),
        ("/api/runs", {"sort": "param:"}, "cannot sort by 'param:'"),
        ("/api/runs", {"dir": "up"}, "dir must be asc or desc"),
        ("/api/runs", {"collecton": "x"}, "unknown parameter 'collecton'"),
        ("/api/runs", [("q", "a"), ("q", "b")], "given 2 times"),
        ("/api/metrics", {}, "at least one run"),
        ("/api/collections", {"scenario": "x"}, "unknown parameter 'scenario'"),
    ],
)
def test_malformed_requests_are_400_with_a_message(
    client_for: ClientFor,
    db_path: Path,
    filled: dict[str, str],
    path: str,
    params: Any,
    needle: str,
) -> None:
    assert needle in error_of(client_for(db_path).get(path, params=params), 400)


def test_unknown_runs_and_paths_are_404(
    client_for: ClientFor, db_path: Path, filled: dict[str, str]
) -> None:
    client = client_for(db_path)
    assert "no run with id 'nope'" in error_of(client.get("/api/runs/nope"), 404)
    message = error_of(
        client.get("/api/metrics", params=[("run", filled["lstm"]), ("run", "x")]), 404
    )
    assert "no run with id 'x'" in message
    assert "no API endpoint /api/everything" in error_of(client.get("/api/everything"), 404)
    assert "nothing at /admin" in error_of(client.get("/admin"), 404)
    assert error_of(client.get("/static/../server.py"), 404)
    assert error_of(client.get("/static/%2e%2e/server.py"), 404)
    assert error_of(client.get("/static/views/%2e%2e/%2e%2e/server.py"), 404)
    assert error_of(client.get("/static/views"), 404)


@pytest.mark.parametrize(
    ("make_file", "needle"),
    [
        (lambda path: None, "no database at"),
        (lambda path: path.write_bytes(b"hello, not a database" * 100), "not a database"),
        (
            lambda path: sqlite3.connect(path).execute("CREATE TABLE other (x)").connection.close(),
            "not a sapdi-local database",
        ),
        (
            # Our mark with a schema version beyond this release's: a newer sapdi-local's.
            lambda path: (
                sqlite3.connect(path)
                .execute(f"PRAGMA application_id = {APPLICATION_ID}")
                .execute("PRAGMA user_version = 99")
                .connection.close()
            ),
            "newer",
        ),
    ],
    ids=["missing", "not-sqlite", "foreign", "newer-schema"],
)
def test_a_database_that_cannot_be_read_is_503_with_what_to_do(
    client_for: ClientFor, tmp_path: Path, make_file: Callable[[Path], None], needle: str
) -> None:
    path = tmp_path / "bad.db"
    make_file(path)
    client = client_for(path)
    for endpoint in ("/api/database", "/api/collections", "/api/runs"):
        message = error_of(client.get(endpoint), 503)
        assert needle in message
        assert str(path) in message
    assert client.get("/").status_code == 200  # the page still loads and shows the message


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_only_reading_methods_are_answered(
    client_for: ClientFor, db_path: Path, filled: dict[str, str], method: str
) -> None:
    response = client_for(db_path).request(method, f"/api/runs/{filled['lstm']}")
    assert "only reads" in error_of(response, 405)
    assert response.headers["allow"] == "GET, HEAD"


def test_no_request_changes_the_database(
    client_for: ClientFor, db_path: Path, filled: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No default SDK at all: the explorer must not reach for one (and write through it).
    monkeypatch.setattr(tracking, "_default", None)
    before = hashlib.sha256(db_path.read_bytes()).hexdigest()
    client = client_for(db_path)
    for path in ("/", "/api/database", "/api/collections", "/api/runs", "/api/runs/x"):
        client.get(path)
    client.get("/api/metrics", params={"run": filled["lstm"]})
    client.post("/api/runs", json={"name": "x"})
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before


def test_a_read_only_file_is_served(
    client_for: ClientFor, db_path: Path, filled: dict[str, str], tmp_path: Path
) -> None:
    copy = tmp_path / "shared" / "copy.db"
    copy.parent.mkdir()
    shutil.copy(db_path, copy)
    copy.chmod(0o400)
    assert client_for(copy).get("/api/runs").json()["total"] == 4


# ---------------------------------------------------------------- the page and its files


def test_the_page_and_its_files_are_served_with_etags(client_for: ClientFor, db_path: Path) -> None:
    client = client_for(db_path)
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "/static/plotly.min.js" in page.text
    assert '<script type="module" src="/static/main.js">' in page.text
    script = client.get("/static/plotly.min.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.content == plotly_script().read_bytes()
    again = client.get("/static/plotly.min.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert client.head("/static/main.js").content == b""


def test_every_module_the_page_imports_is_served_as_javascript(
    client_for: ClientFor, db_path: Path
) -> None:
    """Browsers refuse a module script served without a JavaScript media type: every import,
    followed from main.js through views/, answers 200 as text/javascript."""
    client = client_for(db_path)
    seen: set[str] = set()
    waiting = ["/static/main.js"]
    while waiting:
        address = waiting.pop()
        if address in seen:
            continue
        seen.add(address)
        response = client.get(address)
        assert response.status_code == 200, address
        assert response.headers["content-type"] == "text/javascript; charset=utf-8"
        folder = address.rsplit("/", 1)[0]
        for target in re.findall(r"^import .* from '([^']+)';$", response.text, re.M):
            waiting.append(posixpath.normpath(posixpath.join(folder, target)))
    assert "/static/views/board.js" in seen
    served = {f"/static/{name}" for name in ui_server.static_files(ui_server.STATIC_FOLDER)}
    assert {name for name in served if name.endswith(".js")} == seen


def test_only_files_inside_the_static_folder_are_served(tmp_path: Path) -> None:
    """A link in the folder that leads outside it, and hidden files, are not among the files."""
    folder = tmp_path / "static"
    (folder / "views").mkdir(parents=True)
    (folder / "main.js").write_text("")
    (folder / "views" / "run.js").write_text("")
    (folder / ".hidden.js").write_text("")
    (tmp_path / "secret.txt").write_text("secret")
    (folder / "secret.txt").symlink_to(tmp_path / "secret.txt")
    assert sorted(ui_server.static_files(folder)) == ["main.js", "views/run.js"]


def test_pages_forbid_loading_anything_from_elsewhere(client_for: ClientFor, db_path: Path) -> None:
    policy = client_for(db_path).get("/").headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert "unsafe-eval" not in policy  # Plotly draws and exports without eval


def test_a_loopback_server_refuses_other_host_names(
    client_for: ClientFor, db_path: Path, filled: dict[str, str]
) -> None:
    """A web page elsewhere that points its own domain at 127.0.0.1 (DNS rebinding) cannot
    read the API: requests must name a loopback host."""
    client = client_for(db_path, allowed_hosts={"127.0.0.1", "localhost"})
    assert client.get("/api/runs").status_code == 200
    refused = client.get("/api/runs", headers={"Host": "evil.example:8600"})
    assert "not served here" in error_of(refused, 403)
    assert client.get("/api/runs", headers={"Host": "localhost:8600"}).status_code == 200


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.10", False),
        ("no-such-host.invalid", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_missing_plotly_names_the_extra(monkeypatch: pytest.MonkeyPatch, db_path: Path) -> None:
    monkeypatch.setattr(ui_server, "find_spec", lambda name: None)
    with pytest.raises(MissingExtraError, match=r'pip install "sapdi-local\[ui\]"'):
        Explorer(db_path)
