"""Stored metric histories, per-run metric statistics and collections, as readers show them."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..model import (
    MetricHistory,
    MetricValue,
    Unreadable,
    UnreadableFieldWarning,
)
from .checks import (
    STEP_LIMIT,
    STEP_TYPES,
    described,
    metric_value,
    name_problem,
    number_problem,
    numbers_readable,
    time_problem,
    times_readable,
)
from .runs import warn_unreadable

if TYPE_CHECKING:
    from ..store import ReadOnlyStore


def histories_from_rows(
    run_id: str, stored: Mapping[Any, Sequence[tuple[Any, Any, Any]]]
) -> list[MetricHistory]:
    """A run's metric histories from the store's rows, with an ``UnreadableFieldWarning``
    for each whose name or some of whose values cannot be read (those are left out)."""
    histories: list[MetricHistory] = []
    problems: list[Unreadable] = []
    for name, rows in stored.items():
        values, problem = read_history(run_id, name, rows)
        if problem is not None:
            problems.append(problem)
        if problem is None or problem.name is not None:
            histories.append(MetricHistory(run_id=run_id, name=name, values=values))
    warn_unreadable(run_id, None, problems)
    return histories


def read_history(
    run_id: str, name: object, rows: Sequence[tuple[Any, Any, Any]]
) -> tuple[tuple[MetricValue, ...], Unreadable | None]:
    """The stored values of one metric of a run, oldest first, without those whose value,
    step or timestamp cannot be read; and what was left out, if anything."""
    problem = name_problem(name)
    if problem is not None:
        return (), Unreadable("metric", None, f"a metric name is {problem}")
    if not rows:
        return (), None
    # The usual case checked in bulk, without a Python call per value: a history holds
    # up to 1000 values per metric.
    values, steps, stamps = zip(*rows, strict=True)
    if (
        numbers_readable(values)
        and STEP_TYPES.issuperset(map(type, steps))
        and times_readable(stamps)
    ):
        return tuple(map(metric_value, rows)), None
    kept: list[MetricValue] = []
    first: str | None = None
    for value, step, stamp in rows:
        problem = _stored_value_problem(value, step, stamp)
        if problem is None:
            kept.append(MetricValue(float(value), step, float(stamp)))
        elif first is None:
            first = problem
    if first is None:
        return tuple(kept), None
    reason = (
        f"metric {name!r}: {len(rows) - len(kept)} of its {len(rows)} stored values cannot "
        f"be read (the first: {first})"
    )
    return tuple(kept), Unreadable("metric", str(name), reason)


def _stored_value_problem(value: object, step: object, stamp: object) -> str | None:
    """Why one stored value of a metric cannot be read; None if it can."""
    problem = number_problem(value)
    if problem is not None:
        return f"a value is {problem}"
    if step is not None and (
        not isinstance(step, int) or isinstance(step, bool) or not -STEP_LIMIT <= step < STEP_LIMIT
    ):
        return f"a step is {described(step)}, not a 64-bit integer"
    if stamp is None:
        return "a timestamp is NULL"
    problem = time_problem(stamp)
    return None if problem is None else f"a timestamp is {problem}"


def read_metric_stats(
    store: ReadOnlyStore, run_id: str, *, warn: bool = True
) -> dict[str, dict[str, Any]]:
    """Per metric of a run: its last value, and the count, min and max of its stored values
    (``ReadOnlyStore.metric_stats``), each readable: a metric whose name cannot be read is
    left out, and one whose last, min or max is not a number has them taken again from its
    readable values (a last value that cannot be read is None), with an
    ``UnreadableFieldWarning`` for the values left out unless ``warn`` is false."""
    stats: dict[str, dict[str, Any]] = {}
    for name, stat in store.metric_stats(run_id).items():
        if name_problem(name) is not None:
            continue
        if any(
            number_problem(stat[key]) for key in ("last", "min", "max") if stat[key] is not None
        ):
            rows = store.metric_history(run_id, [name])[name]
            values, problem = read_history(run_id, name, rows)
            if warn and problem is not None:
                warn_unreadable(run_id, None, [problem])
            numbers = [value.value for value in values]
            stat = {
                "last": None if number_problem(stat["last"]) else stat["last"],
                "count": len(numbers),
                "min": min(numbers, default=None),
                "max": max(numbers, default=None),
            }
        stats[name] = stat
    return stats


def read_collections(
    stored: Iterable[Mapping[str, Any]], *, warn: bool = True
) -> list[dict[str, Any]]:
    """``ReadOnlyStore.collections()`` as readers show them: a collection whose scenario or
    name cannot be read is left out (its runs are still listed, that field left out), with
    an ``UnreadableFieldWarning`` unless ``warn`` is false; a newest start that cannot be
    read is None."""
    collections: list[dict[str, Any]] = []
    for item in stored:
        scenario, name = item["scenario"], item["collection"]
        problem = name_problem(name) or (None if scenario is None else name_problem(scenario))
        if problem is not None:
            if warn:
                warnings.warn(
                    f"a collection {'name' if name_problem(name) else 'scenario'} is {problem}; "
                    "the collection is left out of the list (its runs are not)",
                    UnreadableFieldWarning,
                    stacklevel=2,
                )
            continue
        last_start = item["last_start"]
        collections.append({**item, "last_start": None if time_problem(last_start) else last_start})
    return collections
