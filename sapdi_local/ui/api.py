"""The explorer's JSON API: what each ``/api/...`` address answers, read through the store.

Each endpoint is a function of a ``ReadOnlyStore`` and the query's parameters that returns
JSON-ready data or raises ``ApiError`` (a status and a message for people). The query
string is checked by ``query.py`` and runs are shown as ``summaries.py`` makes them. The
HTTP layer (``server.py``) only routes and encodes. Nothing here writes: the store is
opened read-only.

A field of a run that cannot be read (a row no sapdi-local wrote: a label that is not JSON,
a time that is text) is left out (null, or missing from its map) and described in the
run's ``unreadable`` list; metric values that cannot be read are left out of histories and
described in the answer's ``unreadable`` list. The answer is 200 all the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import __version__
from ..collector import collector_paused
from ..display import quoted
from ..errors import InvalidFilterError
from ..model import STATUSES
from ..records import (
    read_collections,
    read_history,
    read_metric_stats,
    read_record,
    read_records,
    readable_names,
)
from ..search_language import (
    ATTRIBUTE,
    MAX_ORDER_KEYS,
    METRIC,
    PARAM,
    TAG,
    And,
    Comparison,
    Expression,
    Key,
    OrderKey,
    parse_order_by,
)
from ..selectors import option_names, options_expression, with_statuses
from ..store import (
    ReadOnlyStore,
    RunFilter,
    RunRecord,
    search_run_records,
)
from .query import (
    MAX_LIMIT,
    MAX_OFFSET,
    MAX_VALUE_CHARACTERS,
    Query,
    _check_known,
    _count,
    _language_error,
    _several,
    _single,
    _tag_pairs,
)
from .query import ApiError as ApiError  # the server answers with it
from .summaries import _iso, run_json, run_summary

# Parameters and tags the SDK adds to every run: lists show them as columns of their own.
SYSTEM_PARAMETERS = ("start", "end")
SYSTEM_TAGS = ("runName",)


def database(store: ReadOnlyStore, query: Query) -> dict[str, Any]:
    """``/api/database``: the file, its size, schema and counts, and the server's version."""
    _check_known(query, (), "/api/database")
    counts = store.counts()  # opens the file first: the snapshot note is known after
    return {
        "path": str(store.path),
        "bytes": store.file_size(),
        "schema_version": store.schema_version(),  # the file's: the explorer never migrates
        "version": __version__,
        "counts": counts,
        # Set when the file sits where SQLite cannot share it with writers: what is missed.
        "snapshot_note": store.snapshot_note,
        "statuses": list(STATUSES),
        "system_parameters": list(SYSTEM_PARAMETERS),
        "system_tags": list(SYSTEM_TAGS),
    }


def collections(store: ReadOnlyStore, query: Query) -> dict[str, Any]:
    """``/api/collections``: every run collection, grouped by scenario."""
    _check_known(query, (), "/api/collections")
    scenarios: dict[str | None, list[dict[str, Any]]] = {}
    for item in read_collections(store.collections(), warn=False):
        display = item["collection"] + (" (Default)" if item["is_default"] else "")
        scenarios.setdefault(item["scenario"], []).append(
            {
                "name": item["collection"],
                "display_name": display,
                "is_default": item["is_default"],
                "runs": item["runs"],
                "last_start": _iso(item["last_start"]),
            }
        )
    return {
        "scenarios": [
            {"name": name, "collections": items}
            for name, items in sorted(scenarios.items(), key=lambda item: (item[0] is None, item))
        ]
    }


RUNS_PARAMETERS = (
    "scenario",
    "collection",
    "tag",
    "q",
    "status",
    "run",
    "where",
    "order_by",
    "sort",
    "dir",
    "limit",
    "offset",
)
SORT_PREFIXES = {"param": PARAM, "metric": METRIC, "tag": TAG}
# The run list's own sort names, as attributes of the search language.
SORT_COLUMNS = {"name": "name", "status": "status", "start": "start_time", "duration": "duration"}
DEFAULT_SUFFIX = " (Default)"  # how lists show a default collection


