"""The query string of the explorer's JSON API, checked before the store is read: its
bounds, the parameters each endpoint takes, single and repeated values, counts, tag
filters, and ``ApiError`` (a status and a message saying what to fix), with the 400 that a
malformed search expression or order becomes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..display import quoted
from ..errors import InvalidFilterError

Query = Mapping[str, Sequence[str]]

# Bounds on what a request may ask, each checked before the store is read: a malformed or
# oversized request is a 400 naming the parameter, the limit and the fix, never a 500 or a
# 503 from SQLite (1,200 tag filters pass its expression depth).
MAX_LIMIT = 100_000  # runs in one page
MAX_OFFSET = 1_000_000_000
MAX_VALUE_CHARACTERS = 1000  # each value (each id of a comma-separated list)
MAX_QUERY_CHARACTERS = 60_000  # the whole query, decoded: 1,000 run ids fit
MAX_VALUES = {"tag": 100, "run": 1000, "metric": 1000}  # how often a parameter may be given
MAX_VALUES_OTHERWISE = 100
SPLIT_PARAMETERS = ("run", "status", "scenario", "collection")  # each value may be a comma list


class ApiError(Exception):
    """A request the API cannot answer: an HTTP status and a message that says what to fix,
    and ``details`` for the answer's error object besides (the parameter, a position)."""

    def __init__(self, status: int, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details


def _check_known(query: Query, known: Sequence[str], endpoint: str) -> None:
    """Refuse a query that is too long, a parameter ``endpoint`` does not take, one given
    too often or a value too long (each a 400 saying what to fix)."""
    size = sum(len(name) + len(value) + 2 for name, values in query.items() for value in values)
    if size > MAX_QUERY_CHARACTERS:
        raise ApiError(
            400,
            f"the query is {size:,} characters long; the limit is {MAX_QUERY_CHARACTERS:,}: "
            "give fewer or shorter parameters, or split the request",
        )
    unknown = sorted(set(query) - set(known))
    if unknown:
        raise ApiError(
            400,
            f"unknown parameter {quoted(unknown[0])} for {endpoint}; it takes: {', '.join(known)}",
        )
    for name, values in query.items():
        parts = [
            part
            for value in values
            for part in (value.split(",") if name in SPLIT_PARAMETERS else (value,))
        ]
        limit = MAX_VALUES.get(name, MAX_VALUES_OTHERWISE)
        if len(parts) > limit:
            raise ApiError(
                400,
                f"parameter {name!r} has {len(parts):,} values; the limit is {limit:,}: "
                "give fewer, or split the request",
            )
        longest = max(parts, key=len)
        if len(longest) > MAX_VALUE_CHARACTERS:
            raise ApiError(
                400,
                f"parameter {name!r} has a value of {len(longest):,} characters; the limit is "
                f"{MAX_VALUE_CHARACTERS:,}: shorten it",
            )


def _single(query: Query, name: str) -> str | None:
    values = query.get(name, ())
    if len(values) > 1:
        raise ApiError(400, f"parameter {name!r} given {len(values)} times; give it once")
    return values[0] if values else None


def _several(query: Query, name: str) -> tuple[str, ...] | None:
    """A repeatable parameter; each value may also list several, separated by commas."""
    values = [part for value in query.get(name, ()) for part in value.split(",") if part]
    return tuple(values) if values else None


def _tag_pairs(query: Query) -> tuple[tuple[str, str], ...]:
    pairs = []
    for text in query.get("tag", ()):
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise ApiError(400, f"tag filter {text!r} is not KEY=VALUE; write it as tag=dataset=v2")
        pairs.append((key, value))
    return tuple(pairs)


def _count(query: Query, name: str, default: int | None, maximum: int) -> int | None:
    """A whole number from 0 to ``maximum`` in ASCII digits (``str.isdigit`` takes "²")."""
    text = _single(query, name)
    if text is None:
        return default
    digits = text.isascii() and text.isdigit() and len(text) <= len(str(maximum))
    if not digits or int(text) > maximum:
        raise ApiError(
            400,
            f"parameter {name!r} must be a whole number from 0 to {maximum:,} in digits 0-9, "
            f"got {quoted(text)}",
        )
    return int(text)


def _language_error(error: InvalidFilterError, parameter: str) -> ApiError:
    """A malformed expression or order as a 400: the message with its caret, and the
    1-based position in the parameter's value (and which order_by value, of several)."""
    message = str(error)
    details: dict[str, Any] = {"parameter": parameter}
    position = _error_position(message)
    if position is not None:
        details["position"] = position
    item = re.match(r"in order_by item (\d+):", message)
    if item is not None:
        details["item"] = int(item.group(1))
    if parameter == "where":
        message = f"in where: {message}"
    return ApiError(400, message, **details)


def _error_position(message: str) -> int | None:
    """The 1-based position an ``InvalidFilterError`` names. Its last two lines are the
    expression (a window of it, after "..." when it starts further on) and a caret under
    the position: with no "...", the caret's column is the offset; after "...", the
    message's own "at position N" (its first past the window's start) says it."""
    lines = message.split("\n")
    if len(lines) < 3 or not lines[-1].endswith("^"):
        return None
    column = len(lines[-1]) - len("  ^")
    if not lines[-2].startswith("  ..."):
        return column + 1
    head = "\n".join(lines[:-2])
    found = [int(number) for number in re.findall(r"at position (\d+)", head)]
    later = [number for number in found if number > column - len("...")]
    return later[0] if later else None
