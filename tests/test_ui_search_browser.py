"""The explorer's search, sorting, sweep chart, chart options and CSV download in a real
browser: headless Chromium against the real server, through the harness (server, browser,
page, helpers) of tests/test_ui_browser.py.

The filter box takes an expression of the search language (or plain text, a name search); a
malformed expression shows its error under the box, position marked, and the table keeps its
rows; the expression lives in the address. Headers sort by any column, numbers by value and
text after them. The parallel-coordinates chart draws the table's runs on chosen axes and
brushing an axis filters the table. Line charts take a log scale and smoothing, kept in the
address. The table downloads as CSV: every run the filters select, formulas defused.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sapdi_local import MLTrackingSDK
from sapdi_local.ui.server import STATIC_FOLDER

try:
    import test_ui_browser as harness
except pytest.skip.Exception:  # no Playwright: every test here is skipped
    pytest.skip("needs Playwright (see tests/test_ui_browser.py)", allow_module_level=True)

pytestmark = harness.pytestmark
browser = harness.browser  # the harness's Chromium, as a fixture here too

FORMULA = '=HYPERLINK("https://evil.example/x","click")'
SEED = "<i>seed</i>"  # a parameter named in Plotly's markup
# name: (learning rate, optimizer, width: numbers and text, last accuracy)
SWEEP = {
    FORMULA: (0.001, "adam", "10", 0.70),
    "run-b": (0.01, "sgd", "9", 0.80),
    "run-c": (0.02, "adam", "wide", 0.85),
    "run-d": (0.1, "sgd", "2", 0.90),
    "@sum": (0.3, "adam", "narrow", 0.60),
    "Über-run": (0.05, "<b>rms</b>prop", "3", 0.95),
}
ALL = sorted(SWEEP)


def write_sweep(path: Path) -> None:
    """The runs of SWEEP in scenario "hp", collection "sweep"; a loss over 20 steps that
    zigzags (so smoothing shows), an accuracy curve ending at the table's value."""
    with MLTrackingSDK(db_path=path, scenario="hp", notebook="sweep.ipynb") as sdk:
        for name, (rate, optimizer, width, accuracy) in SWEEP.items():
            with sdk.start_run(run_collection_name="sweep", run_name=name):
                sdk.log_parameters(
                    {"lr": rate, "optimizer": optimizer, "width": width, SEED: len(name)}
                )
                sdk.set_tags({"team": "a" if rate < 0.05 else "b"})
                for step in range(20):
                    zigzag = 0.2 if step % 2 else -0.2
                    sdk.log_metric("loss", (1 + zigzag) / (step + 1) + rate, step=step)
                    sdk.log_metric("accuracy", accuracy * (step + 1) / 20, step=step)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("search") / "sweep.db"
    write_sweep(path)
    with harness.serving(path) as url:
        yield url


@pytest.fixture
def page(browser: Any, base: str) -> Iterator[Any]:
    """A fresh page at the sweep's collection, failing the test on script errors."""
    context, page, errors = harness.new_page(browser)
    page.goto(f"{base}/#/")
    harness.open_collection(page, "hp", "sweep")
    yield page
    context.close()
    assert not errors, f"the page raised: {errors}"


def wait_rows(page: Any, names: list[str]) -> None:
    """Wait until the table shows exactly ``names`` (in any order)."""
    page.wait_for_function(
        "names => { const shown = [...document.querySelectorAll("
        "'#runs-table tr[data-run-id] a.run-link')].map(a => a.textContent).sort();"
        " return JSON.stringify(shown) === JSON.stringify(names); }",
        arg=sorted(names),
    )


def column_values(page: Any, column: str) -> list[str]:
    """The cells of a column, in row order, by the position of its header."""
    return list(
        page.evaluate(
            "column => { const heads = [...document.querySelectorAll("
            "'#runs-table thead tr:last-child th')];"
            " const index = heads.findIndex(th => th.dataset.column === column);"
            " return [...document.querySelectorAll('#runs-table tr[data-run-id]')]"
            ".map(row => row.children[index].textContent); }",
            column,
        )
    )


# ---------------------------------------------------------------- the filter box


