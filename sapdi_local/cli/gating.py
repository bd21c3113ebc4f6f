"""``check``: gate a CI job on the metrics of the runs an expression selects."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import click

from ..display import printable
from ..model import Run
from ..records import (
    runs_from_records,
)
from ..search_language import METRIC, Key, key_text
from ..store import ReadOnlyStore, search_run_records
from .common import (
    EXIT_CHECK_FAILED,
    CommandError,
    FiniteNumber,
    db_option,
    json_option,
    load_run,
    nonblank_where,
    print_json,
    reader,
)
from .tables import (
    line,
    number,
)

# ---------------------------------------------------------------- check


@click.command()
@click.argument("run", required=False)
@click.option("--metric", required=True, help="The metric to check.")
@click.option("--min", "minimum", type=FiniteNumber(), help="Fail when the value is below this.")
@click.option("--max", "maximum", type=FiniteNumber(), help="Fail when the value is above this.")
@click.option("--baseline", help="Fail when worse than this run's value by more than --tolerance.")
@click.option(
    "--tolerance",
    type=FiniteNumber(minimum=0),
    default=0.0,
    show_default=True,
    help="How much worse than --baseline still passes (0 or more).",
)
@click.option(
    "--lower-is-better",
    is_flag=True,
    help="Smaller values are better (for --baseline, and for the best run of --where).",
)
@click.option(
    "--where",
    callback=nonblank_where,
    help="Instead of RUN: gate on the best run this search expression selects.",
)
@click.option("--all", "every", is_flag=True, help="With --where: gate on every run it selects.")
@db_option
@json_option
def check(
    run: str | None,
    metric: str,
    minimum: float | None,
    maximum: float | None,
    baseline: str | None,
    tolerance: float,
    lower_is_better: bool,
    where: str | None,
    every: bool,
    db: Path | None,
    as_json: bool,
) -> None:
    """Exit 1 when a run's metric is outside the bounds, 0 when inside: a CI gate.

    The run is RUN, or the best run that --where selects (highest value, lowest with
    --lower-is-better), or with --all every run it selects, each of which must pass.
    Exit 2, never a pass, when no run is selected, the metric is missing or its stored
    value is not a finite number, or a bound or tolerance is not a finite number.

    \b
    Examples:
      sapdi-local check ci-42 --metric accuracy --min 0.9
      sapdi-local check ci-42 --metric rmse --baseline main --tolerance 0.01 --lower-is-better
      sapdi-local check --where "tags.ci = 'yes' and start_time > '-1d'" --metric accuracy --min 0.9
    """
    if minimum is None and maximum is None and baseline is None:
        raise click.UsageError("give --min, --max or --baseline")
    if minimum is not None and maximum is not None and minimum > maximum:
        raise click.UsageError(
            f"--min {minimum!r} is above --max {maximum!r}: no value could pass; "
            "give a --min at most --max"
        )
    if (run is None) == (where is None):
        raise click.UsageError("give either RUN or --where EXPRESSION (not both)")
    if every and where is None:
        raise click.UsageError("--all goes with --where")
    with reader(db) as store:
        if run is not None:
            gated = [load_run(store, run)]
        else:
            gated = gated_runs(store, where or "", metric, lower_is_better=lower_is_better)
            if not every:
                gated = gated[:1]
        values = [metric_of(found, metric) for found in gated]
        reference = None if baseline is None else metric_of(load_run(store, baseline), metric)
    verdicts = [
        gate_failures(
            value,
            minimum=minimum,
            maximum=maximum,
            reference=reference,
            tolerance=tolerance,
            lower_is_better=lower_is_better,
        )
        for value in values
    ]
    failed = any(verdicts)
    if as_json:
        results = [
            {
                "run_id": found.id,
                "metric": metric,
                "value": value,
                "baseline": reference,
                "ok": not failures,
                "failures": failures,
            }
            for found, value, failures in zip(gated, values, verdicts, strict=True)
        ]
        print_json(results[0] if run is not None else {"ok": not failed, "runs": results})
    else:
        for found, value, failures in zip(gated, values, verdicts, strict=True):
            label = f"{metric} = {number(value)} in run {found.name} ({found.id[:8]})"
            if failures:
                click.echo(printable(f"FAIL: {label} is {' and '.join(failures)}"), err=True)
            else:
                line(f"OK: {label}")
    if failed:
        sys.exit(EXIT_CHECK_FAILED)


def gated_runs(
    store: ReadOnlyStore, where: str, metric: str, *, lower_is_better: bool
) -> list[Run]:
    """The runs ``where`` selects, best first by ``metric`` (runs lacking it last, so that
    the gate reports them rather than passing over them); an error when none is selected."""

    direction = "ASC" if lower_is_better else "DESC"
    order = [f"{key_text(Key(METRIC, metric))} {direction}"]
    _, records = search_run_records(store, where, order)
    if not records:
        raise CommandError(f"no run matches --where {where!r}; nothing to check")
    return runs_from_records(records)


def gate_failures(
    value: float,
    *,
    minimum: float | None,
    maximum: float | None,
    reference: float | None,
    tolerance: float,
    lower_is_better: bool,
) -> list[str]:
    """Why ``value`` fails the gate; empty when it passes."""
    failures = []
    if minimum is not None and value < minimum:
        failures.append(f"below the minimum {number(minimum)}")
    if maximum is not None and value > maximum:
        failures.append(f"above the maximum {number(maximum)}")
    if reference is not None:
        worse_by = (value - reference) if lower_is_better else (reference - value)
        if worse_by > tolerance:
            failures.append(
                f"worse than the baseline's {number(reference)} by {number(worse_by)} "
                f"(tolerance {number(tolerance)})"
            )
    return failures


def metric_of(run: Run, metric: str) -> float:
    """The run's last value of ``metric``, a finite number: a metric that is missing, that
    cannot be read or that is not finite (a hand-edited file) is an error, never a pass."""
    unreadable = [item for item in run.unreadable if item.field == "metric" and item.name == metric]
    if unreadable:
        raise CommandError(
            f"run {run.id}: {unreadable[0].reason}; it cannot be checked: log the metric again"
        )
    if metric not in run.metrics:
        known = ", ".join(sorted(run.metrics)) or "none"
        raise CommandError(f"run {run.id} has no metric {metric!r}; its metrics: {known}")
    value = run.metrics[metric]
    if not math.isfinite(value):
        raise CommandError(
            f"run {run.id}: metric {metric!r} is {value!r}, not a finite number; it cannot be "
            "checked: log the metric again"
        )
    return value
