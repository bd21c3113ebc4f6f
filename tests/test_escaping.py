"""Output that cannot be spoofed: names and values are shown literally.

A run name, collection, parameter or metric can hold terminal control sequences (ESC ...),
newlines, carriage returns and bidirectional overrides. Text for people escapes them all
(``display.printable``), in every command's tables and lines; ``--json`` stays exact.
``compare`` decides "differs" on exact values and gives numbers as JSON numbers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner, Result

from sapdi_local import MLTrackingSDK
from sapdi_local.cli import main
from sapdi_local.display import printable

# What a terminal acts on instead of showing: C0 but the newline ending each line, DEL, C1,
# and the bidirectional embeddings, overrides and isolates.
ACTED_ON = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
NAME = "evil\x1b[2J\x1b]0;owned\x07\rFAKE\nline\u202eabc\x9b31m"
COLLECTION = "coll\x1b[31mred"
SCENARIO = "scen\tario\u2066"
PARAMETER = "lr\x1b[1A"
METRIC = "loss\x1b[K"


def invoke(*arguments: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(arguments), input=stdin)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[2J", "\\x1b[2J"),
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("\x00\x07\x7f", "\\x00\\x07\\x7f"),
        ("\x9b31m\x85", "\\x9b31m\\x85"),
        ("abc\u202edef\u202a\u2066\u2069", "abc\\u202edef\\u202a\\u2066\\u2069"),
        ("plain: é ✓ 中文 🙂 a\u00a0b", "plain: é ✓ 中文 🙂 a\u00a0b"),
        ("back\\slash", "back\\slash"),
    ],
)
def test_printable_escapes_what_a_terminal_would_act_on(text: str, shown: str) -> None:
    assert printable(text) == shown
    assert not ACTED_ON.search(printable(text))


@pytest.fixture
def odd(db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]) -> dict[str, str]:
    """Two runs whose names, collection, scenario, parameter, tag, label and metric hold
    control characters and bidirectional overrides; their ids by name."""
    sdk = sdk_factory(db_path=db_path, scenario=SCENARIO, pipeline="train.py")
    ids: dict[str, str] = {}
    for name, value in ((NAME, 0.5), ("plain", 0.25)):
        run = sdk.start_run(run_collection_name=COLLECTION, run_name=name)
        sdk.log_parameters({PARAMETER: f"0.1\x1b[0m{value}"})
        sdk.set_tags({"tag\x1b[5m": "v\r2"})
        sdk.set_labels({"lab\x1bel": {"note": "x\x1b[31m"}})
        for step in range(3):
            sdk.log_metric(METRIC, value / (step + 1), step=step)
        sdk.end_run()
        ids[name] = run.id
    sdk.close()
    return ids


def readable(result: Result) -> str:
    """The output of a command that went well, checked to hold nothing a terminal acts on."""
    assert result.exit_code == 0, result.output
    found = ACTED_ON.search(result.output)
    assert found is None, f"{found.group()!r} reached the terminal: {result.output!r}"
    return result.output


COMMANDS: dict[str, Callable[[dict[str, str]], list[str]]] = {
    "runs": lambda ids: ["runs", "--metric", METRIC],
    "show": lambda ids: ["show", ids[NAME]],
    "compare": lambda ids: ["compare", ids[NAME], ids["plain"]],
    "history": lambda ids: ["history", ids[NAME], METRIC],
    "collections": lambda ids: ["collections"],
    "where": lambda ids: ["where"],
    "check": lambda ids: ["check", ids[NAME], "--metric", METRIC, "--min", "0"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_text_output_shows_control_characters_escaped(
    command: str, odd: dict[str, str], db_path: Path
) -> None:
    output = readable(invoke(*COMMANDS[command](odd), "--db", str(db_path)))
    if command in ("runs", "show", "check"):
        assert "evil\\x1b" in output
    if command in ("show", "compare"):
        assert "lr\\x1b[1A" in output
    if command == "history":
        assert "loss\\x1b[K" in output
    if command == "collections":
        assert "coll\\x1b[31mred" in output and "scen\\tario\\u2066" in output


def test_delete_lists_what_it_would_delete_escaped(odd: dict[str, str], db_path: Path) -> None:
    result = invoke("delete", "--run", odd[NAME], "--db", str(db_path), stdin="n\n")
    assert result.exit_code == 1  # declined
    assert not ACTED_ON.search(result.output) and "evil\\x1b[2J" in result.output


def test_errors_show_names_escaped(odd: dict[str, str], db_path: Path) -> None:
    """An error that lists runs (two by the same name) shows their names escaped."""
    with MLTrackingSDK(db_path=db_path, scenario="other") as sdk, sdk.start_run(run_name=NAME):
        pass
    result = invoke("show", NAME, "--db", str(db_path))
    assert result.exit_code == 2 and "names 2 runs" in result.output
    assert not ACTED_ON.search(result.output)


@pytest.mark.parametrize(
    "arguments",
    [
        lambda ids: ["runs", "--json"],
        lambda ids: ["show", ids[NAME], "--json"],
        lambda ids: ["compare", ids[NAME], ids["plain"], "--json"],
    ],
    ids=["runs", "show", "compare"],
)
def test_json_output_stays_exact(
    arguments: Callable[[dict[str, str]], list[str]], odd: dict[str, str], db_path: Path
) -> None:
    result = invoke(*arguments(odd), "--db", str(db_path))
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    names = [run["name"] for run in (data if isinstance(data, list) else data.get("runs", [data]))]
    assert NAME in names


# ---------------------------------------------------------------- compare


@pytest.fixture
def close_runs(db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]) -> dict[str, str]:
    """Two runs whose accuracy differs only in the seventh significant digit, whose loss
    is the same, and whose parameters are text."""
    sdk = sdk_factory(db_path=db_path, scenario="churn")
    ids: dict[str, str] = {}
    for name, accuracy in (("a", 0.1234561), ("b", 0.1234564)):
        run = sdk.start_run(run_name=name)
        sdk.log_metrics({"accuracy": accuracy, "loss": 0.5})
        sdk.log_parameters({"epochs": 3})
        sdk.end_run()
        ids[name] = run.id
    sdk.close()
    return ids


def test_compare_tells_values_apart_that_agree_to_six_digits(
    close_runs: dict[str, str], db_path: Path
) -> None:
    # By id: a name as short as "a" may also be a prefix of the other run's id.
    output = readable(invoke("compare", close_runs["a"], close_runs["b"], "--db", str(db_path)))
    rows = {line.split()[-3]: line for line in output.splitlines()[2:]}
    assert rows["accuracy"].startswith("*")
    assert rows["accuracy"].split()[-2:] == ["0.1234561", "0.1234564"]  # shown apart
    assert not rows["loss"].startswith("*") and rows["loss"].split()[-2:] == ["0.5", "0.5"]
    assert not rows["epochs"].startswith("*")


def test_compare_json_gives_numbers_as_numbers_and_differs_on_exact_values(
    close_runs: dict[str, str], db_path: Path
) -> None:
    result = invoke("compare", close_runs["a"], close_runs["b"], "--json", "--db", str(db_path))
    assert result.exit_code == 0
    fields: dict[str, Any] = {f["name"]: f for f in json.loads(result.stdout)["fields"]}
    assert fields["accuracy"]["values"] == [0.1234561, 0.1234564]
    assert fields["accuracy"]["differs"] is True
    assert fields["loss"] == {
        "kind": "metric",
        "name": "loss",
        "values": [0.5, 0.5],
        "differs": False,
    }
    assert fields["epochs"]["values"] == ["3", "3"]  # parameters are stored as text


# ---------------------------------------------------------------- the explorer, in a browser
#
# Plotly reads the text it draws as its own markup (<a href>, <b>, <br>, entities): names
# must reach chart legends, category labels, axis titles and hover text as literal text, in
# the page and in the board's exported HTML. The harness is tests/test_ui_browser.py's.

try:
    import test_ui_browser as harness
except pytest.skip.Exception:  # no Playwright: the browser tests below are skipped
    harness = None

LINK_RUN = '<a href="https://evil.example/phish">x</a>'
BOLD_RUN = "<b>bold</b><br>"
ENTITY_METRIC = "acc &amp; <i>f1</i>"  # one value per run: a bar chart, its title on the axis
OPTIMIZER = "<u>opt</u>"  # a text parameter: a category axis against it

browser_tests = pytest.mark.skipif(
    harness is None or not (harness.CHROMIUM.exists() or harness.BROWSER_REQUIRED),
    reason="needs Playwright and Chromium (see tests/test_ui_browser.py)",
)
if harness is not None:
    browser = harness.browser  # the module's Chromium, as a fixture here too


def write_markup_runs(path: Path) -> dict[str, str]:
    """Two runs named in Plotly's markup, in scenario "spoof", collection "names"."""
    ids: dict[str, str] = {}
    with MLTrackingSDK(db_path=path, scenario="spoof", notebook="n.ipynb") as sdk:
        for index, name in enumerate((LINK_RUN, BOLD_RUN)):
            with sdk.start_run(run_collection_name="names", run_name=name) as run:
                sdk.log_parameters({"optimizer": f"{OPTIMIZER}{index}"})
                for step in range(5):
                    sdk.log_metric("loss", 1.0 / (step + 1 + index), step=step)
                sdk.log_metric(ENTITY_METRIC, 0.5 + index / 10)
            ids[name] = run.id
    return ids


