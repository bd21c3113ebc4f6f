"""The logging hot path: tracking.log_metric(name, value) with an active run, against the
floor of any Python API call (a function that appends a tuple to a list)."""

from __future__ import annotations

import time
from collections.abc import Callable

from benchmarks.common import CONTEXT, Figure, alternate, median, scratch_folder

TARGET_RATIO = 4.0


def calls_per_second(log: Callable[[str, float], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        log("loss", 0.5)
    return calls / (time.perf_counter() - start)


def run(quick: bool) -> list[Figure]:
    from sapdi_local import MLTrackingSDK, tracking

    calls, repeats = (200_000, 5) if quick else (1_000_000, 9)
    floor_list: list[tuple[str, float]] = []

    def floor(name: str, value: float) -> None:
        floor_list.append((name, value))

    with scratch_folder("hot") as folder:
        previous = tracking.set_default_sdk(MLTrackingSDK(db_path=folder / "t.db", **CONTEXT))
        try:
            tracking.start_run()
            ours, base = alternate(
                lambda: calls_per_second(tracking.log_metric, calls),
                lambda: calls_per_second(floor, calls) + (floor_list.clear() or 0),
                repeats,
            )
            tracking.end_run()
        finally:
            tracking.set_default_sdk(previous).close()
    ours_rate, floor_rate = median(ours), median(base)
    cost = floor_rate / ours_rate
    return [
        Figure(
            benchmark="log_metric hot path",
            unit="calls/s",
            ours=ours_rate,
            baseline=floor_rate,
            baseline_name="append a tuple to a list",
            target=f"at most {TARGET_RATIO:g}× the floor's time",
            met=cost <= TARGET_RATIO,
            note=f"one call costs {cost:.2f}× the floor",
            samples={"ours": ours, "baseline": base},
        )
    ]
