"""The benchmark runner keeps working: it runs a suite and writes its figures as JSON.

No figure is checked against a time: this machine is shared and noisy, and timings
belong in benchmarks/, not in the test suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_runner_prints_a_table_and_writes_json(tmp_path: Path) -> None:
    """`python -m benchmarks --quick --only hot_path` prints a table and writes one figure."""
    out = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "hot_path", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert "log_metric hot path" in result.stdout
    report = json.loads(out.read_text())
    assert report["quick"] is True and report["machine"]["python"]
    [figure] = report["figures"]
    assert figure["benchmark"] == "log_metric hot path" and figure["unit"] == "calls/s"
    assert figure["ours"] > 0 and figure["baseline"] > 0 and figure["met"] in (True, False)
    assert len(figure["samples"]["ours"]) == len(figure["samples"]["baseline"]) >= 3
