"""The explorer's page in a real browser: headless Chromium against the real server.

Every test loads the page from a server on a free loopback port (one test starts it the way a
user does, as ``sapdi-local ui`` in a subprocess) and drives it through the stable hooks the
page promises (``#runs-table``, ``a.collection``, ``div.metric-chart`` ...). Runs are written
by the SDK. Charts are checked through their Plotly graph divs (``el.data``, ``el.layout``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sapdi_local import MLTrackingSDK
from sapdi_local.ui.headless import CHROMIUM_ARGS as HEADLESS_ARGS
from sapdi_local.ui.headless import chromium_path
from sapdi_local.ui.server import make_explorer_server

# .ci/run sets SAPDI_REQUIRE_BROWSER=1: there a missing browser fails these tests instead of
# skipping them. SAPDI_CHROMIUM names another Chromium binary.
BROWSER_REQUIRED = os.environ.get("SAPDI_REQUIRE_BROWSER") == "1"
if BROWSER_REQUIRED:
    import playwright.sync_api as playwright_api
else:
    playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = chromium_path()
CHROMIUM_ARGS = list(HEADLESS_ARGS)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WAIT_MS = 15_000

# Names that must reach the page as text: markup, commas, colons and non-ASCII letters.
ODD_SCENARIO = "odd: <b>scénario</b>, two"
ODD_COLLECTION = "a, b: <script>window.__pwned = 1</script> ü"
ODD_RUN = "<script>window.__pwned = 2</script>, run: ✓"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and not BROWSER_REQUIRED,
    reason="needs Chromium (Debian: apt-get install chromium; or set SAPDI_CHROMIUM)",
)


# ---------------------------------------------------------------- data


def log_curve(sdk: MLTrackingSDK, steps: int, rate: float) -> None:
    for step in range(steps):
        progress = 1 - 0.97 ** (step * rate * 100)
        sdk.log_metric("loss", 1.2 * (1 - progress) + 0.05, step=step)
        sdk.log_metric("accuracy", 0.5 + 0.4 * progress, step=step)


def write_runs(path: Path) -> None:
    """Three collections in two scenarios, plus one of odd names:

    churn / Gradient Boosting: gb-1, gb-2, gb-3 (learning_rate 0.001, 0.01, 0.1)
    churn / Logistic Regression: lr-1, lr-2
    forecast / explore.ipynb (Default): ex-1
    ODD_SCENARIO / ODD_COLLECTION: ODD_RUN
    """
    recipes = (
        ("churn", "Gradient Boosting", "churn.ipynb", ("gb-1", "gb-2", "gb-3")),
        ("churn", "Logistic Regression", "churn.ipynb", ("lr-1", "lr-2")),
        ("forecast", None, "explore.ipynb", ("ex-1",)),
        (ODD_SCENARIO, ODD_COLLECTION, "odd.ipynb", (ODD_RUN,)),
    )
    rates = iter((0.001, 0.01, 0.1, 0.003, 0.03, 0.02, 0.05))
    for scenario, collection, notebook, names in recipes:
        with MLTrackingSDK(db_path=path, scenario=scenario, notebook=notebook) as sdk:
            for index, name in enumerate(names):
                rate = next(rates)
                with sdk.start_run(run_collection_name=collection, run_name=name):
                    sdk.log_parameters({"learning_rate": rate, "max_depth": 2 + 2 * index})
                    sdk.set_tags({"dataset": "v2" if index % 2 else "v1", "owner": "team"})
                    sdk.set_labels({"accuracy": {"format_string": "percentage"}})
                    log_curve(sdk, 20 + 10 * index, rate)
                    sdk.log_metric("f1", 0.7 + rate)


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The runs of ``write_runs``, written once for the tests that only read them."""
    path = tmp_path_factory.mktemp("explorer") / "tracking.db"
    write_runs(path)
    return path


# ---------------------------------------------------------------- server and browser