def runs(store: ReadOnlyStore, query: Query) -> dict[str, Any]:
    """``/api/runs``: runs as summaries (``run_summary``) selected as the command line's
    options select them (``selectors.options_expression``): scenario, collection, run (ids)
    and status, each a comma list; tag (KEY=VALUE, all must match); ``where``, an expression
    of the search language; ``q``, text in the name in any case. Sorted by ``order_by``
    (``KEY [ASC|DESC]``, repeatable) or by ``sort`` (name, status, start, duration,
    param:NAME, metric:NAME or tag:NAME) in ``dir`` (asc or desc); newest first by default.
    ``limit`` and ``offset`` page through them. Selecting, sorting and paging happen in one
    SQL query (``search_run_records``), so a page of a 10,000-run collection costs only its
    own rows. ``columns`` lists the parameter, metric and tag names of the runs the options
    select, before ``where`` and ``q`` narrow them."""
    _check_known(query, RUNS_PARAMETERS, "/api/runs")
    options = _selection_options(store, query)
    try:
        expression = options_expression(**options, where=_single(query, "where"))
    except InvalidFilterError as error:
        raise _language_error(error, "where") from None
    order = _run_order(query)
    offset = _count(query, "offset", 0, MAX_OFFSET) or 0
    limit = _count(query, "limit", None, MAX_LIMIT)
    # A list of every run makes millions of objects and no cycles among them (see get_runs).
    with collector_paused():
        try:
            total, records = _search(
                store, expression, _single(query, "q") or None, order, limit, offset
            )
        except InvalidFilterError as error:  # stopped after SEARCH_SECONDS
            raise ApiError(400, str(error), parameter="where") from None
        summaries = [run_summary(stored) for stored in read_records(records)]
    columns = store.column_names(_columns_selection(store, options))
    return {
        "total": total,
        "offset": offset,
        "runs": summaries,
        "columns": {
            "parameters": readable_names(columns["parameters"]),
            "metrics": readable_names(columns["metrics"]),
            "tags": readable_names(columns["tags"]),
        },
    }


def _selection_options(store: ReadOnlyStore, query: Query) -> dict[str, Any]:
    """The options of ``options_expression`` from the query, checked."""
    statuses = _several(query, "status")
    if statuses is not None:
        statuses = tuple(status.strip().upper() for status in statuses)
        for status in statuses:
            if status not in STATUSES:
                raise ApiError(
                    400,
                    f"status {quoted(status)} is not one of {', '.join(STATUSES)}",
                    parameter="status",
                )
    return {
        "scenarios": _names(store, query, "scenario"),
        "collections": _names(store, query, "collection"),
        "runs": _several(query, "run"),
        "statuses": statuses,
        "tags": _tag_pairs(query),
    }


def _names(store: ReadOnlyStore, query: Query, parameter: str) -> tuple[str, ...] | None:
    """Scenario or collection names, read as the command line reads them."""
    return option_names(store, parameter, query.get(parameter))


def _columns_selection(store: ReadOnlyStore, options: dict[str, Any]) -> RunFilter:
    """The runs the options select, as the store's selectors (for the column names only: a
    shown name "X (Default)" takes X's runs, default or not)."""
    collections = options["collections"]
    if collections is not None:
        collections = tuple(
            dict.fromkeys(
                n for name in collections for n in (name, name.removesuffix(DEFAULT_SUFFIX))
            )
        )
    selection = RunFilter(
        scenarios=options["scenarios"],
        collections=collections,
        runs=options["runs"],
        tags=options["tags"],
    )
    return with_statuses(store, selection, options["statuses"])


# A request's search is stopped after this long: the server's threads must come free.
SEARCH_SECONDS = 10.0


def _search(
    store: ReadOnlyStore,
    expression: Expression | None,
    text: str | None,
    order: list[OrderKey],
    limit: int | None,
    offset: int,
) -> tuple[int, list[RunRecord]]:
    """How many runs match, and the page of them. ``text`` is searched in names as ILIKE
    does (casefolded: any case in all of Unicode). A LIKE pattern has no escape for its
    wildcards % and _ (and SQLite ends a pattern at a NUL), so text holding them is matched
    in SQL with them as wildcards (a wider match) and then exactly, here."""
    if text is not None:
        expression = _and(expression, Comparison(Key(ATTRIBUTE, "name"), "ILIKE", (f"%{text}%",)))
        if any(character in text for character in "%_\0"):
            _, wider = search_run_records(store, expression, order, time_limit=SEARCH_SECONDS)
            folded = text.casefold()
            chosen = [
                record
                for record in wider
                if isinstance(record.row["name"], str) and folded in record.row["name"].casefold()
            ]
            return len(chosen), chosen[offset : None if limit is None else offset + limit]
    if limit == 0:  # the search's pages hold 1 run or more: one is read, for the count
        total, _ = search_run_records(
            store, expression, order, 1, offset, time_limit=SEARCH_SECONDS
        )
        return total, []
    return search_run_records(store, expression, order, limit, offset, time_limit=SEARCH_SECONDS)


def _and(expression: Expression | None, condition: Comparison) -> Expression:
    if expression is None:
        return condition
    if isinstance(expression, And):
        return And((*expression.operands, condition))
    return And((expression, condition))


