"""Starting up: the import of sapdi_local.tracking as a whole process, and the first
start_run in a new process, on a brand-new file and on an existing one; MLflow alongside
when it is installed (`pip install -e '.[bench]'`)."""

from __future__ import annotations

import subprocess
import sys
import time

from benchmarks.common import (
    CONTEXT,
    Figure,
    alternate,
    have_module,
    median,
    run_python,
    scratch_folder,
)

IMPORT_TARGET_MS = 100.0
FIRST_RUN_TARGET_MS = 20.0


def process_ms(code: str) -> float:
    """Milliseconds a whole `python -c code` process takes, start to exit."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return (time.perf_counter() - start) * 1000


OURS_FIRST_RUN = """
import time
from sapdi_local import MLTrackingSDK
sdk = MLTrackingSDK(db_path={path!r}, **{context!r})
start = time.perf_counter()
sdk.start_run()
print((time.perf_counter() - start) * 1000)
sdk.end_run()
"""

MLFLOW_FIRST_RUN = """
import logging, time, warnings
warnings.simplefilter("ignore")
logging.disable(logging.WARNING)
import mlflow
mlflow.set_tracking_uri("sqlite:///{path}")
start = time.perf_counter()
mlflow.start_run()
print((time.perf_counter() - start) * 1000)
mlflow.end_run()
"""


def run(quick: bool) -> list[Figure]:
    repeats = 3 if quick else 7
    with_mlflow = have_module("mlflow")
    bare = median([process_ms("pass") for _ in range(repeats)])
    baseline_code = "import mlflow" if with_mlflow else "pass"
    ours, base = alternate(
        lambda: process_ms("import sapdi_local.tracking"),
        lambda: process_ms(baseline_code),
        repeats,
    )
    figures = [
        Figure(
            benchmark="import sapdi_local.tracking (whole process)",
            unit="ms",
            ours=median(ours),
            baseline=median(base),
            baseline_name="import mlflow (whole process)" if with_mlflow else "python -c pass",
            higher_is_better=False,
            target=f"under {IMPORT_TARGET_MS:g} ms",
            met=median(ours) < IMPORT_TARGET_MS,
            note=f"python -c pass alone: {bare:.0f} ms",
            samples={"ours": ours, "baseline": base},
        )
    ]
    with scratch_folder("startup") as folder:
        counter = iter(range(1000))

        def ours_new() -> float:
            path = folder / f"ours-{next(counter)}.db"
            return float(run_python(OURS_FIRST_RUN.format(path=str(path), context=CONTEXT)))

        def mlflow_new() -> float:
            path = folder / f"mlflow-{next(counter)}.db"
            return float(run_python(MLFLOW_FIRST_RUN.format(path=path)).split()[-1])

        if with_mlflow:  # MLflow's first run takes seconds: fewer repeats of this pair
            pairs = 1 if quick else 3
            ours_first, mlflow_first = alternate(ours_new, mlflow_new, pairs)
        else:
            ours_first, mlflow_first = [ours_new() for _ in range(repeats)], []
        figures.append(
            Figure(
                benchmark="first start_run, brand-new file",
                unit="ms",
                ours=median(ours_first),
                baseline=median(mlflow_first) if mlflow_first else None,
                baseline_name="MLflow sqlite, first start_run" if mlflow_first else "",
                higher_is_better=False,
                target=f"under {FIRST_RUN_TARGET_MS:g} ms",
                met=median(ours_first) < FIRST_RUN_TARGET_MS,
                note="in a new process, after the import; creates the schema",
                samples={"ours": ours_first, "baseline": mlflow_first},
            )
        )
        existing = folder / "existing.db"
        run_python(OURS_FIRST_RUN.format(path=str(existing), context=CONTEXT))
        ours_existing = [
            float(run_python(OURS_FIRST_RUN.format(path=str(existing), context=CONTEXT)))
            for _ in range(repeats)
        ]
        figures.append(
            Figure(
                benchmark="first start_run, existing file",
                unit="ms",
                ours=median(ours_existing),
                higher_is_better=False,
                note="in a new process, after the import",
                samples={"ours": ours_existing},
            )
        )
    return figures