def test_an_expression_filters_the_table_and_plain_text_searches_names(page: Any) -> None:
    page.fill("#filter-text", "params.lr < 0.05 and params.optimizer = 'adam'")
    wait_rows(page, [FORMULA, "run-c"])
    assert page.get_attribute("#filter-mode", "data-mode") == "expression"
    assert "where=params.lr" in page.url
    page.fill("#filter-text", "status = 'FINISHED' AND (tags.team = 'b' OR name ILIKE 'über%')")
    wait_rows(page, ["run-d", "@sum", "Über-run"])
    page.fill("#filter-text", "RUN-")  # no operator, key or keyword: a search in names
    wait_rows(page, ["run-b", "run-c", "run-d"])
    assert page.get_attribute("#filter-mode", "data-mode") == "names"
    assert "q=RUN-" in page.url and "where=" not in page.url
    page.fill("#filter-text", "über")  # any case, in all of Unicode
    wait_rows(page, ["Über-run"])
    page.fill("#filter-text", "")
    wait_rows(page, ALL)


def test_a_malformed_expression_shows_its_position_and_keeps_the_rows(page: Any) -> None:
    page.fill("#filter-text", "params.optimizer = 'sgd'")
    wait_rows(page, ["run-b", "run-d"])
    page.fill("#filter-text", "params.lr = = 0.1")
    page.locator("#filter-error").wait_for(state="visible")
    error = page.locator("#filter-error")
    assert "position 13" in error.text_content()
    assert error.get_attribute("data-position") == "13"
    assert page.locator("#filter-error mark").text_content() == "="
    assert page.locator("#filter-error pre").text_content() == "params.lr = = 0.1"
    assert page.locator("#error").is_hidden()  # not the page's banner: the box's own
    assert sorted(harness.row_names(page)) == ["run-b", "run-d"]  # the rows it had
    page.fill("#filter-text", "params.lr = 0.1")
    wait_rows(page, ["run-d"])
    assert page.locator("#filter-error").is_hidden()


def test_the_expression_survives_a_reload(page: Any) -> None:
    expression = "params.width >= 3 or params.optimizer IN ('sgd')"
    page.fill("#filter-text", expression)
    wait_rows(page, [FORMULA, "run-b", "run-d", "Über-run"])
    page.reload()
    page.locator("#runs-table tr[data-run-id]").first.wait_for()
    wait_rows(page, [FORMULA, "run-b", "run-d", "Über-run"])
    assert page.input_value("#filter-text") == expression


# ---------------------------------------------------------------- sorting


def test_a_header_sorts_numbers_by_value_then_text(page: Any) -> None:
    header = page.locator('#runs-table th[data-column="param:width"]')
    header.click()
    page.wait_for_function(
        "() => document.querySelector('#runs-table th.sorted')?.dataset.column === 'param:width'"
    )
    page.wait_for_function(
        "() => new URL(location.href).hash.includes('sort=param%3Awidth')"
        " && document.querySelector('#runs-table tr[data-run-id] a.run-link').textContent"
        " === 'run-d'"
    )
    assert column_values(page, "param:width") == ["2", "3", "9", "10", "narrow", "wide"]
    page.locator('#runs-table th[data-column="param:width"]').click()
    page.wait_for_function("() => location.hash.includes('dir=desc')")
    page.wait_for_function(
        "() => document.querySelector('#runs-table tr[data-run-id] a.run-link').textContent"
        " !== 'run-d'"
    )
    assert column_values(page, "param:width") == ["10", "9", "3", "2", "wide", "narrow"]
    page.locator('#runs-table th[data-column="tag:team"]').click()  # tags sort too
    page.wait_for_function("() => location.hash.includes('sort=tag%3Ateam')")
    page.reload()
    page.locator("#runs-table tr[data-run-id]").first.wait_for()
    assert page.locator("#runs-table th.sorted").get_attribute("data-column") == "tag:team"


# ---------------------------------------------------------------- parallel coordinates

PARCOORDS = "#parcoords-chart"


def parcoords(page: Any) -> dict[str, Any]:
    return dict(
        page.evaluate(
            "selector => { const el = document.querySelector(selector); const t = el.data[0];"
            " return { type: t.type, labels: t.dimensions.map(d => d.label),"
            " ticktext: t.dimensions.map(d => d.ticktext || null),"
            " lines: t.line.color.length,"
            " svg: [...el.querySelectorAll('text')].map(n => n.textContent),"
            " styled: el.querySelectorAll('tspan[style], svg a').length,"
            " webgl: !el.textContent.includes('WebGL is not supported') }; }",
            PARCOORDS,
        )
    )


