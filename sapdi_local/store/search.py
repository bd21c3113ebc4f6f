"""Searching runs with the search language: a tree from ``sapdi_local.search_language``
compiled to SQL (``search_sql.py``) and run, its count, page and order in SQL.

A page reads only what it shows where an index serves its order: selecting by scenario or
collection adds the plain column comparisons that an index can walk (``_index_hints``),
newest first walks an index of start times, and a page sorted by a metric of many runs
walks the index of that metric's last values, then the runs lacking it
(``_metric_first_page``). The count of all matches is a separate query, which an index
answers for a scenario or collection.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from ..errors import InvalidFilterError
from ..search_language import (
    ATTRIBUTE,
    METRIC,
    And,
    Comparison,
    Expression,
    Key,
    OrderKey,
    check_page,
    parse_filter,
)
from .counts import RUN_COUNT_OUT_OF_RANGE, holds_run_counts
from .queries import RunQueries
from .search_sql import (
    _DEFAULT_SUFFIX,
    _bound,
    _Compiler,
    _joined,
    _keys,
    _listed,
    _order_keys,
    _required,
    _Sql,
    _sql,
)
from .selection import RunFilter, RunRecord, _run_conditions

# Attributes whose '=' and IN compare the plain column, which an index can look up.
_INDEXED_COLUMNS = {"scenario": "runs.scenario", "collection": "runs.collection"}
# A sort by a metric walks that metric's index once this many runs match; below it,
# sorting the matches costs less than walking past the runs of other selections.
_METRIC_WALK_FROM = 2_000


def _gone_runs(connection: sqlite3.Connection) -> list[str]:
    """The ids of runs stored as RUNNING whose process is gone: shown as KILLED."""
    from ..context import process_is_gone  # the process check, as selectors.with_statuses

    rows = connection.execute(
        "SELECT id, host, pid, pid_started FROM runs WHERE status = 'RUNNING'"
    ).fetchall()
    return [run_id for run_id, host, pid, started in rows if process_is_gone(host, pid, started)]


@contextmanager
def _stopped_after(connection: sqlite3.Connection, seconds: float | None) -> Iterator[None]:
    """Stop the statements run in the block once ``seconds`` have passed."""
    if seconds is None:
        yield
        return
    deadline = time.monotonic() + seconds
    # Called every few thousand SQLite steps; a true answer interrupts the statement.
    connection.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
    try:
        yield
    except sqlite3.OperationalError as error:
        if "interrupted" not in str(error):
            raise
        raise InvalidFilterError(
            f"the search took longer than {seconds:g} s and was stopped; narrow it (fewer "
            "conditions on different keys, fewer ILIKE patterns) or select fewer runs first"
        ) from None
    finally:
        connection.set_progress_handler(None, 0)


def search_run_records(
    store: RunQueries,
    expression: Expression | str | None,
    order_by: Sequence[OrderKey | str] | str | None = (),
    limit: int | None = None,
    offset: int = 0,
    base_selection: RunFilter | None = None,
    *,
    now: float | None = None,
    time_limit: float | None = None,
) -> tuple[int, list[RunRecord]]:
    """The runs that match ``expression`` (a tree from ``parse_filter``, its text, or None
    for all) and ``base_selection`` (the selectors of get_runs, ANDed), sorted by
    ``order_by`` (keys from ``parse_order_by`` or their text; newest first without), and
    of those the ``limit`` (None: all, else 1 to 100,000) from ``offset`` on: how many
    match in all, and the page's runs with parameters, tags, labels and last metrics, as
    ``select_runs`` gives them. ``now`` (Unix seconds) is what ages such as '-2d' count
    back from. Every part is read in one snapshot. With ``time_limit`` (seconds), a search
    that runs longer is stopped with an ``InvalidFilterError`` saying to narrow it: for a
    server, whose every request must end.

    >>> total, records = search_run_records(
    ...     store, "metrics.accuracy > 0.9 and params.optimizer = 'adam'",
    ...     ["metrics.accuracy DESC"], limit=100)
    >>> total, [(record.row["name"], record.metrics["accuracy"]) for record in records]
    (2, [('lr-0.001', 0.93), ('lr-0.01', 0.91)])
    """
    tree, order, limit, offset = parsed_search(expression, order_by, limit, offset)
    return store.decoded(
        lambda: _search(store, tree, order, limit, offset, base_selection, now, time_limit)
    )


def parsed_search(
    expression: Expression | str | None,
    order_by: Sequence[OrderKey | str] | str | None,
    limit: int | None,
    offset: int,
) -> tuple[Expression | None, tuple[OrderKey, ...], int | None, int]:
    """A search's arguments checked: the expression's tree (parsed from its text), the
    keys of its order, and its page."""
    tree = (
        parse_filter(expression)
        if expression is None or isinstance(expression, str)
        else expression
    )
    limit, offset = check_page(limit, offset)
    return tree, _order_keys(order_by), limit, offset


class CompiledSearch(NamedTuple):
    """A search as the pieces of its statements: what it reads from (``runs``, or the runs
    a base selection keeps, with the joins of its keys), its WHERE and its ORDER BY."""

    compiler: _Compiler
    source: _Sql
    where: _Sql
    terms: list[_Sql]
    counted_joins: int  # the joins the conditions need (the count needs no others)
    # The same selection as a WHERE on ``run_counts`` (named runs), when it selects only by
    # scenario and collection names: the kept counts of those pairs add up to the count.
    pairs: _Sql | None = None

    def tables(self) -> _Sql:
        return _sql(self.source, *self.compiler.joins)

    def count_statement(self) -> _Sql:
        joins = self.compiler.joins[: self.counted_joins]
        return _sql("SELECT COUNT(*) FROM ", self.source, *joins, " WHERE ", self.where)

    def kept_count_statement(self) -> _Sql | None:
        """The sum of the kept counts of the selected pairs, and how many of those counts
        are not whole numbers in range (another tool wrote them): None where the selection
        is not one of whole pairs."""
        if self.pairs is None:
            return None
        return _sql(
            f"SELECT TOTAL(runs.runs), TOTAL({RUN_COUNT_OUT_OF_RANGE}) "
            "FROM run_counts AS runs WHERE ",
            self.pairs,
        )


def compiled_search(
    connection: sqlite3.Connection,
    tree: Expression | None,
    order: Sequence[OrderKey],
    base_selection: RunFilter | None,
    now: float | None,
) -> CompiledSearch:
    """The statements' pieces of a search, for ``search_run_records`` and for reads that
    stream (``store.streaming``), so that both select and sort the same runs the same way.
    Called inside the read transaction: which RUNNING runs show as KILLED is read in it."""
    status = Key(ATTRIBUTE, "status")
    needs_status = any(key == status for key in _keys(tree)) or any(
        item.key == status for item in order
    )
    gone = _gone_runs(connection) if needs_status else []
    compiler = _Compiler(time.time() if now is None else now, gone, _required(tree))
    hints, rest = _index_hints(tree)
    condition = compiler.condition(rest) if rest is not None else _Sql("1")
    where = _joined(" AND ", [*hints, condition])
    counted_joins = len(compiler.joins)
    terms = compiler.order(order)
    source = _Sql("runs")
    if base_selection is not None:
        # A subquery named runs: the selectors' bare column names (name, key) would be
        # ambiguous beside the joined tables' columns.
        selected, arguments = _run_conditions(base_selection)
        source = _Sql(f"(SELECT * FROM runs WHERE {selected}) AS runs", tuple(arguments))
    pairs = None
    if rest is None and (base_selection is None or _selects_pairs(base_selection)):
        # Every condition became its index hint, each selecting exactly what it replaced:
        # the hints (and the selectors, on the same two columns) select whole pairs.
        by_selectors = [] if base_selection is None else [_pair_conditions(base_selection)]
        pairs = _joined(" AND ", [*hints, *by_selectors, _Sql("1")])
    return CompiledSearch(compiler, source, where, terms, counted_joins, pairs)


def _selects_pairs(selection: RunFilter) -> bool:
    """Whether ``selection`` selects by scenario and collection names alone."""
    return selection._replace(scenarios=None, collections=None) == RunFilter()


def _pair_conditions(selection: RunFilter) -> _Sql:
    """The conditions of a selection by scenario and collection names (``_selects_pairs``),
    as ``_run_conditions`` writes them: on bare ``scenario`` and ``collection`` columns,
    which ``run_counts`` has as ``runs`` has, with the same affinity."""
    selected, arguments = _run_conditions(
        RunFilter(scenarios=selection.scenarios, collections=selection.collections)
    )
    return _Sql(selected, tuple(arguments))


def _search(
    store: RunQueries,
    tree: Expression | None,
    order: tuple[OrderKey, ...],
    limit: int | None,
    offset: int,
    base_selection: RunFilter | None,
    now: float | None,
    time_limit: float | None,
) -> tuple[int, list[RunRecord]]:
    with store._reading() as connection:
        search = compiled_search(connection, tree, order, base_selection, now)
        compiler, source, where, terms = search.compiler, search.source, search.where, search.terms
        with _stopped_after(connection, time_limit):
            if limit is None:
                rows, columns = _page(connection, source, compiler.joins, where, terms, -1, offset)
                # All the rows from offset on: they tell the count, unless there are none.
                if rows or not offset:
                    total = offset + len(rows)
                else:
                    total = _counted(connection, search.count_statement())
            else:
                total, total_from_counts = _total(connection, search)
                first = order[0].key if order else None
                # One row past the page: whether more runs follow it, which checks a total
                # read from the kept counts (another tool may have changed them).
                if (
                    first is not None
                    and first.kind == METRIC
                    and first in compiler.join_of
                    and total >= _METRIC_WALK_FROM
                ):
                    rows, columns = _metric_first_page(
                        connection,
                        source,
                        compiler,
                        first,
                        order[0].descending,
                        where,
                        terms,
                        limit + 1,
                        offset,
                    )
                else:
                    rows, columns = _page(
                        connection, source, compiler.joins, where, terms, limit + 1, offset
                    )
                more_follow = len(rows) > limit
                rows = rows[:limit]
                if total_from_counts:
                    total = _checked_total(connection, search, total, offset, rows, more_follow)
        records = {
            row[0]: RunRecord(dict(zip(columns, row, strict=True)), {}, {}, {}, {}) for row in rows
        }
        RunQueries._attach_details(connection, records)
    return total, list(records.values())


def _counted(connection: sqlite3.Connection, count: _Sql) -> int:
    return int(connection.execute(count.text, count.arguments).fetchone()[0])


def _total(connection: sqlite3.Connection, search: CompiledSearch) -> tuple[int, bool]:
    """How many runs the search selects, and whether that came from the kept counts: their
    rows for the selected pairs where the file holds them (a file of an earlier schema,
    read without migrating, does not) and another tool wrote no count out of range there;
    else every match counted."""
    kept = search.kept_count_statement()
    if kept is not None and holds_run_counts(connection):
        total, forged = connection.execute(kept.text, kept.arguments).fetchone()
        if not forged:
            return int(total), True
    return _counted(connection, search.count_statement()), False


def _checked_total(
    connection: sqlite3.Connection,
    search: CompiledSearch,
    total: int,
    offset: int,
    rows: Sequence[Any],
    more_follow: bool,
) -> int:
    """A ``total`` read from the kept counts, checked against the page read beside it (its
    ``rows`` from ``offset`` on, and whether more runs follow them): where no more follow, the
    page tells the total; where more do, a kept total that leaves room for them is taken, and
    any other is counted. A count another tool changed then hides no run, and overstates
    the total at most until the page that ends the runs."""
    if not more_follow and (rows or not offset):
        return offset + len(rows)
    if more_follow and total > offset + len(rows):
        return total
    return _counted(connection, search.count_statement())


def _page(
    connection: sqlite3.Connection,
    source: _Sql,
    joins: Sequence[_Sql],
    where: _Sql,
    terms: Sequence[_Sql],
    limit: int,
    offset: int,
) -> tuple[list[tuple[Any, ...]], list[str]]:
    """The rows of runs matching ``where`` in the order of ``terms``, ``limit`` (-1: all)
    from ``offset`` on, and the names of their columns."""
    statement = _sql(
        "SELECT runs.* FROM ",
        source,
        *joins,
        " WHERE ",
        where,
        " ORDER BY ",
        _listed(", ", terms),
        " LIMIT ",
        _bound(limit),
        " OFFSET ",
        _bound(offset),
    )
    cursor = connection.execute(statement.text, statement.arguments)
    return cursor.fetchall(), [description[0] for description in cursor.description]


def _metric_first_page(
    connection: sqlite3.Connection,
    source: _Sql,
    compiler: _Compiler,
    metric: Key,
    descending: bool,
    where: _Sql,
    terms: Sequence[_Sql],
    limit: int,
    offset: int,
) -> tuple[list[tuple[Any, ...]], list[str]]:
    """A page sorted first by a metric, as ``_page`` with the same ``terms`` would give it,
    in two parts: the runs that have the metric, read in the order of its index (an inner
    join, so the walk stops once the page is full), then the runs lacking it."""
    value = compiler.stored(metric)
    # The first key's terms put runs lacking it last; here they are read last.
    by_value = _sql(value, " DESC" if descending else "")
    rest = terms[compiler.first_key_terms :]
    having = _joined(" AND ", [where, _sql(value, " IS NOT NULL")])
    rows, columns = _page(
        connection, source, compiler.inner_joins(metric), having, [by_value, *rest], limit, offset
    )
    if len(rows) == limit:
        return rows, columns
    if rows:
        before = offset + len(rows)  # the runs with the metric, all of them counted
    else:
        before = _counted(
            connection,
            _sql("SELECT COUNT(*) FROM ", source, *compiler.inner_joins(metric), " WHERE ", having),
        )
    lacking = _joined(" AND ", [where, _sql(value, " IS NULL")])
    more, _ = _page(
        connection,
        source,
        compiler.joins,
        lacking,
        rest,
        limit - len(rows),
        max(0, offset - before),
    )
    return rows + more, columns


def _index_hints(expression: Expression | None) -> tuple[list[_Sql], Expression | None]:
    """Plain comparisons of indexed columns for the conditions ANDed at the top, and what is
    left of the expression to compile.

    The compiled conditions wrap columns in IFNULL and CASE, which no index can look up.
    A scenario or collection '=' or IN of names becomes the plain ``column IN (...)``,
    which an index answers, count included: in place of the condition where it selects
    the same runs, beside it where it selects more (a name as lists show a default
    collection, "X (Default)", is matched by X's runs that are default, and the hint
    takes all of X's)."""
    conditions = expression.operands if isinstance(expression, And) else (expression,)
    hints: list[_Sql] = []
    left: list[Expression] = []
    for condition in conditions:
        if condition is None:
            continue
        if (
            not isinstance(condition, Comparison)
            or condition.negated
            or condition.operator not in ("=", "IN")
            or condition.key.kind != ATTRIBUTE
            or condition.key.name not in _INDEXED_COLUMNS
            or not all(isinstance(value, str) for value in condition.values)
        ):
            left.append(condition)
            continue
        names = [value for value in condition.values if isinstance(value, str)]
        shown = [name for name in names if name.endswith(_DEFAULT_SUFFIX)]
        if condition.key.name == "collection" and shown:
            names += [name.removesuffix(_DEFAULT_SUFFIX) for name in shown]
            left.append(condition)
        listed = _listed(", ", [_bound(name) for name in dict.fromkeys(names)])
        hints.append(_sql(_INDEXED_COLUMNS[condition.key.name], " IN (", listed, ")"))
    if not left:
        return hints, None
    return hints, left[0] if len(left) == 1 else And(tuple(left))
