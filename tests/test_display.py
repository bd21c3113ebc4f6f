"""How runs and histories show themselves: compact text in a terminal (``repr``) and
compact, escaped HTML tables in Jupyter (``_repr_html_``), never a wall of raw dicts."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from sapdi_local import MLTrackingSDK, Run, tracking
from sapdi_local.model import HistoryList, MetricHistory, RunList


class TableReader(HTMLParser):
    """The cells of an HTML table, row by row (and that the markup is well nested)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.rows[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        assert self.open.pop() == tag

    def handle_data(self, data: str) -> None:
        if self.open and self.open[-1] in ("td", "th"):
            self.rows[-1][-1] += data


def cells(html: str) -> list[list[str]]:
    reader = TableReader()
    reader.feed(html)
    assert reader.open == []
    return reader.rows


@pytest.fixture
def runs(sdk: MLTrackingSDK) -> RunList:
    for index in range(3):
        with tracking.start_run(run_collection_name="sweep", run_name=f"run-{index}"):
            tracking.log_parameters({"lr": 0.1 * (index + 1)})
            tracking.set_tags({"dataset": "<b>v2</b>"})
            for step in range(4):
                tracking.log_metric("loss", 1.0 / (step + 1 + index))
            tracking.log_metric("accuracy", 0.8 + index / 100)
    return tracking.get_runs(scenario="scenario-a")


def test_get_runs_returns_a_list_that_shows_as_a_table(runs: RunList) -> None:
    assert isinstance(runs, list) and isinstance(runs, RunList)
    text = repr(runs)
    lines = text.splitlines()
    assert lines[0] == "3 runs"
    assert lines[1].split() == [
        "name",
        "id",
        "status",
        "collection",
        "started",
        "(UTC)",
        "accuracy",
        "loss",
    ]
    assert lines[3].split()[0] == "run-2" and "FINISHED" in lines[3] and "sweep" in lines[3]
    assert f"{runs[0].metrics['loss']:.6g}" in lines[3]
    assert "{" not in text  # no raw dicts
    assert len(lines) == 3 + 3


def test_long_run_lists_are_cut_and_say_how_many_more(sdk: MLTrackingSDK) -> None:
    runs = RunList(Run(id=f"id-{i}", name=f"r{i}", status="FINISHED") for i in range(25))
    text = repr(runs)
    assert text.splitlines()[0] == "25 runs"
    assert "… and 5 more runs" in text
    assert "r19" in text and "r20" not in text
    html = runs._repr_html_()
    assert len(cells(html)) == 1 + 25  # header + every row (up to 50 in HTML)
    assert "no runs" in repr(RunList())


def test_run_list_html_has_parameters_and_metrics_and_escapes(runs: RunList) -> None:
    rows = cells(runs._repr_html_())
    assert rows[0][:5] == ["name", "id", "status", "collection", "started (UTC)"]
    assert rows[0][5:] == ["lr", "accuracy", "loss"]
    assert rows[1][0] == "run-2" and rows[1][5] == runs[0].parameters["lr"]
    html = runs[0]._repr_html_()
    assert "<b>v2</b>" not in html and "&lt;b&gt;v2&lt;/b&gt;" in html


def test_a_run_shows_in_a_few_readable_lines(runs: RunList) -> None:
    run = runs[0]
    text = repr(run)
    lines = text.splitlines()
    assert lines[0] == (
        f"Run 'run-2' ({run.id[:8]}…) FINISHED, collection 'sweep', scenario 'scenario-a'"
    )
    assert re.match(r"  started     \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$", lines[1])
    assert lines[2] == f"  parameters  lr={run.parameters['lr']}"
    assert lines[3].startswith("  metrics     accuracy=0.82, loss=")
    assert lines[4] == "  tags        dataset=<b>v2</b>"
    assert "start=" not in text and "runName" not in text  # the SDK's own fields are columns
    assert repr(Run(id="abc")) == "Run(id='abc')"
    rows = dict(tuple(row) for row in cells(run._repr_html_())[1:])
    assert rows["status"] == "FINISHED" and rows["metric accuracy"] == "0.82"


def test_histories_show_as_summaries(runs: RunList) -> None:
    history = tracking.get_metrics_history(run=runs[2])
    assert isinstance(history, HistoryList)
    text = repr(history)
    lines = text.splitlines()
    assert lines[0].split() == ["metric", "run", "values", "steps", "last", "min", "max"]
    accuracy, loss = (line.split() for line in lines[2:])
    assert accuracy == ["accuracy", runs[2].id[:8] + "…", "1", "0–0", "0.8", "0.8", "0.8"]
    assert loss == ["loss", runs[2].id[:8] + "…", "4", "0–3", "0.25", "0.25", "1"]
    assert repr(history[1]) == (
        f"MetricHistory 'loss' of run {runs[2].id[:8]}…: 4 values, steps 0–3, "
        "last 0.25, min 0.25, max 1"
    )
    assert cells(history._repr_html_())[2] == loss
    assert cells(history[1]._repr_html_())[1] == loss
    empty = MetricHistory(run_id="r", name="m", values=())
    assert repr(empty) == "MetricHistory 'm' of run r: no values"
    assert repr(HistoryList()) == "no metric histories"