def test_parallel_coordinates_on_chosen_axes_and_brushing_filters_the_table(page: Any) -> None:
    page.click("#parcoords-toggle")
    page.locator("#parcoords-section").wait_for(state="visible")
    for name in (SEED, "lr", "optimizer", "width"):  # the first ones are the default axes
        box = page.locator(f"#parcoords-axes input[value={harness.css_string(name)}]")
        if box.is_checked() != (name in (SEED, "lr", "optimizer")):
            box.click()
    page.select_option("#parcoords-metric", "accuracy")
    page.wait_for_function(
        "selector => { const el = document.querySelector(selector);"
        " return !!el && Array.isArray(el.data) && el.data[0].type === 'parcoords'"
        " && el.data[0].dimensions.length === 4; }",
        arg=PARCOORDS,
    )
    page.wait_for_function(  # Plotly drew its axes (so WebGL worked, under the page's CSP)
        "selector => document.querySelectorAll(`${selector} .axis-title`).length === 4",
        arg=PARCOORDS,
    )
    figure = parcoords(page)
    assert figure["webgl"]
    # Labels are read as markup: handed over escaped. Ticks are drawn as plain text.
    assert figure["labels"] == ["&lt;i&gt;seed&lt;/i&gt;", "lr", "optimizer", "accuracy"]
    assert figure["lines"] == len(SWEEP)
    assert figure["ticktext"][2] == ["<b>rms</b>prop", "adam", "sgd"]  # a categorical axis
    assert SEED in figure["svg"] and "<b>rms</b>prop" in figure["svg"]  # shown literally
    assert figure["styled"] == 0
    assert "pc=%3Ci%3Eseed%3C%2Fi%3E,lr,optimizer" in page.url and "pcm=accuracy" in page.url

    page.evaluate(
        "selector => window.Plotly.restyle(document.querySelector(selector),"
        " {'dimensions[1].constraintrange': [[0.005, 0.06]]})",
        PARCOORDS,
    )
    wait_rows(page, ["run-b", "run-c", "Über-run"])
    assert "3 of 6" in page.locator("#brushed-count").text_content()
    page.evaluate(  # a second axis: adam only (its category's index, 1)
        "selector => window.Plotly.restyle(document.querySelector(selector),"
        " {'dimensions[2].constraintrange': [[0.5, 1.5]]})",
        PARCOORDS,
    )
    wait_rows(page, ["run-c"])
    page.evaluate(
        "selector => window.Plotly.restyle(document.querySelector(selector),"
        " {'dimensions[2].constraintrange': null})",
        PARCOORDS,
    )
    wait_rows(page, ["run-b", "run-c", "Über-run"])
    page.click("#parcoords-clear")
    wait_rows(page, ALL)
    assert page.evaluate(
        "selector => document.querySelector(selector).data[0].dimensions"
        ".every(d => !d.constraintrange)",
        PARCOORDS,
    )


# The code regl compiles for Plotly's parcoords, kept as functions for the page's CSP (see
# static/views/parcoords-gl.js). SAPDI_WRITE_REGL=1 writes it for the installed Plotly.
REGL_MODULE = STATIC_FOLDER / "views" / "parcoords-regl.js"
RECORD_FUNCTION = """() => { const real = Function; window.__compiled = [];
  function recording(...parts) { window.__compiled.push(parts); return real.apply(null, parts); }
  recording.prototype = real.prototype; window.Function = recording; }"""
DRAW_PARCOORDS = """async () => {
  for (const [axes, lines] of [[2, 3], [6, 500]]) {
    const el = document.body.appendChild(document.createElement('div'));
    const dimensions = [...Array(axes)].map((_, i) => ({ label: `d${i}`,
      values: [...Array(lines)].map((_, k) => (k * (i + 3)) % 17) }));
    await window.Plotly.newPlot(el, [{ type: 'parcoords', dimensions,
      line: { color: dimensions[0].values, colorscale: 'Viridis', showscale: true } }]);
    await window.Plotly.restyle(el, { 'dimensions[0].constraintrange': [[2, 9]] });
    await window.Plotly.relayout(el, { width: 500 });
    window.Plotly.purge(el);
    el.remove();
  }
  return [window.Plotly.version, window.__compiled];
}"""
REGL_HEAD = """/*
 * Generated by tests/test_ui_search_browser.py (SAPDI_WRITE_REGL=1): the code that regl,
 * inside Plotly {version}'s parallel coordinates, makes with Function(...), as functions, so
 * that the page draws them without eval (see parcoords-gl.js). Do not edit: a test checks
 * that this is what the installed Plotly asks for, and writes it again when told to.
 */

"""