def _run_order(query: Query) -> list[OrderKey]:
    """The order of the run list: ``order_by``'s keys, or ``sort`` and ``dir`` as keys."""
    sort, direction = _single(query, "sort"), _single(query, "dir")
    if direction is not None:
        direction = direction.lower()  # ASC and DESC as the search language writes them
    if direction not in (None, "asc", "desc"):
        raise ApiError(400, f"dir must be asc or desc, got {direction!r}", parameter="dir")
    items = query.get("order_by", ())
    if items:
        if sort is not None or direction is not None:
            raise ApiError(
                400,
                "give order_by, or sort and dir, not both: order_by=metrics.accuracy DESC "
                "says the direction itself",
                parameter="order_by",
            )
        try:
            keys = list(parse_order_by(list(items)))
        except InvalidFilterError as error:
            raise _language_error(error, "order_by") from None
        if len(keys) > MAX_ORDER_KEYS:
            raise ApiError(
                400,
                f"order_by has {len(keys)} keys; an order has at most {MAX_ORDER_KEYS}",
                parameter="order_by",
            )
        return keys
    if sort is None:
        return [OrderKey(Key(ATTRIBUTE, "start_time"), direction != "asc")]
    descending = direction == "desc"
    if sort in SORT_COLUMNS:
        return [OrderKey(Key(ATTRIBUTE, SORT_COLUMNS[sort]), descending)]
    prefix, sep, name = sort.partition(":")
    if sep and name and prefix in SORT_PREFIXES:
        return [OrderKey(Key(SORT_PREFIXES[prefix], name), descending)]
    raise ApiError(
        400,
        f"cannot sort by {quoted(sort)}; sort by {', '.join(SORT_COLUMNS)}, param:NAME, "
        "metric:NAME or tag:NAME, or give order_by=KEY [ASC|DESC] with any key of the "
        "search language",
        parameter="sort",
    )


def run(store: ReadOnlyStore, run_id: str, query: Query) -> dict[str, Any]:
    """``/api/runs/<id>``: one run with its process and per-metric last, min, max and count."""
    _check_known(query, (), "/api/runs/<id>")
    if len(run_id) > MAX_VALUE_CHARACTERS:
        raise ApiError(
            400,
            f"the run id in the address is {len(run_id):,} characters; ids have at most "
            f"{MAX_VALUE_CHARACTERS:,}: list runs at /api/runs",
        )
    records = store.select_runs(RunFilter(runs=(run_id,)))
    if not records:
        raise ApiError(404, f"no run with id {run_id!r} in {store.path}; list runs at /api/runs")
    stored = read_record(records[0])
    data = run_json(records[0])
    data["process"] = {"host": stored.row["host"], "pid": stored.row["pid"]}
    data["metric_stats"] = read_metric_stats(store, run_id, warn=False)
    return data


def metrics(store: ReadOnlyStore, query: Query) -> dict[str, Any]:
    """``/api/metrics?run=ID&metric=NAME``: stored histories of several runs, oldest first,
    one list per field (step, timestamp, value) so charts take them as they are. Values that
    cannot be read are left out, and each metric that lost some is described in
    ``unreadable`` (run_id, field, name, reason)."""
    _check_known(query, ("run", "metric"), "/api/metrics")
    run_ids = _several(query, "run")
    if run_ids is None:
        raise ApiError(400, "give at least one run: /api/metrics?run=ID (repeat run= for more)")
    names = query.get("metric") or None
    histories = store.metric_histories(run_ids, names)
    missing = [run_id for run_id in run_ids if run_id not in histories]
    if missing:
        raise ApiError(
            404, f"no run with id {missing[0]!r} in {store.path}; list runs at /api/runs"
        )
    runs: dict[str, dict[str, dict[str, list[Any]]]] = {}
    unreadable: list[dict[str, Any]] = []
    for run_id, history in histories.items():
        charted = runs[run_id] = {}
        for name, rows in history.items():
            values, problem = read_history(run_id, name, rows)
            if problem is not None:
                unreadable.append({"run_id": run_id, **problem.to_dict()})
                if problem.name is None:  # the name itself cannot be read
                    continue
            charted[name] = {
                "step": [step for _, step, _ in values],
                "timestamp": [timestamp for _, _, timestamp in values],
                "value": [value for value, _, _ in values],
            }
    return {"runs": runs, "unreadable": unreadable}


# Path → endpoint, for the server's router; /api/runs/<id> is routed by prefix.
ENDPOINTS: dict[str, Callable[[ReadOnlyStore, Query], dict[str, Any]]] = {
    "/api/database": database,
    "/api/collections": collections,
    "/api/runs": runs,
    "/api/metrics": metrics,
}
