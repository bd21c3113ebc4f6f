"""Bounds on every input, checked where it enters: the command line and the explorer's API.

``check`` is a CI gate: a bound or tolerance that is not a finite number, or a metric value
that is missing or not finite, must never pass. Every option that takes a number or a date
refuses what it cannot take with one clear error (exit 2), never a traceback; every query
parameter of the API likewise with a 400 naming the parameter, the limit and the fix.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from sapdi_local import MLTrackingSDK
from sapdi_local.cli import main
from sapdi_local.ui.server import Explorer


def invoke(*arguments: str) -> Result:
    return CliRunner().invoke(main, list(arguments))


@pytest.fixture
def gated(db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]) -> dict[str, str]:
    """Two runs with an accuracy (0.9 and 0.92) and a loss; their ids by name."""
    sdk = sdk_factory(db_path=db_path, scenario="ci", pipeline="train.py")
    ids = {}
    for name, accuracy in (("main", 0.9), ("branch", 0.92)):
        run = sdk.start_run(run_name=name)
        sdk.log_metrics({"accuracy": accuracy, "loss": 0.25})
        sdk.end_run()
        ids[name] = run.id
    sdk.close()
    return ids


def refused(result: Result, option: str, *needles: str) -> str:
    """The error of a command refused as bad input: exit 2, no traceback, no verdict, one
    error line naming the option."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # click's exit, not an exception
    assert "Traceback" not in result.output and "OK" not in result.output
    [error] = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert option in error, error
    for needle in needles:
        assert needle in error, error
    return error


# ---------------------------------------------------------------- check: the CI gate


@pytest.mark.parametrize("option", ["--min", "--max"])
@pytest.mark.parametrize("text", ["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e999"])
def test_check_refuses_a_bound_that_is_not_finite(
    gated: dict[str, str], option: str, text: str
) -> None:
    """nan compares false with everything: as a bound it would pass any value."""
    result = invoke("check", "branch", "--metric", "accuracy", option, text)
    refused(result, option, "give a finite number")
    with_json = invoke("check", "branch", "--metric", "accuracy", option, text, "--json")
    assert with_json.exit_code == 2 and '"ok"' not in with_json.output


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e999"])
def test_check_refuses_a_tolerance_that_is_not_finite(gated: dict[str, str], text: str) -> None:
    result = invoke(
        "check", "branch", "--metric", "accuracy", "--baseline", "main", "--tolerance", text
    )
    refused(result, "--tolerance", "give a finite number")


@pytest.mark.parametrize("text", ["-0.01", "-1e300"])
def test_check_refuses_a_negative_tolerance(gated: dict[str, str], text: str) -> None:
    result = invoke(
        "check", "branch", "--metric", "accuracy", "--baseline", "main", "--tolerance", text
    )
    refused(result, "--tolerance", "at least 0")


def test_check_refuses_bounds_nothing_could_pass(gated: dict[str, str]) -> None:
    result = invoke("check", "branch", "--metric", "accuracy", "--min", "0.95", "--max", "0.9")
    refused(result, "--min", "--max")


@pytest.mark.parametrize(
    ("options", "exit_code"),
    [
        (["--min", "0.91"], 0),
        (["--min", "0.93"], 1),
        (["--max", "0.92"], 0),
        (["--min", "0.92", "--max", "0.92"], 0),
        (["--baseline", "main", "--tolerance", "0"], 0),
        (["--baseline", "main", "--lower-is-better", "--tolerance", "0.01"], 1),
        (["--baseline", "main", "--lower-is-better", "--tolerance", "0.03"], 0),
        (["--min", "-1e308", "--max", "1e308"], 0),
    ],
)
def test_check_with_finite_bounds_still_gates(
    gated: dict[str, str], options: list[str], exit_code: int
) -> None:
    result = invoke("check", "branch", "--metric", "accuracy", *options)
    assert result.exit_code == exit_code, result.output


def hand_edit(db_path: Path, run_id: str, value_sql: str) -> None:
    """Set the stored last accuracy of a run as a hand edit of the file would."""
    with sqlite3.connect(db_path) as connection:
        connection.execute(
            f"UPDATE latest_metrics SET value = {value_sql} WHERE name = 'accuracy' "
            "AND run_key = (SELECT key FROM runs WHERE id = ?)",
            (run_id,),
        )
    connection.close()


STORED = {
    "infinity": "9e999",
    "minus-infinity": "-9e999",
    "null": "NULL",
    "text-nan": "'nan'",
    "blob": "x'00'",
}