def regl_module(browser: Any, base: str) -> str:
    """The module of the code the installed Plotly's regl compiles for parcoords, read in a
    page whose CSP is bypassed (so that Function runs) while recording what it is given."""
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(f"{base}/#/")
        page.wait_for_function("() => !!window.Plotly")
        page.evaluate(RECORD_FUNCTION)
        version, compiled = page.evaluate(DRAW_PARCOORDS)
    finally:
        context.close()
    assert compiled, "Plotly's parcoords compiled nothing"
    functions = ",\n".join(
        f"function ({', '.join(parts[:-1])}) {{\n{parts[-1]}\n}}" for parts in compiled
    )
    return (
        REGL_HEAD.format(version=version)
        + f"export const PLOTLY_VERSION = {json.dumps(version)};\n\n"
        + f"export const FUNCTIONS = [\n{functions},\n];\n"
    )


def test_the_precompiled_parcoords_code_is_what_the_installed_plotly_compiles(
    browser: Any, base: str
) -> None:
    expected = regl_module(browser, base)
    if os.environ.get("SAPDI_WRITE_REGL") == "1":
        REGL_MODULE.write_text(expected)
    assert REGL_MODULE.read_text() == expected, (
        "Plotly's parcoords compiles other code than static/views/parcoords-regl.js holds; "
        "write it again: SAPDI_WRITE_REGL=1 pytest tests/test_ui_search_browser.py -k precompiled"
    )


# ---------------------------------------------------------------- line charts


def loss_chart(page: Any, traces: int) -> dict[str, Any]:
    return harness.wait_for_traces(page, "#charts", "loss", traces)


def test_log_scale_is_a_switch_kept_in_the_address(page: Any) -> None:
    harness.select_runs(page, "run-b", "run-d")
    assert loss_chart(page, 2)["layout"]["yaxis"].get("type") in (None, "linear", "-")
    page.check("#chart-log")
    page.wait_for_function(
        "() => document.querySelector('#charts div.metric-chart[data-metric=\"loss\"]')"
        ".layout.yaxis.type === 'log'"
    )
    assert "log=1" in page.url
    page.reload()
    layout = loss_chart(page, 2)["layout"]
    assert layout["yaxis"]["type"] == "log"
    assert page.is_checked("#chart-log")


def test_smoothing_draws_the_moving_average_over_the_faint_raw_line(page: Any) -> None:
    harness.select_runs(page, "run-b", "run-d")
    loss_chart(page, 2)
    before = loss_values(page)
    page.evaluate(
        "() => { const slider = document.querySelector('#chart-smoothing');"
        " slider.value = '0.8'; slider.dispatchEvent(new Event('input', { bubbles: true })); }"
    )
    loss_chart(page, 4)  # each run: its raw line and its smoothed one
    traces = page.evaluate(
        "() => document.querySelector('#charts div.metric-chart[data-metric=\"loss\"]')"
        ".data.map(t => ({ uid: t.uid, y: t.y, opacity: t.opacity, legend: t.showlegend }))"
    )
    faint = [trace for trace in traces if trace["uid"].endswith(":raw")]
    smooth = [trace for trace in traces if not trace["uid"].endswith(":raw")]
    assert len(faint) == len(smooth) == 2
    assert all(trace["opacity"] < 0.5 and trace["legend"] is False for trace in faint)
    assert sorted(trace["y"] for trace in faint) == sorted(before)  # the raw values, kept
    for line, original in zip(smooth, faint, strict=True):
        assert line["y"][0] == pytest.approx(original["y"][0])  # debiased: starts on the data
        assert line["y"] != pytest.approx(original["y"])
        # the zigzag flattens: consecutive smoothed values differ less than raw ones
        assert max_step(line["y"]) < max_step(original["y"])
    assert "smooth=0.80" in page.url


def loss_values(page: Any) -> list[list[float]]:
    return list(
        page.evaluate(
            "() => document.querySelector('#charts div.metric-chart[data-metric=\"loss\"]')"
            ".data.map(t => t.y)"
        )
    )


def max_step(values: list[float]) -> float:
    return max(abs(later - earlier) for earlier, later in zip(values, values[1:], strict=False))


