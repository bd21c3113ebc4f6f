"""Readers survive rows no sapdi-local wrote.

Each database is written by the SDK and then edited with plain sqlite3
(tests/fixtures/make_edited_databases.py, one function per kind of damage): a label that is
not JSON or nested 3000 deep, text, blobs and NULL where numbers and times belong, times of
1e300, a status of its own, names megabytes long. For each, the SDK's reads, the command
line (click's runner, and once a real process) and the explorer's JSON API list both runs,
leave the damaged field out, say which it was (a warning, a line on stderr, an
``unreadable`` list in the JSON) and never raise or print a traceback.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
from click.testing import CliRunner, Result
from conftest import fixture_script

from sapdi_local import MLTrackingSDK
from sapdi_local.cli import main
from sapdi_local.errors import InvalidValueError
from sapdi_local.model import Run, UnreadableFieldWarning
from sapdi_local.ui.server import Explorer

script = fixture_script("make_edited_databases")  # the script that writes the files

DAMAGED, INTACT = script.DAMAGED, script.INTACT
RUN_COLUMNS = ("name", "collection", "scenario", "status", "start_time", "end_time")
MAPS = {"parameter": "parameters", "tag": "tags", "label": "labels", "metric": "metrics"}


class Edited(NamedTuple):
    path: Path
    damage: Any  # make_edited_databases.Damage
    damaged: str  # the damaged run's id
    intact: str

    @property
    def in_history(self) -> bool:
        """Only some stored values of a metric are damaged, not the run's own fields."""
        return bool(self.damage.history)

    @property
    def metric(self) -> str:
        """A metric of the damaged run that ``history`` can name."""
        return "accuracy" if (self.damage.field, self.damage.name) == ("metric", None) else "loss"