@pytest.mark.parametrize("value_sql", list(STORED.values()), ids=list(STORED))
@pytest.mark.parametrize(
    "options",
    [["--min", "0"], ["--max", "1"], ["--min", "-1e308", "--max", "1e308"]],
    ids=["min", "max", "both"],
)
def test_a_stored_value_that_is_not_a_finite_number_never_passes(
    gated: dict[str, str], db_path: Path, value_sql: str, options: list[str]
) -> None:
    hand_edit(db_path, gated["branch"], value_sql)
    for extra in ([], ["--json"]):
        result = invoke("check", "branch", "--metric", "accuracy", *options, *extra)
        assert result.exit_code == 2, result.output
        assert "OK" not in result.output and '"ok": true' not in result.output
        assert "accuracy" in result.output and "cannot be checked" in result.output


@pytest.mark.parametrize("value_sql", ["9e999", "NULL"])
def test_a_baseline_value_that_is_not_finite_never_passes(
    gated: dict[str, str], db_path: Path, value_sql: str
) -> None:
    hand_edit(db_path, gated["main"], value_sql)
    result = invoke("check", "branch", "--metric", "accuracy", "--baseline", "main")
    assert result.exit_code == 2 and "OK" not in result.output


def test_a_missing_metric_never_passes(gated: dict[str, str]) -> None:
    result = invoke("check", "branch", "--metric", "f1", "--min", "0")
    assert result.exit_code == 2 and "no metric 'f1'" in result.output


# ---------------------------------------------------------------- runs: --since, --limit ...


@pytest.mark.parametrize(
    "text",
    [
        "²d",  # str.isdigit says yes, int() says no
        "²",
        "١٢d",  # Arabic-Indic digits
        "99999999999d",  # past timedelta's range
        "9" * 5000 + "m",  # past int()'s digit limit
        "36526d",  # more than 100 years
        str(36_525 * 24 + 1) + "h",
        str(36_525 * 1440 + 1) + "m",
        "-1d",
        "1.5d",
        "1e3d",
        "7w",
        "d",
        "",
        "２０２６-11-01",  # full-width digits
        "2026-13-01",
        "10000-01-01",
        "yesterday",
        "x" * 10_000,
    ],
)
def test_runs_since_refuses_what_is_not_a_date_or_an_age(gated: dict[str, str], text: str) -> None:
    error = refused(invoke("runs", "--since", text), "--since")
    assert len(error) < 200  # a long value is not echoed whole


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("30m", 2),
        ("36525d", 2),
        (str(36_525 * 1440) + "m", 2),
        ("0001-01-01", 2),
        ("0001-01-01T00:00+05:00", 2),
        ("9999-12-31T23:59-05:00", 0),
        ("2999-01-01", 0),
    ],
)
def test_runs_since_takes_ages_to_100_years_and_any_date(
    gated: dict[str, str], text: str, count: int
) -> None:
    result = invoke("runs", "--since", text, "--json")
    assert result.exit_code == 0, result.output
    assert result.output.count('"id"') == count


@pytest.mark.parametrize(
    "text", ["0", "-1", "+5", " 5", "1_0", "²", "١٢", "1.0", "1e3", "100001", "9" * 30, "ten"]
)
def test_runs_limit_refuses_what_is_not_a_whole_number_in_range(
    gated: dict[str, str], text: str
) -> None:
    refused(invoke("runs", "--limit", text), "--limit", "whole number from 1 to 100000")


def test_runs_limit_takes_its_whole_range(gated: dict[str, str]) -> None:
    assert invoke("runs", "--limit", "1", "--json").output.count('"id"') == 1
    assert invoke("runs", "--limit", "100000", "--json").output.count('"id"') == 2


def test_repeated_options_are_bounded(gated: dict[str, str]) -> None:
    """1,200 tag filters passed SQLite's expression depth: the damaged-file message."""
    tags = [part for index in range(101) for part in ("--tag", f"k{index}=v")]
    refused(invoke("runs", *tags), "--tag", "at most 100")
    assert invoke("runs", *tags[:200], "--json").output.strip() == "[]"
    metrics = [part for _ in range(101) for part in ("--metric", "accuracy")]
    refused(invoke("runs", *metrics), "--metric", "at most 100")
    refused(invoke("compare", *["main"] * 1001), "RUN", "at most 1000")


# ---------------------------------------------------------------- the explorer's API


@pytest.fixture
def api(gated: dict[str, str], db_path: Path) -> Iterator[httpx.Client]:
    """An HTTP client on the explorer of the gated runs' file."""
    app = Explorer(db_path)
    transport = httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url="http://127.0.0.1:8600") as client:
        yield client
    app.close()


