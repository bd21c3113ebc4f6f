"""The benchmark runner keeps working: it runs a suite and writes its figures as JSON.

No figure is checked against a time: this machine is shared and noisy, and timings
belong in benchmarks/, not in the test suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_scaling_suite_reports_every_operation_at_every_size(tmp_path: Path) -> None:
    """`python -m benchmarks --quick --only scaling` on two small files: each operation at
    each size, its growth per 10× from the smaller, peak memory for the commands run as
    processes, and the files kept where SAPDI_BENCH_SCALING_RESULTS says."""
    import os

    out = tmp_path / "figures.json"
    kept = tmp_path / "kept"
    environment = {
        **os.environ,
        "SAPDI_BENCH_SCALING_SIZES": "20,200",
        "SAPDI_BENCH_SCALING_RESULTS": str(kept),
    }
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "scaling", "--out", str(out)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["failed"] == {}
    figures = report["figures"]
    by_operation: dict[str, dict[tuple[str, int], dict[str, object]]] = {}
    for figure in figures:
        details = figure["details"]
        assert details["suite"] == "scaling"
        by_operation.setdefault(details["operation"], {})[(details["kind"], details["runs"])] = (
            figure
        )
    operations = list(by_operation)
    assert any(name.startswith("`runs --collection sweep --limit 20`") for name in operations)
    assert any("by metric, search_run_records" in name for name in operations)
    assert any("/api/runs" in name for name in operations)
    assert "/api/database" in operations
    assert any(name.startswith("get_runs(") for name in operations)
    assert any(name.startswith("runs_frame(") for name in operations)
    # The floor of get_runs, which the suite checks gives get_runs' very Runs.
    assert "the same Runs from plain SQL, nothing checked" in operations
    assert "the explorer's /api/runs, every run" in operations
    for format_name in ("csv", "json", "db"):
        assert any(f"export --format {format_name}" in name for name in operations)
    for name, figures_by_key in by_operation.items():
        small, large = figures_by_key[("time", 20)], figures_by_key[("time", 200)]
        assert small["ours"] > 0 and large["ours"] > 0, name
        assert small["details"]["growth_per_10x"] is None
        assert large["details"]["growth_per_10x"] > 0, name
        # Quick: no target is judged on sizes this small.
        assert large["met"] is None
        if name.startswith("`export"):
            assert figures_by_key[("memory", 200)]["ours"] > 5, name  # a Python process
    page = by_operation["first page of 200 by start time, search_run_records"][("time", 200)]
    assert page["baseline"] > 0 and page["baseline_name"].startswith("plain SQL")
    assert (kept / "scaling-20-schema4.complete").exists()
    assert (kept / "scaling-200-schema4.complete").exists()
    # The suite's own table goes to stderr, one row per operation.
    assert "| /api/database |" in result.stderr


def test_scaling_sizes_refuse_a_list_that_is_not_ascending_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from benchmarks import scaling

    monkeypatch.setenv("SAPDI_BENCH_SCALING_SIZES", "")
    assert scaling.sizes(quick=True) == (1_000, 10_000)
    assert scaling.sizes(quick=False) == (1_000, 10_000, 100_000)
    monkeypatch.setenv("SAPDI_BENCH_SCALING_SIZES", "50, 500")
    assert scaling.sizes(quick=False) == (50, 500)
    for wrong, says in (("ten", "comma-separated"), ("500,50", "ascending"), ("1", "at least 2")):
        monkeypatch.setenv("SAPDI_BENCH_SCALING_SIZES", wrong)
        with pytest.raises(ValueError, match=says):
            scaling.sizes(quick=False)


def test_growth_per_10x_is_the_ratio_for_each_tenfold_step() -> None:
    from benchmarks.scaling import growth_per_10x

    assert growth_per_10x((1_000, 10.0), (10_000, 25.0)) == pytest.approx(2.5)
    # 100× the runs, 4× the time: 2× per 10×.
    assert growth_per_10x((1_000, 10.0), (100_000, 40.0)) == pytest.approx(2.0)
    assert growth_per_10x((1_000, 0.0), (10_000, 5.0)) is None
    assert growth_per_10x((1_000, 5.0), (1_000, 5.0)) is None


def test_a_file_of_the_base_schema_is_built_and_migrated(tmp_path: Path) -> None:
    """build() writes the base schema's rows; migrated_copy() brings a copy to the current
    schema with the SDK, and its counts and runs read as the built ones."""
    import sqlite3

    from benchmarks import scaling
    from sapdi_local import MLTrackingSDK
    from sapdi_local.store import SCHEMA_VERSION

    base = tmp_path / "base.db"
    scaling.build(base, 30, schema=3)
    connection = sqlite3.connect(base)
    assert connection.execute("PRAGMA user_version").fetchone() == (3,)
    assert connection.execute("SELECT COUNT(*) FROM runs").fetchone() == (30,)
    assert connection.execute("SELECT COUNT(*) FROM metrics").fetchone() == (30 * 3 * 50,)
    connection.close()
    copy = tmp_path / "copy.db"
    assert scaling.migrated_copy(base, copy) >= 0
    connection = sqlite3.connect(copy)
    assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    connection.close()
    sdk = MLTrackingSDK(db_path=copy)
    runs = sdk.get_runs(scenario="bench")
    assert len(runs) == 30 and {run.collection for run in runs} == {"sweep"}
    assert {len(run.parameters) >= 5 and len(run.metrics) == 3 for run in runs} == {True}
    sdk.close()


def test_markdown_table_renders_operations_sizes_growth_and_memory() -> None:
    from benchmarks.scaling import markdown_table

    def figure(operation: str, kind: str, runs: int, ours: float, **more: object) -> dict:
        return {
            "ours": ours,
            "baseline": more.get("baseline"),
            "met": more.get("met"),
            "details": {
                "suite": "scaling",
                "operation": operation,
                "kind": kind,
                "runs": runs,
                "growth_per_10x": more.get("growth"),
                "baseline_label": "SQL",
            },
        }

    results = {
        "date": "2026-11-29T12:00:00+00:00",
        "commit": "abc1234",
        "machine": {
            "cpus": 2,
            "python": "3.11.7",
            "sqlite": "3.40.1",
            "packages": {"sapdi-local": "0.1.0"},
        },
        "figures": [
            {"details": {"suite": "other"}, "ours": 1.0},  # another suite's figure: left out
            figure("page | sorted", "time", 1_000, 4.0, baseline=2.0),
            figure("page | sorted", "time", 10_000, 30.0, baseline=20.0, growth=7.5, met=True),
            figure("export", "time", 1_000, 1500.0),
            figure("export", "time", 10_000, 15000.0, growth=10.0),
            figure("export", "memory", 1_000, 30.4),
            figure("export", "memory", 10_000, 45.0, met=False),
        ],
    }
    lines = markdown_table(results).splitlines()
    assert lines[0] == (
        "| operation | 1,000 runs | 10,000 runs | growth per 10× | peak memory (MB) |"
    )
    assert lines[2] == "| page \\| sorted | 4.0 ms (SQL 2.0 ms) | 30 ms (SQL 20 ms) ✓ | ×7.50 |  |"
    assert lines[3] == "| export | 1.50 s | 15.0 s | ×10.00 | 30 / 45 ✗ |"
    assert "abc1234" in lines[-1] and "2026-11-29" in lines[-1] and "2 CPUs" in lines[-1]
    with pytest.raises(ValueError, match="--publish"):
        markdown_table({"figures": []})


def test_scaling_table_prints_the_published_figures(tmp_path: Path) -> None:
    """`python -m benchmarks.scaling --table` prints the committed file as Markdown, and
    says how to make one where there is none."""
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.scaling", "--table"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.startswith("| operation | 1,000 runs | 10,000 runs | 100,000 runs |")
    missing = subprocess.run(
        [sys.executable, "-m", "benchmarks.scaling", "--table", "--file", str(tmp_path / "no")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert missing.returncode == 2 and "--publish" in missing.stderr
