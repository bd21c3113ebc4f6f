"""One selection everywhere: the same options and the same search expression select the same
runs in the API, every command that selects runs, and the explorer's JSON API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sapdi_local import MLTrackingSDK
from sapdi_local.cli import main
from sapdi_local.errors import InvalidFilterError


def invoke(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """Runs in two scenarios, one collection a notebook's default, parameters of numbers
    and text, tags and metrics."""
    db = tmp_path / "t.db"
    for scenario, notebook in (("a", "train.py"), ("b", None), ("c", None)):
        sdk = MLTrackingSDK(db_path=db, scenario=scenario, pipeline=notebook or "p")
        for index, (optimizer, rate, accuracy) in enumerate(
            (("adam", 0.001, 0.93), ("sgd", 0.01, 0.88), ("adam", 0.1, 0.95))
        ):
            collection = None if notebook and index == 0 else "sweep"
            sdk.start_run(run_collection_name=collection, run_name=f"{scenario}-{index}")
            sdk.log_parameters({"optimizer": optimizer, "learning_rate": rate})
            sdk.set_tags({"team": "x" if index else "y"})
            sdk.log_metric("accuracy", accuracy)
            sdk.end_run()
        sdk.close()
    return db


def exported_names(db: Path, tmp_path: Path, *options: str) -> list[str]:
    out = tmp_path / f"out-{len(list(tmp_path.iterdir()))}.json"
    result = invoke("export", str(out), "--format", "json", *options, "--db", str(db))
    assert result.exit_code == 0, result.output
    return sorted(run["name"] for run in json.loads(out.read_text())["runs"])


def test_a_comma_list_of_scenarios_selects_each(sweep: Path, tmp_path: Path) -> None:
    assert exported_names(sweep, tmp_path, "--scenario", "a,b") == [
        "a-0",
        "a-1",
        "a-2",
        "b-0",
        "b-1",
        "b-2",
    ]


def test_a_default_collection_is_found_by_its_name_and_its_shown_name(
    sweep: Path, tmp_path: Path
) -> None:
    assert exported_names(sweep, tmp_path, "--collection", "train.py (Default)") == ["a-0"]
    assert exported_names(sweep, tmp_path, "--collection", "train.py") == ["a-0"]


def test_export_where_selects_by_the_search_language(sweep: Path, tmp_path: Path) -> None:
    where = "metrics.accuracy > 0.9 and params.optimizer = 'adam'"
    assert exported_names(sweep, tmp_path, "--where", where) == [
        "a-0",
        "a-2",
        "b-0",
        "b-2",
        "c-0",
        "c-2",
    ]
    assert exported_names(sweep, tmp_path, "--where", where, "--scenario", "b") == ["b-0", "b-2"]
    assert exported_names(sweep, tmp_path, "--where", "params.learning_rate < 0.05") == [
        "a-0",
        "a-1",
        "b-0",
        "b-1",
        "c-0",
        "c-1",
    ]


def test_export_where_with_a_malformed_expression_names_the_position(
    sweep: Path, tmp_path: Path
) -> None:
    result = invoke(
        "export",
        str(tmp_path / "x.json"),
        "--format",
        "json",
        "--where",
        "metrics.accuracy >",
        "--db",
        str(sweep),
    )
    assert result.exit_code == 2
    assert "position" in result.output
    assert not (tmp_path / "x.json").exists()


def test_delete_where_shows_and_deletes_exactly_what_it_selects(sweep: Path) -> None:
    listed = invoke(
        "delete", "--where", "params.optimizer = 'sgd'", "--db", str(sweep), input="n\n"
    )
    assert "Delete 3 runs?" in listed.output
    done = invoke(
        "delete",
        "--where",
        "params.optimizer = 'sgd'",
        "--scenario",
        "a",
        "--yes",
        "--json",
        "--db",
        str(sweep),
    )
    assert json.loads(done.stdout)["deleted"] == 1
    with MLTrackingSDK(db_path=sweep) as sdk:
        left = sorted(run.name for run in sdk.get_runs(scenario="a,b,c"))
    assert left == ["a-0", "a-2", "b-0", "b-1", "b-2", "c-0", "c-1", "c-2"]


# ---------------------------------------------------------------- the API


def test_search_runs_takes_mlflows_spelling_and_goes_further(sweep: Path) -> None:
    with MLTrackingSDK(db_path=sweep) as sdk:
        best = sdk.search_runs(
            "metrics.accuracy > 0.9 and params.optimizer = 'adam'",
            order_by=["metrics.accuracy DESC"],
            max_results=2,
        )
        assert [run.metrics["accuracy"] for run in best] == [0.95, 0.95]
        either = sdk.search_runs(
            "(params.optimizer = 'sgd' OR metrics.accuracy >= 0.95)", scenario="c"
        )
        assert sorted(run.name for run in either) == ["c-1", "c-2"]
        assert len(sdk.search_runs()) == 9
        assert [run.name for run in sdk.search_runs(tags={"team": "y"}, order_by="name")] == [
            "a-0",
            "b-0",
            "c-0",
        ]
        with pytest.raises(InvalidFilterError, match="position"):
            sdk.search_runs("metrics.accuracy >> 1")


def test_runs_frame_takes_a_filter_and_an_order(sweep: Path) -> None:
    pytest.importorskip("pandas")
    with MLTrackingSDK(db_path=sweep) as sdk:
        frame = sdk.runs_frame(
            filter_string="params.learning_rate < 0.05", order_by="metrics.accuracy DESC"
        )
    assert list(frame["metrics.accuracy"]) == [0.93, 0.93, 0.93, 0.88, 0.88, 0.88]


@pytest.mark.parametrize(
    "where",
    [
        "metrics.accuracy > 0.9 and params.optimizer = 'adam'",
        "params.learning_rate BETWEEN 0.005 AND 0.5",
        "NOT (tags.team = 'x') OR scenario IN ('b')",
        "collection = 'train.py (Default)'",
        "name LIKE 'b-%' AND metrics.accuracy IS NOT NULL",
    ],
)
def test_the_api_and_the_command_line_select_the_same_runs(
    sweep: Path, tmp_path: Path, where: str
) -> None:
    with MLTrackingSDK(db_path=sweep) as sdk:
        from_api = sorted(run.name for run in sdk.search_runs(where))
    assert from_api, where
    assert exported_names(sweep, tmp_path, "--where", where) == from_api


# ---------------------------------------------------------------- runs and check


def listed_names(db: Path, *options: str) -> list[str]:
    result = invoke("runs", "--json", "--limit", "1000", *options, "--db", str(db))
    assert result.exit_code == 0, result.output
    return [run["name"] for run in json.loads(result.stdout)]


@pytest.mark.parametrize(
    "where",
    [
        "metrics.accuracy > 0.9 and params.optimizer = 'adam'",
        "params.learning_rate BETWEEN 0.005 AND 0.5",
        "NOT (tags.team = 'x') OR scenario IN ('b')",
        "collection = 'train.py (Default)'",
    ],
)
def test_runs_where_selects_what_the_api_selects(sweep: Path, where: str) -> None:
    with MLTrackingSDK(db_path=sweep) as sdk:
        from_api = sorted(run.name for run in sdk.search_runs(where))
    assert sorted(listed_names(sweep, "--where", where)) == from_api


def test_runs_options_mean_what_they_mean_in_export(sweep: Path, tmp_path: Path) -> None:
    for options in (
        ("--scenario", "a,b"),
        ("--collection", "train.py (Default)"),
        ("--collection", "train.py"),
        ("--tag", "team=y", "--scenario", "c"),
        ("--status", "finished", "--scenario", "b"),
    ):
        listed = sorted(listed_names(sweep, *options))
        assert listed, options
        if options[0] in ("--scenario", "--collection"):  # options export takes too
            assert listed == exported_names(sweep, tmp_path, *options), options


def test_runs_order_by_sorts_by_any_key_lacking_ones_last(sweep: Path) -> None:
    names = listed_names(
        sweep, "--scenario", "a", "--order-by", "metrics.accuracy DESC", "--order-by", "name"
    )
    assert names == ["a-2", "a-0", "a-1"]
    by_rate = listed_names(sweep, "--scenario", "b", "--order-by", "params.learning_rate")
    assert by_rate == ["b-0", "b-1", "b-2"]
    bad = invoke("runs", "--order-by", "metrics.accuracy SIDEWAYS", "--db", str(sweep))
    assert bad.exit_code == 2 and "position" in bad.output


def test_check_where_gates_on_the_best_run_or_on_every_run(sweep: Path) -> None:
    best = invoke(
        "check",
        "--where",
        "scenario = 'a'",
        "--metric",
        "accuracy",
        "--min",
        "0.94",
        "--db",
        str(sweep),
    )
    assert best.exit_code == 0, best.output
    assert "OK: accuracy = 0.95 in run a-2" in best.output
    every = invoke(
        "check",
        "--where",
        "scenario = 'a'",
        "--metric",
        "accuracy",
        "--min",
        "0.9",
        "--all",
        "--json",
        "--db",
        str(sweep),
    )
    assert every.exit_code == 1
    report = json.loads(every.stdout)
    assert report["ok"] is False
    assert sorted((r["value"], r["ok"]) for r in report["runs"]) == [
        (0.88, False),
        (0.93, True),
        (0.95, True),
    ]
    lowest = invoke(
        "check",
        "--where",
        "scenario = 'a'",
        "--metric",
        "accuracy",
        "--max",
        "0.9",
        "--lower-is-better",
        "--db",
        str(sweep),
    )
    assert lowest.exit_code == 0 and "a-1" in lowest.output
    nothing = invoke(
        "check",
        "--where",
        "scenario = 'zzz'",
        "--metric",
        "accuracy",
        "--min",
        "0",
        "--db",
        str(sweep),
    )
    assert nothing.exit_code == 2 and "no run matches" in nothing.output
    missing = invoke(
        "check",
        "--where",
        "scenario = 'a'",
        "--metric",
        "f1",
        "--min",
        "0",
        "--all",
        "--db",
        str(sweep),
    )
    assert missing.exit_code == 2 and "has no metric 'f1'" in missing.output
    both = invoke(
        "check", "a-0", "--where", "x = 1", "--metric", "accuracy", "--min", "0", "--db", str(sweep)
    )
    assert both.exit_code == 2


# ---------------------------------------------------------------- found by trying to break it


@pytest.mark.parametrize(
    "args",
    [
        ["delete", "--yes"],
        ["export", "out.json", "--format", "json"],
        ["runs"],
        ["check", "--metric", "accuracy", "--min", "0"],
    ],
)
@pytest.mark.parametrize("where", ["", "   "])
def test_an_empty_where_is_refused_rather_than_selecting_every_run(
    sweep: Path, args: list[str], where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(*args, "--where", where, "--db", str(sweep))
    assert result.exit_code == 2
    assert "--where" in result.output and "is empty" in result.output
    with MLTrackingSDK(db_path=sweep) as sdk:
        assert len(sdk.search_runs()) == 9


def test_a_search_error_keeps_its_caret_under_the_expression(sweep: Path) -> None:
    result = invoke("runs", "--where", "name = 'x' AND )", "--db", str(sweep))
    assert result.exit_code == 2
    lines = result.output.splitlines()
    text_line = next(line for line in lines if "name = 'x' AND )" in line)
    caret_line = lines[lines.index(text_line) + 1]
    assert caret_line.index("^") == text_line.index(")")


@pytest.mark.parametrize("pattern", ["%\x00%", "lr%\x00zz"])
def test_a_nul_in_a_pattern_is_refused_not_cut_short(sweep: Path, pattern: str) -> None:
    with MLTrackingSDK(db_path=sweep) as sdk, pytest.raises(InvalidFilterError, match="NUL"):
        sdk.search_runs(f"name LIKE '{pattern}'")


def test_an_argument_that_is_not_utf8_is_one_line_not_a_traceback(sweep: Path) -> None:
    import subprocess
    import sys

    for args in (
        [b"runs", b"--where", b"name = '\xff'"],
        [b"runs", b"--collection", b"\xff"],
        [b"show", b"\xff"],
    ):
        done = subprocess.run(
            [sys.executable.encode(), b"-m", b"sapdi_local", *args, b"--db", str(sweep).encode()],
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == 2, done.stderr
        assert b"Traceback" not in done.stderr


def test_a_name_holding_a_comma_is_selected_alike_by_the_command_line_and_the_explorer(
    tmp_path: Path,
) -> None:
    import httpx

    from sapdi_local.ui.server import Explorer

    db = tmp_path / "t.db"
    with MLTrackingSDK(db_path=db, scenario="s,3") as sdk:
        for collection in ("c,2", "c", "2"):
            sdk.start_run(run_collection_name=collection, run_name=f"in {collection}")
            sdk.end_run()
    app = Explorer(db)
    transport = httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url="http://127.0.0.1:8600") as client:
        for option, value in (("collection", "c,2"), ("scenario", "s,3"), ("collection", "c")):
            answer = client.get("/api/runs", params={option: value}).json()
            from_api = sorted(run["name"] for run in answer["runs"])
            from_cli = sorted(listed_names(db, f"--{option}", value))
            assert from_cli == from_api, (option, value)
            assert exported_names(db, tmp_path, f"--{option}", value) == from_api
    app.close()
    assert sorted(listed_names(db, "--collection", "c,2")) == ["in c,2"]


def test_the_explorer_takes_a_sort_direction_in_either_case(sweep: Path) -> None:
    import httpx

    from sapdi_local.ui.server import Explorer

    app = Explorer(sweep)
    transport = httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url="http://127.0.0.1:8600") as client:
        orders = [
            [
                run["name"]
                for run in client.get(
                    "/api/runs", params={"scenario": "a", "sort": "name", "dir": direction}
                ).json()["runs"]
            ]
            for direction in ("DESC", "desc", "Asc")
        ]
    app.close()
    assert orders == [["a-2", "a-1", "a-0"], ["a-2", "a-1", "a-0"], ["a-0", "a-1", "a-2"]]


def test_a_search_past_its_time_limit_is_stopped_with_advice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The explorer stops a search that outlives its time limit (a server's threads must come
    free): 400 naming where and what to do. Here the limit is 0 s, so any search that takes
    more than a few thousand SQLite steps is stopped; the same search without a limit works."""
    import httpx

    from sapdi_local.store import ReadOnlyStore, search_run_records
    from sapdi_local.ui import api
    from sapdi_local.ui.server import Explorer

    db = tmp_path / "t.db"
    with MLTrackingSDK(db_path=db, scenario="s") as sdk:
        for index in range(300):
            sdk.start_run(run_name=f"run-{index}")
            sdk.log_parameters({"p": index})
            sdk.end_run()
    expression = "name ILIKE '%un-1%' OR params.p > 100"
    store = ReadOnlyStore(db)
    total, _ = search_run_records(store, expression)
    assert total > 100
    with pytest.raises(InvalidFilterError, match="took longer than 0 s"):
        search_run_records(store, expression, time_limit=0)
    assert search_run_records(store, expression)[0] == total  # the connection still works
    store.close()
    monkeypatch.setattr(api, "SEARCH_SECONDS", 0.0)
    app = Explorer(db)
    transport = httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url="http://127.0.0.1:8600") as client:
        answer = client.get("/api/runs", params={"where": expression})
    app.close()
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["parameter"] == "where" and "narrow it" in error["message"]