@contextmanager
def serving(db: Path) -> Iterator[str]:
    """The explorer for ``db`` on a free loopback port, in a thread; yields its base URL."""
    server = make_explorer_server(db, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def shared_base(shared_db: Path) -> Iterator[str]:
    with serving(shared_db) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


def new_page(browser: Any) -> tuple[Any, Any, list[str]]:
    """A page in a context of its own (own localStorage); the list collects script errors."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page, errors


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page, failing the test on script errors."""
    context, page, errors = new_page(browser)
    yield page
    context.close()
    assert not errors, f"the page raised: {errors}"


@pytest.fixture(scope="module")
def shared_app(browser: Any, shared_base: str) -> Iterator[tuple[Any, list[str]]]:
    """One page on the shared server for the tests that only read: loading Plotly's script
    takes seconds in a slow VM, and moving between views only changes the address's hash."""
    context, page, errors = new_page(browser)
    page.goto(f"{shared_base}/#/")
    yield page, errors
    context.close()


@pytest.fixture
def app(shared_app: tuple[Any, list[str]], shared_base: str) -> Iterator[Any]:
    """The shared page back at #/ with an empty board, failing the test on script errors."""
    page, errors = shared_app
    errors.clear()
    page.evaluate("() => localStorage.clear()")
    page.goto(f"{shared_base}/#/")
    page.locator("#collections a.collection").first.wait_for()
    yield page
    assert not errors, f"the page raised: {errors}"


def open_collection(page: Any, scenario: str, collection: str) -> None:
    selector = (
        f"#collections a.collection[data-scenario={css_string(scenario)}]"
        f"[data-collection={css_string(collection)}]"
    )
    link = page.locator(selector)
    link.click()
    page.locator("#runs-table tr[data-run-id]").first.wait_for()


def css_string(text: str) -> str:
    """``text`` as a quoted CSS string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def row_names(page: Any) -> list[str]:
    return page.locator("#runs-table tr[data-run-id] a.run-link").all_text_contents()


def select_runs(page: Any, *names: str) -> None:
    for name in names:
        page.locator("#runs-table tr[data-run-id]").filter(
            has=page.get_by_role("link", name=name, exact=True)
        ).locator("input.select-run").check()


def wait_for_traces(page: Any, root: str, metric: str, count: int) -> dict[str, Any]:
    """Wait until the chart of ``metric`` under ``root`` has ``count`` traces; its figure."""
    selector = f"{root} div.metric-chart[data-metric={css_string(metric)}]"
    page.wait_for_function(
        "([selector, count]) => { const el = document.querySelector(selector);"
        " return !!el && Array.isArray(el.data) && el.data.length === count; }",
        arg=[selector, count],
    )
    return figure(page, selector)


def figure(page: Any, selector: str) -> dict[str, Any]:
    return page.evaluate(
        "selector => { const el = document.querySelector(selector); return {"
        " names: el.data.map(t => t.name), lengths: el.data.map(t => t.y.length),"
        " types: el.data.map(t => t.type), x: el.data.map(t => t.x),"
        " layout: JSON.parse(JSON.stringify(el.layout)) }; }",
        selector,
    )


def error_text(page: Any, fragment: str) -> str:
    """Wait until the error banner shows ``fragment``; its whole text."""
    page.wait_for_function(
        "fragment => { const el = document.querySelector('#error');"
        " return !el.hidden && el.textContent.includes(fragment); }",
        arg=fragment,
    )
    return page.locator("#error").text_content()


# ---------------------------------------------------------------- tests


@pytest.mark.timeout(120)  # a child process that hangs would otherwise block a read
def test_real_server_subprocess_charts_two_selected_runs(
    browser: Any, shared_db: Path, tmp_path: Path
) -> None:
    """`sapdi-local ui --port 0` in a subprocess serves a page where choosing a collection and
    ticking two runs draws one line per run in each metric chart; a screenshot is saved."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sapdi_local", "ui", "--db", str(shared_db), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        address = None
        for _ in range(20):
            line = process.stdout.readline()
            found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            if found:
                address = found.group(0)
                break
        assert address is not None, "the command printed no address"
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(address)
            assert str(shared_db) in page.locator("#db-info").text_content()
            open_collection(page, "churn", "Gradient Boosting")
            assert sorted(row_names(page)) == ["gb-1", "gb-2", "gb-3"]
            select_runs(page, "gb-1", "gb-3")
            loss = wait_for_traces(page, "#charts", "loss", 2)
            assert sorted(loss["names"]) == ["gb-1", "gb-3"]
            assert sorted(loss["lengths"]) == [20, 40]  # every logged step, one line per run
            assert loss["layout"]["xaxis"]["title"]["text"] == "step"
            f1 = wait_for_traces(page, "#charts", "f1", 2)  # one value per run: a bar each
            assert f1["types"] == ["bar", "bar"] and sorted(f1["names"]) == ["gb-1", "gb-3"]
            assert f1["layout"]["xaxis"]["title"]["text"] == "run"
            assert page.locator("#compare-selected").is_enabled()
            shot = tmp_path / "explorer.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.read_bytes()[:8] == PNG_SIGNATURE
        finally:
            context.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_sorting_by_a_metric_column_orders_the_rows(app: Any, shared_base: str) -> None:
    """Clicking a metric's header sorts the rows by its last value, and again reverses them;
    the sort is kept in the address."""
    app.goto(f"{shared_base}/#/")
    open_collection(app, "churn", "Gradient Boosting")
    header = app.locator('#runs-table th[data-column="metric:f1"]')
    header.click()  # f1 = 0.7 + learning_rate: 0.701, 0.71, 0.8
    app.wait_for_function(
        "() => document.querySelector('#runs-table tr[data-run-id] a.run-link')"
        ".textContent === 'gb-1'"
    )
    assert row_names(app) == ["gb-1", "gb-2", "gb-3"]
    app.locator('#runs-table th[data-column="metric:f1"]').click()
    app.wait_for_function(
        "() => document.querySelector('#runs-table tr[data-run-id] a.run-link')"
        ".textContent === 'gb-3'"
    )
    assert row_names(app) == ["gb-3", "gb-2", "gb-1"]
    assert "sort=metric%3Af1" in app.url and "dir=desc" in app.url


def test_a_long_collection_is_sorted_and_paged_by_the_server(browser: Any, tmp_path: Path) -> None:
    """450 runs: the table shows the first 200 of the whole collection in the chosen order
    (sorting by a metric finds the best run even if it was not on the page) and "Show more"
    brings the next 200."""
    db = tmp_path / "long.db"
    with MLTrackingSDK(db_path=db, scenario="long") as sdk:
        for index in range(450):
            with sdk.start_run(run_collection_name="sweep", run_name=f"run-{index:03d}"):
                sdk.log_metric("score", float((index * 7) % 450))
    context, page, errors = new_page(browser)
    try:
        with serving(db) as base:
            page.goto(f"{base}/#/")
            open_collection(page, "long", "sweep")
            assert page.locator("#runs-table tr[data-run-id]").count() == 200
            assert row_names(page)[0] == "run-449"  # newest first
            assert "450 runs" in page.locator("#main").text_content()
            page.locator('#runs-table th[data-column="metric:score"]').click()  # ascending
            page.wait_for_function(
                "() => document.querySelector('#runs-table tr[data-run-id] a.run-link')"
                ".textContent === 'run-000'"
            )
            page.locator('#runs-table th[data-column="metric:score"]').click()  # descending
            best = next(i for i in range(450) if (i * 7) % 450 == 449)
            page.wait_for_function(
                "name => document.querySelector('#runs-table tr[data-run-id] a.run-link')"
                ".textContent === name",
                arg=f"run-{best:03d}",
            )
            page.locator("#show-more").click()
            page.wait_for_function(
                "() => document.querySelectorAll('#runs-table tr[data-run-id]').length === 400"
            )
            scores = page.evaluate(
                "() => [...document.querySelectorAll('#runs-table tr[data-run-id]')]"
                ".map(row => Number(row.lastElementChild.textContent))"
            )
            assert scores == sorted(scores, reverse=True) and scores[0] == 449
            assert len(set(row_names(page))) == 400
    finally:
        context.close()
    assert not errors, f"the page raised: {errors}"


def test_tag_and_text_filters_narrow_rows_and_a_bad_tag_shows_the_api_message(
    app: Any, shared_base: str
) -> None:
    """The tag filter (KEY=VALUE) and the name search narrow the rows; a tag filter without
    "=" shows the API's own message in #error, which goes away once the filter is fixed."""
    app.goto(f"{shared_base}/#/")
    open_collection(app, "churn", "Gradient Boosting")
    app.fill("#filter-tag", "dataset=v1")  # gb-1 and gb-3
    app.wait_for_function(
        "() => document.querySelectorAll('#runs-table tr[data-run-id]').length === 2"
    )
    assert sorted(row_names(app)) == ["gb-1", "gb-3"]
    app.fill("#filter-text", "-3")
    app.wait_for_function(
        "() => document.querySelectorAll('#runs-table tr[data-run-id]').length === 1"
    )
    assert row_names(app) == ["gb-3"]
    app.fill("#filter-text", "")
    app.fill("#filter-tag", "dataset")
    message = error_text(app, "is not KEY=VALUE")
    assert "tag filter 'dataset' is not KEY=VALUE" in message
    assert app.locator("#runs-table tr[data-run-id]").count() == 0
    app.fill("#filter-tag", "dataset=v2")
    app.wait_for_function(
        "() => document.querySelector('#error').hidden"
        " && document.querySelectorAll('#runs-table tr[data-run-id]').length === 1"
    )
    assert row_names(app) == ["gb-2"]


def test_percentage_label_formats_the_accuracy_axis(app: Any, shared_base: str) -> None:
    """A label {"format_string": "percentage"} on accuracy gives its chart a percent tick and
    hover format (0.85 shows as 85%) and its table cells a percent sign; loss stays plain."""
    app.goto(f"{shared_base}/#/")
    open_collection(app, "churn", "Logistic Regression")
    select_runs(app, "lr-1", "lr-2")
    accuracy = wait_for_traces(app, "#charts", "accuracy", 2)
    assert accuracy["layout"]["yaxis"]["tickformat"].endswith("%")
    assert accuracy["layout"]["yaxis"]["hoverformat"].endswith("%")
    loss = wait_for_traces(app, "#charts", "loss", 2)
    assert "tickformat" not in loss["layout"]["yaxis"]
    cell = app.locator("#runs-table tr[data-run-id] td.metric-col").first.text_content()
    assert cell.endswith("%")


def test_run_page_shows_context_parameters_tags_labels_and_metric_stats(
    app: Any, shared_base: str
) -> None:
    """A run's name links to its app, which shows its context, its own parameters and tags
    (not the system ones), its labels, last/min/max/count per metric, and its charts."""
    app.goto(f"{shared_base}/#/")
    open_collection(app, "churn", "Gradient Boosting")
    app.get_by_role("link", name="gb-2", exact=True).click()
    app.locator("#run-page #run-metrics tbody tr").first.wait_for()
    context = app.locator("#run-context").text_content()
    for expected in ("gb-2", "churn", "Gradient Boosting", "churn.ipynb", "FINISHED"):
        assert expected in context
    parameters = app.locator("#run-parameters tbody tr").all_text_contents()
    assert parameters == ["learning_rate0.01", "max_depth4"]  # no system start/end
    assert app.locator("#run-tags tbody tr").all_text_contents() == ["datasetv2", "ownerteam"]
    assert "percentage" in app.locator("#run-labels").text_content()
    loss = app.locator('#run-metrics tr[data-metric="loss"] td').all_text_contents()
    assert loss[3] == "30"  # count: gb-2 logged 30 steps
    assert float(loss[1]) < float(loss[2])  # min < max
    accuracy = app.locator('#run-metrics tr[data-metric="accuracy"] td').all_text_contents()
    assert all(value.endswith("%") for value in accuracy[:3])
    chart = wait_for_traces(app, "#run-charts", "loss", 1)
    assert chart["names"] == ["gb-2"] and chart["lengths"] == [30]


def board_figures(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(
        "() => [...document.querySelectorAll('#board div.board-chart')].map(el => ({"
        " kind: el.dataset.kind, metric: el.dataset.metric, parameter: el.dataset.parameter,"
        " traces: (el.data || []).length, names: (el.data || []).map(t => t.name),"
        " x: (el.data || []).map(t => t.x), xtype: el.layout && el.layout.xaxis.type }))"
    )


def add_board_chart(page: Any, kind: str, metric: str, parameter: str | None = None) -> None:
    before = page.locator("#board div.board-chart").count()
    page.select_option("#board-chart-kind", kind)
    page.select_option("#board-chart-metric", metric)
    if parameter is not None:
        page.select_option("#board-chart-parameter", parameter)
    page.click("#board-add-chart")
    page.wait_for_function(
        "count => [...document.querySelectorAll('#board div.board-chart')]"
        ".filter(el => Array.isArray(el.data) && el.data.length > 0).length === count",
        arg=before + 1,
    )


def test_board_combines_collections_and_its_charts_survive_a_reload(
    app: Any, shared_base: str
) -> None:
    """Compare adds the selected runs to the board, keeping runs already there, so runs of two
    collections meet; differing rows are highlighted; one chart of each kind is added, and
    after a reload (state in the address) the same runs and charts are back; runs and charts
    can be removed."""
    app.goto(f"{shared_base}/#/")
    open_collection(app, "churn", "Gradient Boosting")
    select_runs(app, "gb-3")
    app.click("#compare-selected")
    app.locator("#board-table .remove-run").first.wait_for()
    open_collection(app, "churn", "Logistic Regression")
    select_runs(app, "lr-1")
    app.click("#compare-selected")
    app.wait_for_function("() => document.querySelectorAll('#board .remove-run').length === 2")
    heads = app.locator("#board-table a.run-link").all_text_contents()
    assert heads == ["gb-3", "lr-1"]

    # learning_rate differs (0.1 vs 0.003), max_depth is 6 for gb-3 and 2 for lr-1, owner same
    assert "differs" in app.locator(
        '#board-table tr[data-row="param:learning_rate"]'
    ).get_attribute("class")
    assert "differs" in app.locator('#board-table tr[data-row="collection"]').get_attribute("class")
    assert "differs" not in app.locator('#board-table tr[data-row="tag:owner"]').get_attribute(
        "class"
    )
    assert "differs" not in app.locator('#board-table tr[data-row="scenario"]').get_attribute(
        "class"
    )

    add_board_chart(app, "across", "f1")
    add_board_chart(app, "versus", "accuracy", "learning_rate")
    add_board_chart(app, "over", "loss")
    before = board_figures(app)
    assert [(f["kind"], f["metric"], f["traces"]) for f in before] == [
        ("across", "f1", 2),
        ("versus", "accuracy", 2),
        ("over", "loss", 2),
    ]
    versus = before[1]
    assert versus["xtype"] in ("linear", "log")  # learning_rate is a number on the axis
    assert sorted(x[0] for x in versus["x"]) == [0.003, 0.1]

    app.reload()
    app.wait_for_function(
        "() => [...document.querySelectorAll('#board div.board-chart')]"
        ".filter(el => Array.isArray(el.data) && el.data.length === 2).length === 3"
    )
    after = board_figures(app)
    assert [(f["kind"], f["metric"], f["parameter"], f["traces"]) for f in after] == [
        (f["kind"], f["metric"], f["parameter"], f["traces"]) for f in before
    ]
    assert app.locator("#board-table a.run-link").all_text_contents() == ["gb-3", "lr-1"]

    app.locator("#board .remove-run[data-run-id]").first.click()
    app.wait_for_function("() => document.querySelectorAll('#board .remove-run').length === 1")
    app.locator("#board .board-chart[data-kind='across']").locator("xpath=..").locator(
        ".remove-chart"
    ).click()
    app.wait_for_function("() => document.querySelectorAll('#board div.board-chart').length === 2")
    assert "chart=across" not in app.url and app.url.count("chart=") == 2


def test_board_exports_a_png_and_an_html_file_that_works_offline(
    app: Any, browser: Any, shared_base: str, tmp_path: Path
) -> None:
    """Export PNG downloads one valid PNG image of the board's charts; Export HTML downloads a
    single file that, opened from disk with every network request refused, draws the same
    charts and shows the table (run names escaped as text)."""
    runs = page_run_ids(app, shared_base, ["gb-1", "lr-2"])
    odd = page_run_ids(app, shared_base, [ODD_RUN])
    ids = ",".join([*runs, *odd])
    app.goto(
        f"{shared_base}/#/board?runs={ids}&chart=across:accuracy"
        "&chart=versus:f1:max_depth&chart=over:loss"
    )
    app.wait_for_function(
        "() => [...document.querySelectorAll('#board div.board-chart')]"
        ".filter(el => Array.isArray(el.data) && el.data.length === 3).length === 3"
    )
    with app.expect_download() as png_download:
        app.click("#export-png")
    png = tmp_path / "board.png"
    png_download.value.save_as(png)
    assert png_download.value.suggested_filename.endswith(".png")
    data = png.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 10_000

    with app.expect_download() as html_download:
        app.click("#export-html")
    exported = tmp_path / "board.html"
    html_download.value.save_as(exported)
    text = exported.read_text(encoding="utf-8")
    assert "<script>window.__pwned" not in text  # the odd name is escaped everywhere

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        offline = context.new_page()
        requests: list[str] = []

        def refuse(route: Any) -> None:
            requests.append(route.request.url)
            route.abort()

        offline.route(re.compile(r"^(https?|wss?)://"), refuse)
        offline.goto(exported.as_uri())
        offline.wait_for_function(
            "() => [...document.querySelectorAll('.board-chart')]"
            ".filter(el => el.querySelector('.main-svg') && el.data.length === 3).length === 3",
            timeout=WAIT_MS,
        )
        assert offline.evaluate("() => window.__pwned") is None
        names = offline.locator("#board-table .run-name").all_text_contents()
        assert names == ["gb-1", "lr-2", ODD_RUN]
        assert requests == []  # nothing even tried the network
    finally:
        context.close()


def page_run_ids(page: Any, base: str, names: list[str]) -> list[str]:
    """The ids of the runs named ``names``, in that order, read through the API."""
    runs = page.request.get(f"{base}/api/runs").json()["runs"]
    by_name = {run["name"]: run["id"] for run in runs}
    return [by_name[name] for name in names]


def test_live_page_shows_new_runs_and_growing_charts_without_reload(
    page: Any, tmp_path: Path
) -> None:
    """With Live on (polling shortened by ?poll=300), a run started by the SDK appears in the
    open collection (and alone under the RUNNING status filter), and its chart grows as it
    logs more values while a zoom set on the chart stays (uirevision); unticking Live stops
    the updates."""
    db = tmp_path / "live.db"
    write_runs(db)
    sdk = MLTrackingSDK(db_path=db, scenario="churn", notebook="churn.ipynb")
    with serving(db) as base:
        page.goto(f"{base}/?poll=300#/")
        open_collection(page, "churn", "Gradient Boosting")
        assert page.locator("#live-toggle").is_checked()
        try:
            sdk.start_run(run_collection_name="Gradient Boosting", run_name="late-run")
            for step in range(5):
                sdk.log_metric("loss", 1.0 / (step + 1), step=step)
            sdk.persist_run()
            page.get_by_role("link", name="late-run", exact=True).wait_for()
            row = page.locator("#runs-table tr[data-run-id]").filter(has_text="late-run")
            assert "RUNNING" in row.text_content()
            page.select_option("#filter-status", "RUNNING")
            page.wait_for_function(
                "() => document.querySelectorAll('#runs-table tr[data-run-id]').length === 1"
            )
            assert row_names(page) == ["late-run"]
            select_runs(page, "late-run")
            wait_for_traces(page, "#charts", "loss", 1)
            page.evaluate(
                "() => Plotly.relayout(document.querySelector("
                "'#charts div.metric-chart[data-metric=\"loss\"]'), {'xaxis.range': [1, 3]})"
            )
            for step in range(5, 12):
                sdk.log_metric("loss", 1.0 / (step + 1), step=step)
            sdk.persist_run()
            page.wait_for_function(
                "() => { const el = document.querySelector("
                "'#charts div.metric-chart[data-metric=\"loss\"]');"
                " return el && el.data[0].y.length === 12; }"
            )
            chart = figure(page, '#charts div.metric-chart[data-metric="loss"]')
            assert chart["layout"]["xaxis"]["range"] == [1, 3]  # the zoom survived the refresh

            page.locator("#live-toggle").uncheck()
            sdk.end_run()
            sdk.start_run(run_collection_name="Gradient Boosting", run_name="while-paused")
            sdk.persist_run()
            page.wait_for_timeout(1000)  # three poll periods: proving a poll did *not* happen
            assert "while-paused" not in row_names(page)
            page.locator("#live-toggle").check()
            page.get_by_role("link", name="while-paused", exact=True).wait_for()
        finally:
            sdk.close()


def test_missing_database_shows_the_503_message(page: Any, tmp_path: Path) -> None:
    """A database file that does not exist yet gives a page with the API's 503 message, not a
    blank page; once runs are written the page recovers on its own."""
    db = tmp_path / "not-yet.db"
    with serving(db) as base:
        page.goto(f"{base}/?poll=300#/")
        message = error_text(page, "no database at")
        assert str(db) in message
        assert "Database unavailable" in page.locator("#db-info").text_content()
        assert "cannot be read" in page.locator("#main").text_content()
        write_runs(db)
        page.wait_for_function("() => document.querySelector('#error').hidden")
        assert str(db) in page.locator("#db-info").text_content()
        page.locator("#collections a.collection").first.wait_for()


def test_foreign_database_file_shows_the_503_message(page: Any, tmp_path: Path) -> None:
    """A file that is not a database gives the API's message about it on the page."""
    db = tmp_path / "notes.db"
    db.write_text("these are not runs\n" * 100)
    with serving(db) as base:
        page.goto(f"{base}/#/collection?scenario=churn&collection=x")
        message = error_text(page, "not a database")
        assert str(db) in message


def test_unknown_run_id_in_the_address_shows_the_404_message(app: Any, shared_base: str) -> None:
    """#/run/<unknown id> shows the API's 404 message and a way back, and a board naming an
    unknown run says so while still showing the runs it knows."""
    app.goto(f"{shared_base}/#/run/no-such-run")
    message = error_text(app, "no run with id")
    assert "'no-such-run'" in message
    assert app.get_by_role("link", name="Back to the collections").is_visible()
    known = page_run_ids(app, shared_base, ["gb-1"])[0]
    app.goto(f"{shared_base}/#/board?runs={known},ffff0000")
    error_text(app, "'ffff0000'")
    assert app.locator("#board-table a.run-link").all_text_contents() == ["gb-1"]


def test_odd_names_render_as_text_everywhere(app: Any, shared_base: str) -> None:
    """Scenario, collection and run names holding markup, commas, colons and accents show as
    text in the sidebar, table, run app and chart legend, and no script in them runs; the
    collection (whose name has a comma) lists exactly its run."""
    app.goto(f"{shared_base}/#/")
    link = app.locator(f"#collections a.collection[data-collection={css_string(ODD_COLLECTION)}]")
    assert link.text_content() == ODD_COLLECTION
    assert link.get_attribute("data-scenario") == ODD_SCENARIO
    assert ODD_SCENARIO in app.locator("#collections").text_content()
    open_collection(app, ODD_SCENARIO, ODD_COLLECTION)
    assert row_names(app) == [ODD_RUN]
    assert app.locator("#main h1").text_content() == ODD_COLLECTION
    select_runs(app, ODD_RUN)
    chart = wait_for_traces(app, "#charts", "loss", 1)
    # Plotly reads a trace's name as markup: the page hands it the name escaped, and the
    # legend shows it as it is.
    assert chart["names"] == [ODD_RUN.replace("<", "&lt;").replace(">", "&gt;")]
    legend = app.locator('#charts div.metric-chart[data-metric="loss"] .legendtext')
    assert legend.text_content() == ODD_RUN
    # The address round-trips the names: leaving and coming back by it shows the same
    # collection and selection.
    address = app.url
    app.goto(f"{shared_base}/#/")
    app.locator("#main a.collection-card").first.wait_for()
    app.goto(address)
    app.locator("#runs-table tr[data-run-id]").first.wait_for()
    assert row_names(app) == [ODD_RUN]
    assert app.locator("#runs-table input.select-run").is_checked()
    app.get_by_role("link", name=ODD_RUN, exact=True).click()
    app.locator("#run-context").wait_for()
    assert ODD_COLLECTION in app.locator("#run-context").text_content()
    assert app.evaluate("() => window.__pwned") is None
    assert app.locator("script").count() == 2  # only plotly.min.js and main.js
