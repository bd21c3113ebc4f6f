"""What every benchmark shares: a figure, alternating repeats, medians, scratch folders."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CONTEXT = {
    "scenario": "bench",
    "scenario_version": "v1",
    "pipeline": "bench.py",
    "execution": "bench",
}


@dataclass
class Figure:
    """One measured comparison: our figure, the baseline's, and the target if there is one."""

    benchmark: str
    unit: str
    ours: float
    baseline: float | None = None
    baseline_name: str = ""
    higher_is_better: bool = True
    target: str = ""
    met: bool | None = None
    note: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)
    # What a suite records for its own reports besides the figure (the scaling suite: the
    # operation, the number of runs, the growth per 10× runs).
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """How many times better ours is than the baseline (above 1: ours is better)."""
        if self.baseline is None or self.baseline == 0 or self.ours == 0:
            return None
        return self.ours / self.baseline if self.higher_is_better else self.baseline / self.ours

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        return data


def alternate(
    ours: Callable[[], float], baseline: Callable[[], float], repeats: int
) -> tuple[list[float], list[float]]:
    """Measure both sides ``repeats`` times, alternating which goes first, so that a slow
    moment of a shared machine hurts both alike. Each callable returns its own measurement."""
    ours_samples: list[float] = []
    baseline_samples: list[float] = []
    for repeat in range(repeats):
        if repeat % 2 == 0:
            ours_samples.append(ours())
            baseline_samples.append(baseline())
        else:
            baseline_samples.append(baseline())
            ours_samples.append(ours())
    return ours_samples, baseline_samples


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def timed(function: Callable[[], object]) -> float:
    """Seconds one call of ``function`` takes."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


@contextmanager
def scratch_folder(prefix: str) -> Iterator[Path]:
    """A temporary folder on the same disk as the other benchmarks, removed afterwards."""
    base = os.environ.get("SAPDI_BENCH_TMP")
    folder = Path(tempfile.mkdtemp(prefix=f"sapdi-bench-{prefix}-", dir=base))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_python(code: str, *, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    """Run ``code`` in a fresh interpreter and return what it printed."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{result.stderr}")
    return result.stdout


def have_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
