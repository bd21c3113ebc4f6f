"""The benchmark runner: ``python -m benchmarks [--quick] [--only NAME] [--out FILE]``.

Prints one table and writes the same figures, with the machine and versions, as JSON.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
import traceback
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.common import Figure

SUITES = (
    "hot_path",
    "persist",
    "versus_mlflow",
    "concurrent_writers",
    "reading",
    "startup",
    "memory",
    "explorer",
    "search",
    "scaling",
)
DEFAULT_OUT = Path(__file__).parent / "results" / "latest.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: about a minute")
    parser.add_argument(
        "--only", action="append", choices=SUITES, help="run only this suite (repeatable)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the JSON goes")
    arguments = parser.parse_args(argv)

    started = time.perf_counter()
    figures: list[Figure] = []
    failed: dict[str, str] = {}
    for suite in arguments.only or SUITES:
        print(f"running {suite} ...", file=sys.stderr, flush=True)
        suite_started = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.{suite}")
            figures.extend(module.run(quick=arguments.quick))
        except Exception:
            # One broken suite must not throw away the minutes the others took.
            failed[suite] = traceback.format_exc()
            print(failed[suite], file=sys.stderr, flush=True)
        print(f"  {time.perf_counter() - suite_started:.1f} s", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started

    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": arguments.quick,
        "seconds": round(elapsed, 1),
        "machine": machine(),
        "figures": [figure.to_dict() for figure in figures],
        "failed": failed,
    }
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(figures))
    print(f"\n{report['date']}, {elapsed:.0f} s, {describe(report['machine'])}")
    print(f"figures written to {arguments.out}")
    if failed:
        print(f"suites that failed: {', '.join(failed)} (tracebacks above)", file=sys.stderr)
        return 1
    return 0


def machine() -> dict[str, Any]:
    packages = {}
    for name in ("sapdi-local", "sqlite-utils", "filelock", "platformdirs", "mlflow"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    import os
    import sqlite3

    return {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "packages": packages,
    }


def describe(info: dict[str, Any]) -> str:
    versions = ", ".join(
        f"{name} {version}" for name, version in info["packages"].items() if version
    )
    return (
        f"Python {info['python']}, SQLite {info['sqlite']}, {info['cpus']} CPUs, "
        f"{info['platform']}; {versions}"
    )


def table(figures: list[Figure]) -> str:
    from tabulate import tabulate  # comes with sqlite-utils

    rows = []
    for figure in figures:
        ratio = figure.ratio
        rows.append(
            [
                figure.benchmark,
                format_value(figure.ours, figure.unit),
                "" if figure.baseline is None else format_value(figure.baseline, figure.unit),
                figure.baseline_name,
                "" if ratio is None else f"{ratio:.2f}×",
                figure.target,
                {True: "yes", False: "NO", None: ""}[figure.met],
            ]
        )
    return tabulate(
        rows,
        headers=["benchmark", "ours", "baseline", "baseline is", "ours better by", "target", "met"],
        tablefmt="github",
    )


def format_value(value: float, unit: str) -> str:
    if unit.endswith("/s"):
        for size, suffix in ((1e6, " M"), (1e3, " k")):
            if value >= size:
                return f"{value / size:.2f}{suffix}{unit}"
        return f"{value:.1f} {unit}"
    if unit == "ms":
        return f"{value:.2f} ms" if value < 10 else f"{value:.0f} ms"
    return f"{value:,.1f} {unit}"


if __name__ == "__main__":
    raise SystemExit(main())
