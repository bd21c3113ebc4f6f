"""Peak memory of a long run: 10 million values into 100 metrics. The cache must stay
bounded whatever the count, so the process grows no more with 10 million values than with
1 million; an unbounded cache (every value kept in a list) is shown for contrast."""

from __future__ import annotations

from benchmarks.common import CONTEXT, Figure, run_python, scratch_folder

# Each child prints how much its peak resident memory grew while logging, in MB.
OURS = """
import resource
from sapdi_local import MLTrackingSDK
sdk = MLTrackingSDK(db_path={path!r}, **{context!r})
sdk.start_run()
names = [f"metric_{{index:03d}}" for index in range(100)]
for name in names:
    sdk.log_metric(name, 0.0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for step in range({values} // 100):
    for name in names:
        sdk.log_metric(name, step * 0.5)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sdk.end_run()
print((after - before) / 1024)
"""

UNBOUNDED = """
import resource, time
kept = []
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for step in range({values} // 100):
    for index in range(100):
        kept.append((step * 0.5, None, time.time()))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) / 1024)
"""

SLACK_MB = 4.0  # allocator noise between two runs of the same process


def run(quick: bool) -> list[Figure]:
    small, large = (100_000, 1_000_000) if quick else (1_000_000, 10_000_000)
    with scratch_folder("memory") as folder:
        grown = {}
        for values in (small, large):
            path = str(folder / f"ours-{values}.db")
            code = OURS.format(path=path, context=CONTEXT, values=values)
            grown[values] = float(run_python(code, timeout=900))
        unbounded = float(run_python(UNBOUNDED.format(values=large), timeout=900))
    bounded = grown[large] <= grown[small] + SLACK_MB
    return [
        Figure(
            benchmark=f"peak memory growth, {large:,} values into 100 metrics",
            unit="MB",
            ours=grown[large],
            baseline=unbounded,
            baseline_name="every value kept in a list",
            higher_is_better=False,
            target=f"no more than with {small:,} values (+{SLACK_MB:g} MB)",
            met=bounded,
            note=f"growth with {small:,} values: {grown[small]:.1f} MB",
        )
    ]