@pytest.fixture(scope="module", params=list(script.DAMAGES))
def edited(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Edited:
    """A database with the two runs, the damaged one edited in one way (each in turn)."""
    path = tmp_path_factory.mktemp("edited") / "tracking.db"
    ids, damage = script.make(path, request.param)
    return Edited(path, damage, ids[DAMAGED], ids[INTACT])


def strict_json(text: str) -> Any:
    """JSON as the standard has it: NaN and Infinity are refused."""

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in JSON output")

    return json.loads(text, parse_constant=refuse)


def warned(read: Callable[[], Any]) -> tuple[Any, list[str]]:
    """What ``read`` returns, and the messages of the warnings it raised (only
    UnreadableFieldWarnings, each once)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = read()
    assert all(w.category is UnreadableFieldWarning for w in caught), caught
    assert all(w.filename == __file__ for w in caught)  # each points at the caller
    return result, [str(w.message) for w in caught]


def assert_left_out(run: Run, damage: Any) -> None:
    """``run`` names the damaged field, and holds nothing in its place."""
    assert [(item.field, item.name) for item in run.unreadable] == [(damage.field, damage.name)]
    reason = run.unreadable[0].reason
    if damage.field in RUN_COLUMNS or damage.field in ("pid", "collection_is_default"):
        assert reason.startswith(f"{damage.field} is ")
    elif damage.name is None:
        assert reason.startswith(f"a {damage.field} name is ")
    else:
        assert reason.startswith(f"{damage.field} {damage.name!r} ")
    if damage.field in RUN_COLUMNS:
        assert getattr(run, damage.field) is None
    elif damage.field in MAPS and damage.name is not None:
        assert damage.name not in getattr(run, MAPS[damage.field])


def assert_whole(run: Run) -> None:
    """The intact run reads as the SDK wrote it."""
    assert run.unreadable == ()
    assert run.name == INTACT and run.status == "FINISHED" and run.start_time is not None
    assert run.parameters["learning_rate"] == "0.01" and run.tags["dataset"] == "v2"
    assert run.labels == {"accuracy": {"format_string": "percentage"}}
    assert set(run.metrics) == {"loss", "accuracy"}


# ---------------------------------------------------------------- the API


def test_get_runs_lists_both_runs_and_warns_of_the_unreadable_field(
    edited: Edited, sdk_factory: Callable[..., MLTrackingSDK]
) -> None:
    sdk = sdk_factory(db_path=edited.path)
    runs, messages = warned(lambda: sdk.get_runs(run=[edited.damaged, edited.intact]))
    by_id = {run.id: run for run in runs}
    assert set(by_id) == {edited.damaged, edited.intact}
    assert_whole(by_id[edited.intact])
    damaged = by_id[edited.damaged]
    if edited.in_history:
        assert damaged.unreadable == () and messages == []
    else:
        assert_left_out(damaged, edited.damage)
        assert len(messages) == 1 and messages[0].startswith(f"run {edited.damaged}")
        assert damaged.unreadable[0].reason in messages[0]
    # Every reader of a Run copes with what is left.
    assert repr(runs) and runs._repr_html_() and repr(damaged) and damaged._repr_html_()
    strict_json(json.dumps([run.to_dict() for run in runs], allow_nan=False))


def test_metric_histories_leave_out_unreadable_values_with_a_warning(
    edited: Edited, sdk_factory: Callable[..., MLTrackingSDK]
) -> None:
    sdk = sdk_factory(db_path=edited.path)
    read, messages = warned(lambda: sdk.get_metrics_history(run=edited.damaged))
    histories = {history.name: history for history in read}
    assert histories["accuracy"].values and len(histories["accuracy"].values) == 5
    for history in histories.values():
        for value in history.values:
            assert isinstance(value.value, float) and math.isfinite(value.value)
            assert isinstance(value.timestamp, float) and value.step is not None
    if edited.in_history:
        assert len(histories["loss"].values) == 4  # the damaged one of five left out
        assert len(messages) == 1 and edited.damaged in messages[0]
        assert "metric 'loss': 1 of its 5 stored values cannot be read" in messages[0]
    elif (edited.damage.field, edited.damage.name) == ("metric", None):
        assert set(histories) == {"accuracy"}  # the metric whose name is a blob
        assert len(messages) == 1 and "a metric name is a blob" in messages[0]
    else:
        assert len(histories["loss"].values) == 5 and messages == []
    assert repr(sdk.get_metrics_history(run=edited.intact))


def test_frames_hold_every_run_and_every_readable_value(
    edited: Edited, sdk_factory: Callable[..., MLTrackingSDK]
) -> None:
    pytest.importorskip("pandas")
    sdk = sdk_factory(db_path=edited.path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreadableFieldWarning)
        runs = sdk.runs_frame(run=[edited.damaged, edited.intact])
        values = sdk.metrics_frame(run=[edited.damaged, edited.intact])
    assert sorted(runs["run_id"]) == sorted([edited.damaged, edited.intact])
    assert str(runs["start_time"].dtype).startswith("datetime64")
    assert runs["start_time"].isna().sum() == (edited.damage.field == "start_time")
    expected = (
        20 - edited.in_history - 5 * ((edited.damage.field, edited.damage.name) == ("metric", None))
    )
    assert len(values) == expected
    assert values["timestamp"].notna().all() and values["value"].map(math.isfinite).all()


def test_a_label_nested_3000_deep_is_refused_when_set(
    sdk_factory: Callable[..., MLTrackingSDK], tmp_path: Path
) -> None:
    sdk = sdk_factory(db_path=tmp_path / "tracking.db")
    sdk.start_run()
    deep: Any = []
    for _ in range(script.DEEP):
        deep = [deep]
    with pytest.raises(InvalidValueError, match="levels deep"):
        sdk.set_labels({"x": deep})


# ---------------------------------------------------------------- the command line


def invoke(*arguments: str) -> Result:
    return CliRunner().invoke(main, list(arguments))


COMMANDS: dict[str, Callable[[Edited, Path], list[str]]] = {
    "runs": lambda e, out: ["runs"],
    "runs --json": lambda e, out: ["runs", "--json"],
    "runs --status RUNNING": lambda e, out: ["runs", "--status", "RUNNING"],
    "collections": lambda e, out: ["collections"],
    "show": lambda e, out: ["show", e.damaged],
    "show --json": lambda e, out: ["show", e.damaged, "--json"],
    "compare": lambda e, out: ["compare", e.damaged, e.intact],
    "compare --json": lambda e, out: ["compare", e.damaged, e.intact, "--json"],
    "history": lambda e, out: ["history", e.damaged, e.metric],
    "history --json": lambda e, out: ["history", e.damaged, e.metric, "--json"],
    "export json": lambda e, out: ["export", str(out / "runs.json"), "--format", "json"],
    "export csv": lambda e, out: ["export", str(out / "csv"), "--format", "csv"],
}
# The commands that read the damaged run itself, or its metric histories.
READS_RUN = {"runs", "runs --json", "show", "show --json", "compare", "compare --json"}
READS_RUN |= {"history", "history --json", "export json", "export csv"}
READS_HISTORY = {"history", "history --json", "export json", "export csv"}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_commands_exit_0_with_one_warning_line_per_unreadable_field(
    edited: Edited, command: str, tmp_path: Path
) -> None:
    result = invoke(*COMMANDS[command](edited, tmp_path), "--db", str(edited.path))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and result.exception is None
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    expected = READS_HISTORY if edited.in_history else READS_RUN
    if command in expected:
        assert warned and all(edited.damaged in line for line in warned), result.stderr
        assert len(warned) == len(set(warned))  # each problem once
    if edited.damage.field == "collection" and command == "collections":
        assert any("collection name is a blob" in line for line in warned)
    if command.endswith("--json"):
        strict_json(result.stdout)
    if "\x1b" in result.stdout or "\x00" in result.stdout:
        pytest.fail("control characters reached the terminal")


SHOWN_ROWS = {"name megabytes": "name", "status unknown": "status", "start_time text": "start"}
SHOWN_ROWS |= {"label not JSON": "accuracy", "label name blob": "(unreadable name)"}


@pytest.mark.parametrize(("damage", "row"), SHOWN_ROWS.items(), ids=list(SHOWN_ROWS))
def test_show_marks_the_damaged_field_unreadable(damage: str, row: str, tmp_path: Path) -> None:
    path = tmp_path / "tracking.db"
    ids, _ = script.make(path, damage)
    result = invoke("show", ids[DAMAGED], "--db", str(path))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert any(line.startswith(row) and line.endswith("(unreadable)") for line in lines), lines


def test_a_real_process_lists_runs_of_a_file_with_a_label_nested_3000_deep(
    tmp_path: Path,
) -> None:
    path = tmp_path / "deep.db"
    ids, _ = script.make(path, "label nested 3000 deep")
    result = subprocess.run(
        [sys.executable, "-m", "sapdi_local", "runs", "--db", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: run " + ids[DAMAGED])
    assert "label 'accuracy'" in lines[0]
    assert DAMAGED in result.stdout and INTACT in result.stdout


# ---------------------------------------------------------------- the explorer's API


@pytest.fixture
def client(edited: Edited) -> Iterator[httpx.Client]:
    app = Explorer(edited.path)
    with httpx.Client(
        transport=httpx.WSGITransport(app=app), base_url="http://127.0.0.1:8600"
    ) as client:
        yield client
    app.close()


def answer(client: httpx.Client, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return strict_json(response.text)


def test_the_explorer_lists_and_shows_both_runs_with_the_unreadable_field_marked(
    edited: Edited, client: httpx.Client
) -> None:
    for sort in ("start", "name", "status", "duration", "metric:loss", "param:epochs"):
        listing = answer(client, "/api/runs", sort=sort)
        assert sorted(run["id"] for run in listing["runs"]) == sorted(
            [edited.damaged, edited.intact]
        )
    summaries = {run["id"]: run for run in listing["runs"]}
    assert summaries[edited.intact]["unreadable"] == []
    marked = [(item["field"], item["name"]) for item in summaries[edited.damaged]["unreadable"]]
    one = answer(client, f"/api/runs/{edited.damaged}")
    if edited.in_history:
        assert marked == [] and one["unreadable"] == []
    else:
        assert marked == [(edited.damage.field, edited.damage.name)]
        assert [(item["field"], item["name"]) for item in one["unreadable"]] == marked
        if edited.damage.field in RUN_COLUMNS:
            assert summaries[edited.damaged][edited.damage.field] is None
    assert set(one["metric_stats"]) >= {"accuracy"}
    answer(client, "/api/collections")
    answer(client, "/api/database")


def test_the_explorer_charts_the_readable_values_and_says_which_were_left_out(
    edited: Edited, client: httpx.Client
) -> None:
    response = client.get("/api/metrics", params=[("run", edited.damaged), ("run", edited.intact)])
    assert response.status_code == 200, response.text
    data = strict_json(response.text)
    damaged = data["runs"][edited.damaged]
    assert len(damaged["accuracy"]["value"]) == 5
    assert len(data["runs"][edited.intact]["loss"]["value"]) == 5
    if edited.in_history:
        assert len(damaged["loss"]["value"]) == len(damaged["loss"]["timestamp"]) == 4
        assert [(u["run_id"], u["field"], u["name"]) for u in data["unreadable"]] == [
            (edited.damaged, "metric", "loss")
        ]
    elif (edited.damage.field, edited.damage.name) == ("metric", None):
        assert set(damaged) == {"accuracy"} and len(data["unreadable"]) == 1
    else:
        assert data["unreadable"] == []


# ---------------------------------------------------------------- the explorer's page

try:
    import test_ui_browser as harness
except pytest.skip.Exception:  # no Playwright: the browser test below is skipped
    harness = None

if harness is not None:
    browser = harness.browser  # the Chromium of tests/test_ui_browser.py, as a fixture here


@pytest.mark.skipif(
    harness is None or not (harness.CHROMIUM.exists() or harness.BROWSER_REQUIRED),
    reason="needs Playwright and Chromium (see tests/test_ui_browser.py)",
)
def test_the_page_marks_unreadable_fields_and_charts_a_run_whose_name_cannot_be_read(
    browser: Any, tmp_path: Path
) -> None:
    path = tmp_path / "tracking.db"
    ids, _ = script.make(path, "label NaN")
    script.run_column("name", b"damaged")(path)  # and a name that is a blob
    nameless = f"(unreadable name) {ids[DAMAGED][:8]}"
    context, page, errors = harness.new_page(browser)
    try:
        with harness.serving(path) as base:
            page.goto(f"{base}/#/")
            harness.open_collection(page, "churn", "baseline")
            assert sorted(harness.row_names(page)) == sorted([INTACT, nameless])
            row = page.locator(f"#runs-table tr[data-run-id='{ids[DAMAGED]}'] .unreadable")
            assert row.text_content() == "unreadable: name, label 'accuracy'"
            harness.select_runs(page, INTACT, nameless)
            chart = harness.wait_for_traces(page, "#charts", "loss", 2)
            assert sorted(chart["names"]) == sorted([INTACT, nameless])
            page.get_by_role("link", name=nameless, exact=True).click()
            page.locator("#run-unreadable li").first.wait_for()
            reasons = page.locator("#run-unreadable li").all_text_contents()
            assert reasons[0].startswith("name is a blob") and "not valid JSON" in reasons[1]
    finally:
        context.close()
    assert not errors, f"the page raised: {errors}"
