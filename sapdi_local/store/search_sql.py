"""Compiling a tree of the search language (``sapdi_local.search_language``) into SQL: the
``WHERE`` of its conditions, the ``LEFT JOIN`` of each key's table and the ``ORDER BY`` of
its order, as pieces of SQL with their bound values (``_Sql``). ``search.py`` runs them.

Only fixed SQL fragments from the tables below go into the statement's text; every name
and value the user typed is a bound parameter. Each key joins its table once (a LEFT JOIN
on its (run_key, name) primary key, so a condition is an index lookup per run).

What each key and comparison means is written in the README's search section, and as
plain Python in tests/test_search_language.py, whose evaluator the SQL is checked against.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from ..search_language import (
    ATTRIBUTE,
    LABEL,
    METRIC,
    PARAM,
    TAG,
    Ago,
    And,
    Comparison,
    Expression,
    Key,
    Not,
    Or,
    OrderKey,
    Value,
    parse_order_by,
)
from .opening import CASEFOLD_FUNCTION


class _Sql(NamedTuple):
    """A piece of SQL and the values of its ``?`` marks, in order."""

    text: str
    arguments: tuple[Any, ...] = ()


def _bound(value: Any) -> _Sql:
    return _Sql("?", (value,))


def _sql(*pieces: _Sql | str) -> _Sql:
    """Pieces joined in order: fixed text (str) and pieces with their bound values."""
    text: list[str] = []
    arguments: list[Any] = []
    for piece in pieces:
        if isinstance(piece, str):
            text.append(piece)
        else:
            text.append(piece.text)
            arguments.extend(piece.arguments)
    return _Sql("".join(text), tuple(arguments))


def _listed(separator: str, pieces: Sequence[_Sql]) -> _Sql:
    between: list[_Sql | str] = []
    for index, piece in enumerate(pieces):
        if index:
            between.append(separator)
        between.append(piece)
    return _sql(*between)


def _joined(separator: str, pieces: Sequence[_Sql]) -> _Sql:
    """Conditions joined by AND or OR, in parentheses."""
    return _sql("(", _listed(separator, pieces), ")")


_FALSE = _Sql("0")


class _Field(NamedTuple):
    """What a key gives of a run: its value as text and as a number, each NULL where the
    run has none of that kind (a parameter that is not a number has text only)."""

    text: _Sql | None
    number: _Sql | None


# The table each kind of key joins, on its (run_key, name) primary key.
_TABLES = {METRIC: "latest_metrics", PARAM: "parameters", TAG: "tags", LABEL: "labels"}
_MAX_JOINS = 60  # SQLite's limit is 64 tables in a join, runs and json_each included
# Attributes that are columns of runs holding text.
_TEXT_COLUMNS = {
    "id": "runs.id",
    "name": "runs.name",
    "scenario": "runs.scenario",
    "scenario_version": "runs.scenario_version",
    "notebook": "runs.notebook",
    "pipeline": "runs.pipeline",
    "execution": "runs.execution",
}
_NUMBER_COLUMNS = {
    "start_time": "runs.start_time",
    "end_time": "runs.end_time",
    "duration": "(runs.end_time - runs.start_time)",
}
_COLLECTION = "runs.collection"
# How lists show a default collection (model.Run.collection_display_name).
_DEFAULT_SUFFIX = " (Default)"
_COLLECTION_DISPLAY = (
    f"(CASE WHEN runs.collection_is_default THEN runs.collection || '{_DEFAULT_SUFFIX}' "
    "ELSE runs.collection END)"
)


def _number_of(text: _Sql) -> _Sql:
    """The number a text holds, or NULL: only text that is a JSON number in full ('0.01',
    '-3', '1e-05'; not '1.', '+1', ' 1', '0x10' nor '12abc', which CAST alone would read
    as 12). The GLOBs refuse what JSON5 would add; json_valid checks the rest, in C."""
    return _sql(
        *("(CASE WHEN ", text, " NOT GLOB '*[^-+.eE0-9]*' AND ", text, " GLOB '[-0-9]*'"),
        *(" AND ", text, " GLOB '*[0-9]' AND json_valid(", text, ")"),
        *(" THEN CAST(", text, " AS REAL) END)"),
    )


def _text_field(text: _Sql) -> _Field:
    return _Field(text, _number_of(text))


def _label_field(value: _Sql) -> _Field:
    """A label's JSON scalar: a string is text; a number, true (1) or false (0) a number;
    null, a list, an object or text that is not JSON is no value. Nested CASEs, so that
    json_type never sees text that is not JSON (it would raise)."""
    valid = _sql("typeof(", value, ") = 'text' AND json_valid(", value, ")")
    extract = _sql("json_extract(", value, ", '$')")
    kind = _sql("json_type(", value, ")")
    return _Field(
        _sql("(CASE WHEN ", valid, " THEN CASE ", kind, " WHEN 'text' THEN ", extract, " END END)"),
        _sql(
            *("(CASE WHEN ", valid, " THEN CASE WHEN ", kind),
            *(" IN ('integer', 'real', 'true', 'false') THEN ", extract, " END END)"),
        ),
    )


# '%' and '_' become GLOB's '*' and '?'; GLOB's own wildcards are matched as themselves.
_GLOB = str.maketrans({"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"})


def _glob(pattern: str) -> str:
    """A LIKE pattern as a GLOB pattern, which is case-sensitive (SQLite's LIKE is not)."""
    while "%%" in pattern:  # the same pattern, with less for GLOB to try
        pattern = pattern.replace("%%", "%")
    return pattern.translate(_GLOB)


class _Compiler:
    """Turns a tree and an order into the parts of one SELECT on ``runs``."""

    def __init__(self, now: float, gone: Sequence[str], required: frozenset[Key]) -> None:
        self.now = now
        self.gone = json.dumps(list(gone))
        self.required = required
        self.aliases: dict[Key, str] = {}
        self.joins: list[_Sql] = []
        self.join_of: dict[Key, int] = {}  # a key's join, by its place in joins
        self.first_key_terms = 0  # how many ORDER BY terms the first order key has

    def fields(self, key: Key) -> list[_Field]:
        """The fields of a key: one, or for ``collection`` its name and its display name."""
        if key.kind != ATTRIBUTE:
            value = self.stored(key)
            if key.kind == METRIC:
                return [_Field(None, value)]
            if key.kind == LABEL:
                return [_label_field(value)]
            return [_text_field(value)]
        name = key.name
        if name in _TEXT_COLUMNS:
            return [_text_field(_Sql(_TEXT_COLUMNS[name]))]
        if name in _NUMBER_COLUMNS:
            return [_Field(None, _Sql(_NUMBER_COLUMNS[name]))]
        if name == "collection":
            return [_text_field(_Sql(column)) for column in (_COLLECTION, _COLLECTION_DISPLAY)]
        # status: stored RUNNING is shown KILLED once its process is gone (listed in gone).
        shown = _sql(
            "(CASE WHEN runs.status = 'RUNNING' AND runs.id IN (SELECT value FROM json_each(",
            _bound(self.gone),
            ")) THEN 'KILLED' ELSE runs.status END)",
        )
        return [_Field(shown, None)]

    def stored(self, key: Key) -> _Sql:
        """The stored value of a metric, parameter, tag or label: a column of its row,
        joined on first use (aliases k0, k1...: never text the user typed). SQLite joins
        at most 64 tables; keys past the first _MAX_JOINS are read by a subquery each.

        A key every matching run must have (see ``_required``) is an inner join, which
        lets SQLite start from that key's rows rather than probe it for every run."""
        table = _TABLES[key.kind]
        if key not in self.aliases:
            if len(self.aliases) == _MAX_JOINS:
                return _sql(
                    f"(SELECT value FROM {table} WHERE run_key = runs.key AND name = ",
                    _bound(key.name),
                    ")",
                )
            alias = f"k{len(self.aliases)}"
            self.aliases[key] = alias
            join = "JOIN" if key in self.required else "LEFT JOIN"
            self.join_of[key] = len(self.joins)
            self.joins.append(
                _sql(
                    f" {join} {table} AS {alias} ON {alias}.run_key = runs.key AND {alias}.name = ",
                    _bound(key.name),
                )
            )
        return _Sql(f"{self.aliases[key]}.value")

    # ---- conditions

    def condition(self, expression: Expression) -> _Sql:
        """A condition that is 1 or 0, never NULL, so that NOT turns every run's answer."""
        if isinstance(expression, And):
            return _joined(" AND ", [self.condition(item) for item in expression.operands])
        if isinstance(expression, Or):
            return _joined(" OR ", [self.condition(item) for item in expression.operands])
        if isinstance(expression, Not):
            return _sql("(NOT ", self.condition(expression.operand), ")")
        return self.comparison(expression)

    def comparison(self, comparison: Comparison) -> _Sql:
        values = tuple(self.value(value) for value in comparison.values)
        fields = self.fields(comparison.key)
        matches = _joined(" OR ", [self.matches(field, comparison, values) for field in fields])
        if not comparison.negated:
            return matches
        if comparison.operator == "IS NULL":
            return _sql("(NOT ", matches, ")")
        # != and the NOT forms hold for runs that have a value to compare and do not match:
        # a run without the key, or with text where a number is asked, matches neither.
        comparable = _joined(
            " OR ", [part for field in fields for part in self.comparable(field, values)]
        )
        return _sql("(", comparable, " AND NOT ", matches, ")")

    def value(self, value: Value) -> float | str:
        return self.now - value.seconds if isinstance(value, Ago) else value

    @staticmethod
    def target(field: _Field, value: float | str) -> _Sql | None:
        """The side of a field a literal compares with: text with text, a number with a number."""
        return field.text if isinstance(value, str) else field.number

    def comparable(self, field: _Field, values: tuple[float | str, ...]) -> list[_Sql]:
        """Whether the field has a value of a kind the literals compare with."""
        # A dict, not a set: the statement's text stays the same from one process to the next.
        targets = dict.fromkeys(self.target(field, value) for value in values)
        return [_sql(target, " IS NOT NULL") for target in targets if target is not None] or [
            _FALSE
        ]

    def matches(
        self, field: _Field, comparison: Comparison, values: tuple[float | str, ...]
    ) -> _Sql:
        operator = comparison.operator
        if operator == "IS NULL":
            return _joined(
                " AND ",
                [_sql(side, " IS NULL") for side in (field.text, field.number) if side is not None],
            )
        if operator == "IN":
            parts = []
            for kind in (float, str):
                chosen = [value for value in values if isinstance(value, kind)]
                target = self.target(field, chosen[0]) if chosen else None
                if target is not None:
                    listed = _listed(", ", [_bound(value) for value in chosen])
                    parts.append(_sql("IFNULL(", target, " IN (", listed, "), 0)"))
            return _joined(" OR ", parts) if parts else _FALSE
        target = self.target(field, values[0])
        if target is None:
            return _FALSE  # a literal of a kind the field never holds
        if operator == "BETWEEN":
            return _sql(
                "IFNULL(",
                target,
                " BETWEEN ",
                _bound(values[0]),
                " AND ",
                _bound(values[1]),
                ", 0)",
            )
        if operator in ("LIKE", "ILIKE"):
            pattern = str(values[0])
            if operator == "ILIKE":
                target = _sql(
                    "(CASE WHEN typeof(",
                    target,
                    f") = 'text' THEN {CASEFOLD_FUNCTION}(CAST(",
                    target,
                    " AS BLOB)) END)",
                )
                pattern = pattern.casefold()
            return _sql("IFNULL(", target, " GLOB ", _bound(_glob(pattern)), ", 0)")
        return _sql("IFNULL(", target, f" {_OPERATORS[operator]} ", _bound(values[0]), ", 0)")

    # ---- order

    def order(self, keys: Sequence[OrderKey]) -> list[_Sql]:
        """ORDER BY terms: runs without the key last, then numbers (by value), then text,
        in the key's direction; ties go to the newest run, as the run list sorts."""
        terms: list[_Sql] = []
        for order_key in keys:
            text, number = self.fields(order_key.key)[0]
            direction = " DESC" if order_key.descending else ""
            if text is not None and number is not None:
                terms += [
                    _sql("(", text, " IS NULL AND ", number, " IS NULL)"),
                    _sql(number, " IS NULL"),  # numbers before text
                    _sql(number, direction),
                    _sql(text, direction),
                ]
            else:
                side = text if text is not None else number
                assert side is not None  # every field has a text or a number side
                # NULL sorts first ascending and last descending: only an ascending order
                # needs the term that puts it last, and without it an index serves DESC.
                terms += (
                    [_sql(side, direction)] if direction else [_sql(side, " IS NULL"), _sql(side)]
                )
            if not self.first_key_terms:
                self.first_key_terms = len(terms)
        return [*terms, *(term for term in _NEWEST_FIRST if term not in terms)]

    def inner_joins(self, key: Key) -> list[_Sql]:
        """The joins, with ``key``'s made an inner join: only runs that have it."""
        joins = list(self.joins)
        place = self.join_of[key]
        text, arguments = joins[place]
        joins[place] = _Sql(text.replace(" LEFT JOIN ", " JOIN ", 1), arguments)
        return joins


_NEWEST_FIRST = (_Sql("runs.start_time DESC"), _Sql("runs.key DESC"))


# The comparison operators, each a fixed piece of SQL.
_OPERATORS = {"=": "=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _required(expression: Expression | None) -> frozenset[Key]:
    """Keys stored in a table that a run needs a row of to match: those of the conditions
    ANDed at the top. Every comparison but IS NULL holds only where the key has a value."""
    conditions = expression.operands if isinstance(expression, And) else (expression,)
    return frozenset(
        condition.key
        for condition in conditions
        if isinstance(condition, Comparison)
        and condition.key.kind in _TABLES
        and (condition.operator != "IS NULL" or condition.negated)
    )


def _keys(expression: Expression | None) -> Iterator[Key]:
    if expression is None:
        return
    if isinstance(expression, Comparison):
        yield expression.key
    elif isinstance(expression, Not):
        yield from _keys(expression.operand)
    else:
        for operand in expression.operands:
            yield from _keys(operand)


def _order_keys(order_by: Sequence[OrderKey | str] | str | None) -> tuple[OrderKey, ...]:
    if order_by is None or isinstance(order_by, str):
        return parse_order_by(order_by)
    keys: list[OrderKey] = []
    for item in order_by:
        keys.extend([item] if isinstance(item, OrderKey) else parse_order_by([item]))
    return tuple(keys)
