"""Peak memory of a long run: 10 million values into 100 metrics. The cache must stay
bounded whatever the count, so the process peaks no higher with 10 million values than
with 1 million; an unbounded cache (every value kept in a list) is shown for contrast."""

from __future__ import annotations

from benchmarks.common import CONTEXT, Figure, run_python, scratch_folder

# Each child prints its peak resident memory, in MB, after logging: VmHWM, which starts
# afresh with the program (ru_maxrss would carry over the parent's peak through exec).
PEAK = (
    "int(next(line for line in open('/proc/self/status') if line.startswith('VmHWM')).split()[1])"
)
OURS = """
from sapdi_local import MLTrackingSDK
sdk = MLTrackingSDK(db_path={path!r}, **{context!r})
sdk.start_run()
names = [f"metric_{{index:03d}}" for index in range(100)]
for step in range({values} // 100):
    for name in names:
        sdk.log_metric(name, step * 0.5)
sdk.end_run()
print({peak} / 1024)
"""

UNBOUNDED = """
import time
kept = []
for step in range({values} // 100):
    for index in range(100):
        kept.append((step * 0.5, None, time.time()))
print({peak} / 1024)
"""

SLACK_MB = 4.0  # allocator noise between two runs of the same process


def run(quick: bool) -> list[Figure]:
    small, large = (100_000, 1_000_000) if quick else (1_000_000, 10_000_000)
    with scratch_folder("memory") as folder:
        peak = {}
        for values in (small, large):
            path = str(folder / f"ours-{values}.db")
            code = OURS.format(path=path, context=CONTEXT, values=values, peak=PEAK)
            peak[values] = float(run_python(code, timeout=900))
        unbounded = float(run_python(UNBOUNDED.format(values=large, peak=PEAK), timeout=900))
    bounded = peak[large] <= peak[small] + SLACK_MB
    return [
        Figure(
            benchmark=f"peak memory, {large:,} values into 100 metrics",
            unit="MB",
            ours=peak[large],
            baseline=unbounded,
            baseline_name="every value kept in a list",
            higher_is_better=False,
            target=f"no more than with {small:,} values (+{SLACK_MB:g} MB)",
            met=bounded,
            note=f"peak with {small:,} values: {peak[small]:.1f} MB",
        )
    ]
