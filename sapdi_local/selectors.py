"""The selectors of get_runs and delete_runs, and their rules.

Each selector is an object with an id, an id, comma-separated ids, or a list of those.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import InvalidFilterError
from .validation import check_tag

if TYPE_CHECKING:
    from .search_language import Expression
    from .store import ReadOnlyStore, RunFilter


def selector_values(field: str, value: Any) -> tuple[str, ...] | None:
    """Turn an object, id, comma-separated ids or a list of those into a tuple of ids."""
    if value is None:
        return None
    if isinstance(value, str):
        if "," not in value:
            return (value,)
        return tuple(part.strip() for part in value.split(",") if part.strip())
    # A Scenario given as scenario_version selects by its version; other objects by their id.
    if field == "scenario_version" and isinstance(getattr(value, "version", None), str):
        return (value.version,)
    if isinstance(getattr(value, "id", None), str):
        return (value.id,)
    if isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        ids: list[str] = []
        for item in value:
            ids.extend(selector_values(field, item) or ())
        return tuple(ids)
    raise InvalidFilterError(
        f"{field} must be an id, comma-separated ids, an object with an id, or a list of those; "
        f"got {type(value).__name__} {value!r}"
    )


def run_filter(
    function: str,
    scenario: Any,
    scenario_version: Any,
    pipeline: Any,
    execution: Any,
    notebook: Any,
    run: Any,
    tags: Mapping[str, Any] | None,
    *,
    require_selector: bool = True,
) -> RunFilter:
    """Check the selectors of ``function`` and turn them into a RunFilter; the original's
    functions need at least one selector (``require_selector``), a search none."""
    from .store import RunFilter

    selectors = {
        "scenario": scenario,
        "scenario_version": scenario_version,
        "pipeline": pipeline,
        "execution": execution,
        "notebook": notebook,
        "run": run,
    }
    if require_selector and all(value is None for value in selectors.values()):
        raise InvalidFilterError(
            f"{function}() needs at least one of scenario, scenario_version, pipeline, "
            "execution, notebook or run; for example scenario=sapdi.get_current_scenario()"
        )
    if notebook is not None and scenario is None and run is None:
        raise InvalidFilterError(
            f"{function}(): notebook= needs scenario= or run= as well; add the scenario, for "
            "example scenario=sapdi.get_current_scenario()"
        )
    if tags is not None and not isinstance(tags, Mapping):
        raise InvalidFilterError(
            f"{function}(): tags must be a dict of tag key to value, got {type(tags).__name__}"
        )
    tags = dict(tags or {})
    # runName is the run's name, not a stored tag: it filters on the name.
    run_name = tags.pop("runName", None)
    tag_pairs = tuple(check_tag(key, value) for key, value in tags.items())
    ids = {field: selector_values(field, value) for field, value in selectors.items()}
    return RunFilter(
        scenarios=ids["scenario"],
        scenario_versions=ids["scenario_version"],
        pipelines=ids["pipeline"],
        executions=ids["execution"],
        notebooks=ids["notebook"],
        runs=ids["run"],
        names=None if run_name is None else (str(run_name),),
        tags=tag_pairs,
    )


def search_filter(
    scenario: Any,
    scenario_version: Any,
    pipeline: Any,
    execution: Any,
    notebook: Any,
    run: Any,
    tags: Mapping[str, Any] | None,
) -> RunFilter | None:
    """The selection of search_runs: get_runs' selectors, none of them needed (the
    expression may select alone); None when none is given."""
    given = (scenario, scenario_version, pipeline, execution, notebook, run)
    if all(value is None for value in given) and not tags:
        return None
    return run_filter(
        "search_runs",
        scenario,
        scenario_version,
        pipeline,
        execution,
        notebook,
        run,
        tags,
        require_selector=False,
    )


def delete_filter(
    scenario: Any,
    scenario_version: Any,
    pipeline: Any,
    execution: Any,
    notebook: Any,
    run: Any,
) -> RunFilter:
    """The selection of delete_runs: the rules of get_runs, and bulk deletion of several
    scenarios (a list or comma-separated ids) takes scenario= alone."""
    several_scenarios = scenario is not None and (
        ("," in scenario) if isinstance(scenario, str) else not hasattr(scenario, "id")
    )
    others = (scenario_version, pipeline, execution, notebook, run)
    if several_scenarios and any(value is not None for value in others):
        raise InvalidFilterError(
            "delete_runs(): deleting several scenarios at once takes scenario= alone; "
            "drop the other selectors or delete one scenario at a time"
        )
    return run_filter(
        "delete_runs", scenario, scenario_version, pipeline, execution, notebook, run, None
    )


def with_statuses(
    store: ReadOnlyStore, selection: RunFilter, statuses: Iterable[str] | None
) -> RunFilter:
    """``selection`` narrowed to runs with one of ``statuses``. RUNNING and KILLED runs are
    both stored as RUNNING: the process of each such run tells which it is now."""
    from .context import process_is_gone
    from .model import KILLED, RUNNING, STATUSES

    if statuses is None:
        return selection
    wanted = tuple(statuses)
    for status in wanted:
        if status not in STATUSES:
            raise InvalidFilterError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    chosen: list[str] = []
    if RUNNING in wanted or KILLED in wanted:
        for run_id, host, pid, started in store.running_processes(selection):
            if (KILLED if process_is_gone(host, pid, started) else RUNNING) in wanted:
                chosen.append(run_id)
    stored = tuple(status for status in wanted if status not in (RUNNING, KILLED))
    return selection._replace(statuses=stored, status_or_runs=tuple(chosen))


# ---------------------------------------------------------------- one selection everywhere


def options_expression(
    *,
    scenarios: str | Iterable[str] | None = None,
    collections: str | Iterable[str] | None = None,
    notebooks: str | Iterable[str] | None = None,
    pipelines: str | Iterable[str] | None = None,
    runs: Iterable[str] | None = None,
    statuses: Iterable[str] | None = None,
    tags: Iterable[tuple[str, str]] = (),
    started_after: float | None = None,
    where: str | None = None,
) -> Expression | None:
    """The selection that the command line's options and the explorer's query parameters
    make, as one search expression, ANDed with ``where`` (an expression's text): the same
    options select the same runs wherever they are given.

    Each option takes one value, comma-separated values (``scenario='a,b'``) or a list; a
    collection matches its name or its name as lists show it (``train.py (Default)``);
    statuses are the statuses runs show (KILLED: RUNNING, process gone).

    >>> options_expression(scenarios="churn,forecast", where="metrics.accuracy > 0.9")
    And(operands=(Comparison(key=Key(kind='attribute', name='scenario'), operator='IN', ...
    """
    from .search_language import ATTRIBUTE, TAG, And, Comparison, Key, parse_filter

    conditions: list[Expression] = []
    for name, values in (
        ("scenario", _listed_values("scenario", scenarios)),
        ("collection", _listed_values("collection", collections)),
        ("notebook", _listed_values("notebook", notebooks)),
        ("pipeline", _listed_values("pipeline", pipelines)),
        ("id", None if runs is None else tuple(runs)),
        ("status", None if statuses is None else tuple(s.upper() for s in statuses)),
    ):
        if values is not None:
            conditions.append(Comparison(Key(ATTRIBUTE, name), "IN", values))
    for name, value in tags:
        conditions.append(Comparison(Key(TAG, name), "=", (value,)))
    if started_after is not None:
        conditions.append(Comparison(Key(ATTRIBUTE, "start_time"), ">=", (started_after,)))
    typed = parse_filter(where)
    if typed is not None:
        conditions.append(typed)
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else And(tuple(conditions))


def _listed_values(field: str, value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        values = selector_values(field, value)
        return None if values is None else values
    return tuple(value)


def option_names(
    store: ReadOnlyStore, field: str, values: str | Iterable[str] | None
) -> tuple[str, ...] | None:
    """Scenario or collection names as an option gives them: each value a comma list, but
    for a value holding a comma that is a whole stored name (or, for a collection, its shown
    name "X (Default)"), which names that one: any name can be selected, commas and all.
    The command line and the explorer read their options through this one function."""
    if values is None:
        return None
    given = [values] if isinstance(values, str) else list(values)
    if not given:
        return None
    whole: set[str] | None = None
    names: list[str] = []
    for value in given:
        if "," in value:
            whole = _stored_names(store, field) if whole is None else whole
            if value in whole:
                names.append(value)
                continue
        names.extend(selector_values(field, value) or ())
    return tuple(names)


def _stored_names(store: ReadOnlyStore, field: str) -> set[str]:
    names: set[str] = set()
    for item in store.collections():
        if field == "scenario":
            names.add(item["scenario"])
        else:
            names.add(item["collection"])
            if item["is_default"] and isinstance(item["collection"], str):
                names.add(item["collection"] + " (Default)")
    return {name for name in names if isinstance(name, str)}
