"""The search language for runs: a filter expression and an order, as MLflow's
``search_runs`` spells them, with OR, parentheses, ranges and times besides.

>>> parse_filter("metrics.accuracy > 0.9 and params.optimizer = 'adam'")
And(operands=(Comparison(key=Key(kind='metric', name='accuracy'), operator='>', ...), ...))
>>> parse_order_by(["metrics.accuracy DESC"])
(OrderKey(key=Key(kind='metric', name='accuracy'), descending=True),)

A hand-written tokenizer (``tokens.py``) and recursive-descent parser (``parser.py``) turn
the text, once, into a small tree of named tuples (``tree.py``); this module holds the
entry points (``parse_filter``, ``parse_order_by``, ``check_page``) and names the tree's
parts for the rest of the package. ``sapdi_local.store.search_sql`` compiles that tree to
one SQL query with bound parameters. Everything a key or a value means is decided in this
package (which run field a key names, what a time or a duration literal is), so that the
SQL and any other reader of the tree (the tests' plain-Python evaluator) agree. No SQL and
no sqlite3 here.

Every malformed expression raises ``InvalidFilterError`` naming the 1-based position, with
the expression and a caret under that position, and what was expected there.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import InvalidFilterError
from .parser import _Parser
from .tokens import _END, _PUNCTUATION, _checked_length, _fail, _Source
from .tree import (
    ATTRIBUTE,
    ATTRIBUTES,
    LABEL,
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_EXPRESSION_LENGTH,
    MAX_IN_VALUES,
    MAX_ORDER_KEYS,
    MAX_RESULTS,
    METRIC,
    PARAM,
    STATUSES,
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
    holds,
    key_text,
)

__all__ = [
    "ATTRIBUTE",
    "ATTRIBUTES",
    "LABEL",
    "MAX_CONDITIONS",
    "MAX_DEPTH",
    "MAX_EXPRESSION_LENGTH",
    "MAX_IN_VALUES",
    "MAX_ORDER_KEYS",
    "MAX_RESULTS",
    "METRIC",
    "PARAM",
    "STATUSES",
    "TAG",
    "Ago",
    "And",
    "Comparison",
    "Expression",
    "Key",
    "Not",
    "Or",
    "OrderKey",
    "Value",
    "check_page",
    "holds",
    "key_text",
    "parse_filter",
    "parse_order_by",
]


def parse_filter(text: str | None) -> Expression | None:
    """The tree of a filter expression; None for no filter (None, empty or blank text).

    >>> parse_filter("status = 'FINISHED' and (params.lr < 0.01 or tags.stage IN ('a', 'b'))")
    And(operands=(Comparison(key=Key(kind='attribute', name='status'), operator='=',
                             values=('FINISHED',), negated=False),
                  Or(operands=(Comparison(key=Key(kind='param', name='lr'), ...),
                               Comparison(key=Key(kind='tag', name='stage'), operator='IN',
                                          values=('a', 'b'), negated=False)))))
    """
    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidFilterError(
            f"a filter expression is text, got {type(text).__name__}; for example "
            "\"metrics.accuracy > 0.9 and params.optimizer = 'adam'\""
        )
    source = _Source(text, "")
    _checked_length(source)
    parser = _Parser(source)
    if parser.peek().kind == _END:
        return None
    expression = parser.expression()
    parser.finish()
    return expression


def parse_order_by(items: Sequence[str] | str | None) -> tuple[OrderKey, ...]:
    """The keys of an order: each item ``KEY [ASC|DESC]`` (ascending unless DESC), or
    several such separated by commas.

    >>> parse_order_by(["metrics.accuracy DESC", "params.lr"])
    (OrderKey(key=Key(kind='metric', name='accuracy'), descending=True),
     OrderKey(key=Key(kind='param', name='lr'), descending=False))
    """
    if items is None:
        return ()
    if isinstance(items, str):
        items = [items]
    keys: list[OrderKey] = []
    for number, item in enumerate(items, start=1):
        what = f"in order_by item {number}: " if len(items) > 1 else "in order_by: "
        if not isinstance(item, str):
            raise InvalidFilterError(
                f"{what}expected text such as 'metrics.accuracy DESC', got {type(item).__name__}"
            )
        source = _Source(item, what)
        _checked_length(source)
        parser = _Parser(source)
        while True:
            token = parser.peek()
            key = parser.key()
            direction = parser.peek()
            descending = parser.is_keyword(direction, "DESC")
            if descending or parser.is_keyword(direction, "ASC"):
                parser.advance()
            keys.append(OrderKey(key, descending))
            if len(keys) > MAX_ORDER_KEYS:
                raise _fail(source, token.start, f"an order has at most {MAX_ORDER_KEYS} keys")
            separator = parser.advance()
            if separator.kind == _END:
                break
            if not (separator.kind == _PUNCTUATION and separator.text == ","):
                raise parser.expect("ASC, DESC, ',' or the end", parser.previous_text(), separator)
    return tuple(keys)


def check_page(max_results: object, offset: object) -> tuple[int | None, int]:
    """``max_results`` (None for all, else 1 to MAX_RESULTS) and ``offset`` (0 or more),
    checked: an ``InvalidFilterError`` names the one that is wrong."""
    # bool is an int, but True is no count of runs.
    if max_results is not None and (
        not isinstance(max_results, int)
        or isinstance(max_results, bool)
        or not 1 <= max_results <= MAX_RESULTS
    ):
        raise InvalidFilterError(
            f"max_results must be a whole number from 1 to {MAX_RESULTS:,}, got {max_results!r}; "
            "page through more with offset"
        )
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset < 2**62:
        raise InvalidFilterError(f"offset must be a whole number, 0 or more, got {offset!r}")
    return max_results, offset