# ---------------------------------------------------------------- CSV


def test_the_csv_holds_every_filtered_run_with_formulas_defused(
    browser: Any, tmp_path: Path
) -> None:
    """202 runs match the expression, one page of the table shows 200: the CSV has them all,
    with the visible columns; a name that a spreadsheet would run as a formula is escaped."""
    db = tmp_path / "many.db"
    write_sweep(db)
    with MLTrackingSDK(db_path=db, scenario="hp", notebook="sweep.ipynb") as sdk:
        for index in range(200):
            with sdk.start_run(run_collection_name="sweep", run_name=f"bulk, {index:03d}"):
                sdk.log_parameters({"lr": 0.001, "optimizer": "adam", "width": "7"})
                sdk.log_metric("accuracy", index / 1000)
    context, page, errors = harness.new_page(browser)
    try:
        with harness.serving(db) as url:
            page.goto(f"{url}/#/")
            harness.open_collection(page, "hp", "sweep")
            page.fill("#filter-text", "params.optimizer = 'adam' and params.lr < 0.05")
            page.wait_for_function(
                "() => document.querySelector('#main .page-head').textContent.includes('202 runs')"
            )
            assert page.locator("#runs-table tr[data-run-id]").count() == 200
            with page.expect_download() as download:
                page.click("#download-csv")
            path = download.value.path()
            assert download.value.suggested_filename == "sweep.csv"
            text = Path(path).read_bytes().decode("utf-8")
    finally:
        context.close()
    assert not errors, f"the page raised: {errors}"
    assert text.endswith("\r\n")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == 202
    assert list(rows[0]) == [
        "name",
        "id",
        "status",
        "start_time",
        "duration_seconds",
        f"params.{SEED}",
        "params.lr",
        "params.optimizer",
        "params.width",
        "tags.team",
        "metrics.accuracy",
        "metrics.loss",
    ]
    names = {row["name"] for row in rows}
    assert "'" + FORMULA in names  # a leading ' defuses it; the rest is literal
    assert FORMULA not in names and "run-c" in names and "@sum" not in names
    assert {f"bulk, {index:03d}" for index in range(200)} <= names  # commas quoted
    assert all(len(row["id"]) == 32 for row in rows)
    formula = next(row for row in rows if row["name"] == "'" + FORMULA)
    assert formula["params.lr"] == "0.001" and formula["metrics.accuracy"] == "0.7"


# ---------------------------------------------------------------- one language, three places

SAME_EVERYWHERE = [
    "params.lr < 0.05 and params.optimizer = 'adam'",
    "params.lr BETWEEN 0.01 AND 0.1 OR tags.team = 'a'",
    "NOT (params.optimizer IN ('sgd', 'adam'))",
    "name ILIKE 'über%' OR metrics.accuracy >= 0.85",
    "params.width > 5 AND params.width IS NOT NULL",
    "name LIKE 'run-%' AND NOT tags.team = 'b'",
    "metrics.accuracy BETWEEN 0.6 AND 0.8 OR params.lr > 0.2",
]


@pytest.mark.parametrize("expression", SAME_EVERYWHERE)
def test_the_api_the_command_line_and_the_page_select_the_same_runs(
    page: Any, base: str, tmp_path: Path, expression: str
) -> None:
    """One expression, three surfaces: ``tracking.search_runs`` (the API), ``sapdi-local runs
    --where`` (the command line) and the explorer's filter box in headless Chromium, each
    on the sweep's collection, select exactly the same runs."""
    from click.testing import CliRunner

    from sapdi_local.cli import main

    database = json.loads(
        page.evaluate("() => fetch('/api/database').then(answer => answer.text())")
    )["path"]
    scoped = f"collection = 'sweep' AND ({expression})"
    with MLTrackingSDK(db_path=database) as sdk:
        from_api = sorted(run.name for run in sdk.search_runs(scoped))
    listed = CliRunner().invoke(
        main, ["runs", "--json", "--limit", "1000", "--where", scoped, "--db", database]
    )
    assert listed.exit_code == 0, listed.output
    from_cli = sorted(run["name"] for run in json.loads(listed.stdout))
    assert from_cli == from_api, expression
    page.fill("#filter-text", expression)
    assert page.get_attribute("#filter-mode", "data-mode") == "expression"
    wait_rows(page, from_api)
    assert sorted(harness.row_names(page)) == from_api
