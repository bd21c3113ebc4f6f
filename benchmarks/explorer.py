"""The metrics explorer on a collection of 10,000 runs (1,000 with --quick).

Three figures, each beside a baseline measured in the same run:
- the API, a page: ``/api/runs`` for the first 200 runs of the collection sorted by a metric
  (what the page asks for), over real HTTP from the real server, against plain SQL reading
  the same page (runs, then the parameters, tags and last metrics of those 200);
- the API, everything: all the collection's runs as JSON, against plain SQL reading the same
  rows;
- the page: in headless Chromium, from clicking the collection in the sidebar until its runs
  table shows rows, against the same browser only fetching and parsing the page's JSON.

The target is the issue's: a collection of 10,000 runs lists in under a second. The database
is made by the SDK and kept under benchmarks/results/ for the next run.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import Figure, alternate, have_module, median
from sapdi_local.ui.headless import CHROMIUM_ARGS, chromium_path

RESULTS = Path(__file__).parent / "results"
TARGET_MS = 1000.0


def database(runs: int) -> Path:
    """A file with ``runs`` runs in one collection: three parameters, a tag, two metrics of
    20 steps and one single value each."""
    from sapdi_local import MLTrackingSDK
    from sapdi_local.store import SCHEMA_VERSION

    # The schema version in the name: the explorer reads without migrating, so a file made by
    # an older version would be refused rather than measured.
    path = RESULTS / f"explorer-{runs}-schema{SCHEMA_VERSION}.db"
    if path.exists():
        return path

    RESULTS.mkdir(exist_ok=True)
    partial = path.with_suffix(".partial")
    for leftover in partial.parent.glob(partial.name + "*"):
        leftover.unlink()
    with MLTrackingSDK(db_path=partial, scenario="big", notebook="sweep.ipynb") as sdk:
        for index in range(runs):
            sdk.start_run(run_collection_name="sweep", run_name=f"run-{index}")
            sdk.log_parameters(
                {"learning_rate": 0.001 * (index % 97), "depth": index % 9, "optimizer": "adam"}
            )
            sdk.set_tags({"dataset": f"v{index % 3}"})
            for step in range(20):
                sdk.log_metric("loss", 1 / (step + 1), step=step)
                sdk.log_metric("accuracy", step / 20, step=step)
            sdk.log_metric("f1", 0.5)
            sdk.end_run()
    shutil.move(partial, path)
    return path


PAGE = 200
PAGE_QUERY = f"scenario=big&collection=sweep&sort=metric:loss&dir=desc&limit={PAGE}"


def plain_sql_page(path: Path) -> int:
    """The floor of a page: the 200 runs with the highest last loss, and their details."""
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        keys = [
            key
            for (key,) in connection.execute(
                "SELECT key FROM runs WHERE scenario = 'big' AND collection = 'sweep' "
                "ORDER BY (SELECT value FROM latest_metrics WHERE run_key = runs.key "
                "AND name = 'loss') DESC LIMIT ?",
                (PAGE,),
            )
        ]
        marks = ", ".join("?" for _ in keys)
        rows = connection.execute(f"SELECT * FROM runs WHERE key IN ({marks})", keys).fetchall()
        for table in ("parameters", "tags", "labels", "latest_metrics"):
            rows += connection.execute(
                f"SELECT run_key, name, value FROM {table} WHERE run_key IN ({marks})", keys
            ).fetchall()
        return len(rows)
    finally:
        connection.close()


def plain_sql_rows(path: Path) -> int:
    """The floor: the same rows read with plain SQL, no JSON."""
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        keys = [
            key
            for (key,) in connection.execute(
                "SELECT key FROM runs WHERE scenario = ? AND collection = ? "
                "ORDER BY start_time DESC",
                ("big", "sweep"),
            )
        ]
        rows = connection.execute(
            "SELECT * FROM runs WHERE scenario = 'big' AND collection = 'sweep'"
        ).fetchall()
        for table in ("parameters", "tags", "labels", "latest_metrics"):
            rows += connection.execute(f"SELECT run_key, name, value FROM {table}").fetchall()
        return len(keys) + len(rows)
    finally:
        connection.close()


def run(quick: bool) -> list[Figure]:
    count = 1_000 if quick else 10_000
    repeats = 3 if quick else 7
    path = database(count)
    from sapdi_local.ui.server import make_explorer_server

    server = make_explorer_server(path, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        figures = [
            api_figure(
                f"{base}/api/runs?{PAGE_QUERY}",
                lambda: plain_sql_page(path),
                f"explorer API: first {PAGE} of {count:,} runs, sorted by a metric",
                "the same page by plain SQL",
                repeats,
            ),
            api_figure(
                f"{base}/api/runs?scenario=big&collection=sweep",
                lambda: plain_sql_rows(path),
                f"explorer API: all {count:,} runs of a collection",
                "the same rows by plain SQL",
                repeats,
            ),
        ]
        if have_module("playwright") and chromium_path().exists():
            figures.append(page_figure(base, count, repeats))
        return figures
    finally:
        server.shutdown()
        server.close()


def api_figure(
    url: str, floor: Callable[[], object], benchmark: str, baseline_name: str, repeats: int
) -> Figure:
    def ours() -> float:
        start = time.perf_counter()
        with urllib.request.urlopen(url) as response:
            response.read()
        return (time.perf_counter() - start) * 1000

    def baseline() -> float:
        start = time.perf_counter()
        floor()
        return (time.perf_counter() - start) * 1000

    ours_samples, baseline_samples = alternate(ours, baseline, repeats)
    result = median(ours_samples)
    return Figure(
        benchmark=benchmark,
        unit="ms",
        ours=result,
        baseline=median(baseline_samples),
        baseline_name=baseline_name,
        higher_is_better=False,
        target=f"< {TARGET_MS:.0f} ms",
        met=result < TARGET_MS,
        samples={"ours": ours_samples, "baseline": baseline_samples},
    )


def page_figure(base: str, count: int, repeats: int) -> Figure:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium_path()), args=list(CHROMIUM_ARGS)
        )
        page = browser.new_page()

        def ours() -> float:
            page.goto(f"{base}/#/")
            link = page.locator('#collections a.collection[data-collection="sweep"]')
            link.wait_for()
            start = time.perf_counter()
            link.click()
            page.locator("#runs-table tr[data-run-id]").first.wait_for()
            return (time.perf_counter() - start) * 1000

        def baseline() -> float:
            start = time.perf_counter()
            page.evaluate(
                "query => fetch('/api/runs?' + query).then(r => r.json()).then(d => d.runs.length)",
                f"scenario=big&collection=sweep&sort=start&dir=desc&limit={PAGE}",
            )
            return (time.perf_counter() - start) * 1000

        try:
            ours_samples, baseline_samples = alternate(ours, baseline, repeats)
        finally:
            browser.close()
    result = median(ours_samples)
    return Figure(
        benchmark=f"explorer page: click a collection of {count:,} runs to rows shown",
        unit="ms",
        ours=result,
        baseline=median(baseline_samples),
        baseline_name="the browser only fetching the page's JSON",
        higher_is_better=False,
        target=f"< {TARGET_MS:.0f} ms",
        met=result < TARGET_MS,
        samples={"ours": ours_samples, "baseline": baseline_samples},
    )