def bad_request(response: httpx.Response, *needles: str) -> str:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["status"] == 400 and "Traceback" not in response.text
    for needle in needles:
        assert needle in error["message"], error["message"]
    assert len(error["message"]) < 300  # a long value is not echoed whole
    return str(error["message"])


LONG = "x" * 1001
IDS = ["f" * 32] * 1001


@pytest.mark.parametrize(
    ("path", "params", "needles"),
    [
        ("/api/runs", {"limit": "²"}, ["'limit'", "100,000", "digits 0-9"]),
        ("/api/runs", {"limit": "١٢"}, ["'limit'", "digits 0-9"]),
        ("/api/runs", {"limit": "100001"}, ["'limit'", "100,000"]),
        ("/api/runs", {"limit": "9" * 30}, ["'limit'"]),
        ("/api/runs", {"limit": "1" * 5000}, ["'limit'", "1,000"]),
        ("/api/runs", {"limit": " 5"}, ["'limit'"]),
        ("/api/runs", {"offset": "1000000001"}, ["'offset'", "1,000,000,000"]),
        ("/api/runs", {"offset": "³"}, ["'offset'"]),
        ("/api/runs", [("tag", f"k{i}=v") for i in range(1200)], ["'tag'", "limit is 100"]),
        ("/api/runs", [("tag", f"k{i}=v") for i in range(101)], ["'tag'", "limit is 100"]),
        ("/api/runs", [("run", "f" * 32)] * 1001, ["'run'", "limit is 1,000"]),
        ("/api/runs", {"run": ",".join(IDS)}, ["'run'", "limit is 1,000"]),
        ("/api/runs", {"run": LONG}, ["'run'", "1,001 characters", "limit is 1,000"]),
        ("/api/runs", [("status", "FINISHED")] * 101, ["'status'", "limit is 100"]),
        ("/api/runs", [("scenario", "s")] * 101, ["'scenario'", "limit is 100"]),
        ("/api/runs", {"q": LONG}, ["'q'", "1,001 characters", "shorten it"]),
        ("/api/runs", {"scenario": LONG}, ["'scenario'", "shorten it"]),
        ("/api/runs", {"collection": LONG}, ["'collection'", "shorten it"]),
        ("/api/runs", {"tag": "k=" + LONG}, ["'tag'", "shorten it"]),
        ("/api/runs", {"sort": "metric:" + LONG}, ["'sort'", "shorten it"]),
        ("/api/runs", [("scenario", "s" * 1000)] * 61, ["the query", "limit is 60,000"]),
        ("/api/runs", {"x" * 5000: "1"}, ["unknown parameter", "5,000 characters"]),
        ("/api/metrics", [("run", "f" * 32)] * 1001, ["'run'", "limit is 1,000"]),
        ("/api/metrics", [("run", "f"), *[("metric", "m")] * 1001], ["'metric'", "1,000"]),
        ("/api/metrics", {"run": "f", "metric": LONG}, ["'metric'", "shorten it"]),
        ("/api/runs/" + "f" * 2000, {}, ["run id", "2,000 characters", "1,000"]),
    ],
)
def test_the_api_refuses_malformed_and_oversized_requests(
    api: httpx.Client, path: str, params: Any, needles: list[str]
) -> None:
    bad_request(api.get(path, params=params), *needles)


def test_the_api_still_answers_requests_within_the_bounds(
    api: httpx.Client, gated: dict[str, str]
) -> None:
    def ok(path: str, params: Any) -> Any:
        response = api.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    assert len(ok("/api/runs", {"limit": "100000"})["runs"]) == 2
    assert ok("/api/runs", {"limit": "0"})["runs"] == []
    assert ok("/api/runs", {"limit": "007", "offset": "1"})["offset"] == 1
    assert ok("/api/runs", {"offset": "1000000000"})["runs"] == []
    tags = [("tag", f"k{i}=v") for i in range(100)]
    assert ok("/api/runs", tags)["total"] == 0
    ids = [("run", gated["main"]), *[("run", "f" * 32)] * 999]
    assert [run["name"] for run in ok("/api/runs", ids)["runs"]] == ["main"]
    listed = ok("/api/runs", {"run": ",".join([gated["branch"], *["f" * 32] * 999])})
    assert [run["name"] for run in listed["runs"]] == ["branch"]
    assert ok("/api/runs", {"q": "a" * 1000})["total"] == 0
    metrics = [("run", gated["main"]), *[("metric", "accuracy")] * 1000]
    assert ok("/api/metrics", metrics)["runs"][gated["main"]]["accuracy"]["value"] == [0.9]
    assert ok(f"/api/runs/{gated['branch']}", {})["metrics"] == {"accuracy": 0.92, "loss": 0.25}