SVG_TEXT = """root => {
  const el = document.querySelector(root);
  const texts = (selector) => [...el.querySelectorAll(selector)].map((node) => node.textContent);
  return {
    legend: texts('.legendtext'),
    ticks: texts('.xtick text'),
    titles: texts('.g-xtitle, .g-ytitle'),
    hover: texts('.hoverlayer text'),
    links: el.querySelectorAll('svg a').length,
    styled: el.querySelectorAll('svg tspan[style*="bold"], svg tspan[style*="italic"]').length,
  };
}"""


def svg_text(page: Any, root: str) -> dict[str, Any]:
    return dict(page.evaluate(SVG_TEXT, root))


def hover(page: Any, root: str) -> None:
    """Hover over the middle of the chart under ``root`` (Plotly's own hover event)."""
    page.evaluate(
        "root => { const el = document.querySelector(root);"
        " window.Plotly.Fx.hover(el, el.data.map((t, i) => ({curveNumber: i,"
        " pointNumber: Math.floor(t.y.length / 2)}))); }",
        root,
    )
    page.wait_for_function(
        "root => document.querySelector(root).querySelectorAll('.hoverlayer text').length > 0",
        arg=root,
    )


def chart_root(metric: str, parent: str = "#charts") -> str:
    return f"{parent} div.metric-chart[data-metric={harness.css_string(metric)}]"


