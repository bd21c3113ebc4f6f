"""Take the README's screenshot of the metrics explorer from a real run of it.

    python scripts/explorer_screenshot.py [OUTPUT.png]     (default: docs/explorer.png)

Writes the demo runs (scripts/demo_runs.py) into a temporary database, starts the real
server on a free loopback port, opens the page in headless Chromium ($SAPDI_CHROMIUM, else
chromium on PATH, driven by Playwright), picks a collection, ticks three runs and saves the page
with their charts. Needs the test extra: pip install -e '.[test]'.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).parent))
from demo_runs import write_demo_runs  # noqa: E402  (the script beside this one)

from sapdi_local.ui.headless import CHROMIUM_ARGS, chromium_path  # noqa: E402
from sapdi_local.ui.server import make_explorer_server  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "explorer.png"


def take_screenshot(output: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "demo.db"
        write_demo_runs(path)
        server = make_explorer_server(path, "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(chromium_path()), args=list(CHROMIUM_ARGS)
                )
                page = browser.new_page(viewport={"width": 1440, "height": 960})
                page.goto(f"http://127.0.0.1:{server.server_port}/")
                page.locator(
                    '#collections a.collection[data-collection="Gradient Boosting"]'
                ).click()
                rows = page.locator("#runs-table tr[data-run-id]")
                rows.first.wait_for()
                for index in range(3):
                    rows.nth(index).locator("input.select-run").check()
                page.wait_for_function(
                    "() => [...document.querySelectorAll('#charts div.metric-chart')]"
                    ".some(chart => chart.data && chart.data.length === 3)"
                )
                page.wait_for_timeout(500)  # let Plotly finish its transitions
                output.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(output), full_page=False)
                browser.close()
        finally:
            server.shutdown()
            server.close()


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT
    take_screenshot(target)
    print(f"screenshot written to {target}")