@browser_tests
def test_run_names_show_literally_in_legends_labels_titles_and_hover(
    browser: Any, tmp_path: Path
) -> None:
    db = tmp_path / "markup.db"
    write_markup_runs(db)
    context, page, errors = harness.new_page(browser)
    try:
        with harness.serving(db) as base:
            page.goto(f"{base}/#/")
            harness.open_collection(page, "spoof", "names")
            harness.select_runs(page, LINK_RUN, BOLD_RUN)
            harness.wait_for_traces(page, "#charts", "loss", 2)
            harness.wait_for_traces(page, "#charts", ENTITY_METRIC, 2)
            loss = svg_text(page, chart_root("loss"))
            assert sorted(loss["legend"]) == sorted([LINK_RUN, BOLD_RUN])
            assert loss["links"] == 0 and loss["styled"] == 0
            hover(page, chart_root("loss"))
            hovered = svg_text(page, chart_root("loss"))
            assert any(LINK_RUN in text for text in hovered["hover"]), hovered["hover"]
            assert any(BOLD_RUN in text for text in hovered["hover"]), hovered["hover"]
            assert hovered["links"] == 0 and hovered["styled"] == 0
            bars = svg_text(page, chart_root(ENTITY_METRIC))
            assert sorted(bars["ticks"]) == sorted([LINK_RUN, BOLD_RUN])  # category labels
            assert ENTITY_METRIC in bars["titles"]  # "&amp;" stays five characters
            assert bars["links"] == 0 and bars["styled"] == 0
            assert page.locator("#runs-table a.run-link").all_text_contents().count(LINK_RUN) == 1
            assert page.locator("#runs-table a[href^='https://evil']").count() == 0
    finally:
        context.close()
    assert not errors, f"the page raised: {errors}"


@browser_tests
def test_the_exported_board_shows_names_literally(browser: Any, tmp_path: Path) -> None:
    db = tmp_path / "markup.db"
    ids = write_markup_runs(db)
    context, page, errors = harness.new_page(browser)
    try:
        with harness.serving(db) as base:
            charts = (
                f"chart=across:{quote(ENTITY_METRIC)}&chart=over:loss"
                f"&chart=versus:{quote(ENTITY_METRIC)}:optimizer"
            )
            page.goto(f"{base}/#/board?runs={ids[LINK_RUN]},{ids[BOLD_RUN]}&{charts}")
            page.wait_for_function(
                "() => [...document.querySelectorAll('#board div.board-chart')]"
                ".filter(el => Array.isArray(el.data) && el.data.length === 2).length === 3"
            )
            versus = svg_text(page, "#board div.board-chart[data-kind='versus']")
            assert sorted(versus["ticks"]) == [f"{OPTIMIZER}0", f"{OPTIMIZER}1"]
            assert "optimizer" in versus["titles"] and versus["styled"] == 0
            with page.expect_download() as download:
                page.click("#export-html")
            exported = tmp_path / "board.html"
            download.value.save_as(exported)
        offline = context.new_page()
        offline.route(re.compile(r"^(https?|wss?)://"), lambda route: route.abort())
        offline.goto(exported.as_uri())
        offline.wait_for_function(
            "() => [...document.querySelectorAll('.board-chart')]"
            ".filter(el => el.querySelector('.main-svg') && el.data.length === 2).length === 3"
        )
        names = offline.locator("#board-table .run-name").all_text_contents()
        assert names == [LINK_RUN, BOLD_RUN]
        for kind in ("across", "over", "versus"):
            drawn = svg_text(offline, f".board-chart[data-kind='{kind}']")
            assert drawn["links"] == 0 and drawn["styled"] == 0, kind
            if kind == "over":
                assert sorted(drawn["legend"]) == sorted([LINK_RUN, BOLD_RUN])
            if kind == "across":
                assert sorted(drawn["ticks"]) == sorted([LINK_RUN, BOLD_RUN])
    finally:
        context.close()
    assert not errors, f"the page raised: {errors}"


@pytest.mark.parametrize(
    "character",
    ["\u2028", "\u2029", "\u200e", "\u200f", "\u061c", "\ufeff", "\u200b", "\U000e0041"],
)
def test_invisible_characters_that_move_or_hide_text_are_shown_escaped(character: str) -> None:
    shown = printable(f"run{character}name")
    assert character not in shown
    assert shown.startswith("run\\") and shown.endswith("name")
