"""Limits and reserved names, in one place, each rule once.

Every check raises a TrackingError subclass whose message names the field, the
limit and the fix, before anything is cached, so a refused call changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from .errors import InvalidNameError, InvalidTypeError, InvalidValueError

MAX_NAME_LENGTH = 256
MAX_VALUE_LENGTH = 5000
MAX_LABEL_JSON_LENGTH = 5000
HISTORY_WINDOW = 1000
MAX_METRIC_VALUE = 1.7976931348623157e308  # the largest finite double
MAX_LABEL_DEPTH = 32  # lists and dicts inside each other; deeper JSON overflows readers' stacks
# Times a run or a value may carry, in Unix seconds: 1678-01-01 to 2262-01-01 UTC, inside
# what both Python's datetime and pandas' Timestamp (nanoseconds in 64 bits) can show.
MIN_TIMESTAMP = -9214560000.0
MAX_TIMESTAMP = 9214646400.0
TIME_RANGE_TEXT = "1678-01-01 to 2262-01-01 UTC"


def check_name(field: str, name: object) -> str:
    """Return ``name`` if it is a usable metric, parameter, tag or label name."""
    if not isinstance(name, str):
        raise InvalidTypeError(
            f"{field} must be a string, got {type(name).__name__} {name!r}; pass the name as text"
        )
    if not name:
        raise InvalidNameError(
            f"{field} must not be empty; give it a name of 1 to {MAX_NAME_LENGTH} characters"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            f"{field} {name[:40]!r}... is {len(name)} characters long; the limit is "
            f"{MAX_NAME_LENGTH}: shorten the name"
        )
    if "\x00" in name:
        raise InvalidNameError(f"{field} {name!r} contains a NUL character; remove it")
    _require_utf8(name, InvalidNameError, f"{field} {name!r}")
    return name


def _require_utf8(text: str, error: type[Exception], what: str) -> None:
    """Refuse text that SQLite cannot store: a lone surrogate has no UTF-8 form."""
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise error(
            f"{what} contains a lone surrogate, which has no UTF-8 form; decode the text "
            "properly (for example with errors='replace')"
        ) from None


def _as_text(kind: str, key: str, value: object) -> str:
    """The string form of a parameter or tag value, which must be storable as UTF-8."""
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception as error:  # an int longer than sys.get_int_max_str_digits(), a bad __str__
        raise InvalidValueError(
            f"{kind} {key!r}: the value cannot be turned into text ({error}); values are "
            f"stored as text of at most {MAX_VALUE_LENGTH} characters"
        ) from None
    _require_utf8(text, InvalidValueError, f"the value of {kind} {key!r}")
    return text


# Why each reserved name is refused, and what to do instead.
_RESERVED_ADVICE = {
    ("parameter", "start"): "it holds the run's start time, which the tracker records itself; "
    "choose another name, such as 'start_value'",
    ("parameter", "end"): "it holds the run's end time, which the tracker records itself; "
    "choose another name, such as 'end_value'",
    ("tag", "runName"): "it holds the run's name. To rename a run, call "
    "update_run_info(run_name=...)",
}


def check_parameter(name: object, value: object) -> tuple[str, str]:
    """Validate one parameter; values of any type are stored as their string form."""
    return _check_text_pair("parameter", "parameter name", name, value)


def check_tag(name: object, value: object) -> tuple[str, str]:
    """Validate one tag; values are stored as strings, like parameter values."""
    return _check_text_pair("tag", "tag key", name, value)


def _check_text_pair(kind: str, field: str, name: object, value: object) -> tuple[str, str]:
    key = check_name(field, name)
    advice = _RESERVED_ADVICE.get((kind, key))
    if advice is not None:
        raise InvalidNameError(f"{field} {key!r} is reserved: {advice}")
    text = _as_text(kind, key, value)
    if len(text) > MAX_VALUE_LENGTH:
        raise InvalidValueError(
            f"{kind} {key!r} has a value of {len(text)} characters; the limit is "
            f"{MAX_VALUE_LENGTH}: store a shorter value (a path or a hash of the long one)"
        )
    return key, text


def check_label(name: object, value: object) -> tuple[str, str]:
    """Validate one label and return its key and its JSON text."""
    import json  # imported when first needed: keeps "import tracking" light

    key = check_name("label key", name)
    if value_depth(value) > MAX_LABEL_DEPTH:
        raise InvalidValueError(
            f"label {key!r} nests lists or dicts more than {MAX_LABEL_DEPTH} levels deep; "
            "store a flatter value"
        )
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError) as error:
        raise InvalidValueError(
            f"label {key!r} must be a JSON value (str, number, bool, None, list or dict of "
            f"those, finite numbers only); {value!r} is not: {error}"
        ) from None
    _require_utf8(text, InvalidValueError, f"label {key!r}")
    if len(text) > MAX_LABEL_JSON_LENGTH:
        raise InvalidValueError(
            f"label {key!r} is {len(text)} characters as JSON; the limit is "
            f"{MAX_LABEL_JSON_LENGTH}: store less in one label"
        )
    return key, text


def value_depth(value: object) -> int:
    """How deeply lists, tuples and dicts nest in ``value`` (0 for a scalar), counted
    without recursion and only up to one past ``MAX_LABEL_DEPTH`` (so a cycle ends too)."""
    deepest = 0
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, Mapping):
            children: Iterable[object] = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > MAX_LABEL_DEPTH:
            return deepest
        pending.extend((child, depth) for child in children)
    return deepest


def json_text_depth(text: str) -> int:
    """How deeply arrays and objects nest in the JSON ``text``, read without parsing it,
    so that a document too deep for ``json.loads`` is measured without overflowing."""
    deepest = depth = 0
    in_string = escaped = False
    for character in text:
        if in_string:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                in_string = False
        elif character == '"':
            in_string = True
        elif character in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "]}":
            depth -= 1
    return deepest


def decode_label(key: str, text: object) -> object:
    """The value of a stored label from its JSON text, by the rules ``check_label`` keeps;
    an ``InvalidValueError`` for text no sapdi-local writes."""
    import json  # imported when first needed: keeps "import tracking" light

    if not isinstance(text, str):
        raise InvalidValueError(f"label {key!r} is stored as {type(text).__name__}, not JSON text")
    if len(text) > MAX_LABEL_JSON_LENGTH:
        raise InvalidValueError(
            f"label {key!r} is {len(text)} characters as JSON; the limit is {MAX_LABEL_JSON_LENGTH}"
        )
    if json_text_depth(text) > MAX_LABEL_DEPTH:
        raise InvalidValueError(
            f"label {key!r} nests lists or dicts more than {MAX_LABEL_DEPTH} levels deep"
        )

    def refuse_constant(name: str) -> object:
        raise ValueError(f"{name} is not a finite number")

    try:
        return json.loads(text, parse_constant=refuse_constant)
    except ValueError as error:
        raise InvalidValueError(f"label {key!r} is not valid JSON: {error}") from None


def check_metric_value(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite real number (bool is refused)."""
    if value.__class__ is float:
        number: float = value
    else:
        import numbers  # imported when first needed: keeps "import tracking" light

        # "bool_" is numpy's bool, told apart by name so that numpy need not be imported.
        # A complex number is refused too: float() of a numpy complex silently keeps only
        # its real part.
        if (
            isinstance(value, (str, bytes))
            or type(value).__name__ in ("bool", "bool_")
            or (isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real))
        ):
            raise InvalidTypeError(
                f"metric {name!r} must have a real number as its value, got {type(value).__name__} "
                f"{value!r}; pass an int or a float"
            )
        try:
            number = float(value)  # type: ignore[arg-type]
        except OverflowError:
            raise InvalidValueError(
                f"metric {name!r} value {value!r} is outside the double range "
                f"(-{MAX_METRIC_VALUE} to {MAX_METRIC_VALUE}); scale it down"
            ) from None
        except (TypeError, ValueError):
            raise InvalidTypeError(
                f"metric {name!r} must have a numeric value, got {type(value).__name__} "
                f"{value!r}; pass an int or a float"
            ) from None
    if not -MAX_METRIC_VALUE <= number <= MAX_METRIC_VALUE:
        raise InvalidValueError(
            f"metric {name!r} value {number!r} is not a finite number; the range is "
            f"-{MAX_METRIC_VALUE} to {MAX_METRIC_VALUE} (NaN and infinity are refused): "
            "log a finite value or skip this one"
        )
    return number


def check_step(name: str, step: object) -> int | None:
    """Return the step as an int, or None when no step was given."""
    if step is None:
        return None
    if isinstance(step, bool) or not hasattr(step, "__index__"):
        raise InvalidTypeError(
            f"step of metric {name!r} must be an integer, got {type(step).__name__} {step!r}"
        )
    number = step.__index__()
    if not -(2**63) <= number < 2**63:
        raise InvalidValueError(f"step of metric {name!r} is {number}; it must fit in 64 bits")
    return int(number)


def check_timestamp(name: str, timestamp: object) -> float:
    """Return a timestamp as Unix seconds; accepts seconds (any real number) or a datetime."""
    from datetime import datetime  # imported when first needed: keeps "import tracking" light

    if isinstance(timestamp, datetime):
        try:
            moment = timestamp.timestamp()
        except (OverflowError, ValueError, OSError) as error:
            raise InvalidValueError(
                f"timestamp of metric {name!r} ({timestamp!r}) has no Unix time: {error}"
            ) from None
        return check_time_range(f"timestamp of metric {name!r}", moment)
    import numbers  # imported when first needed, like datetime above

    # Any real number is seconds, as for metric values: numpy scalars and Decimal included.
    refused = (
        isinstance(timestamp, (str, bytes))
        or type(timestamp).__name__ in ("bool", "bool_")
        or (isinstance(timestamp, numbers.Complex) and not isinstance(timestamp, numbers.Real))
    )
    wrong_type = InvalidTypeError(
        f"timestamp of metric {name!r} must be Unix seconds (a real number) or a datetime, "
        f"got {type(timestamp).__name__} {timestamp!r}"
    )
    if refused:
        raise wrong_type
    try:
        seconds = float(timestamp)  # type: ignore[arg-type]
    except OverflowError:
        raise InvalidValueError(
            f"timestamp of metric {name!r} ({timestamp!r}) is too large for Unix seconds"
        ) from None
    except (TypeError, ValueError):
        raise wrong_type from None
    if not math.isfinite(seconds):
        raise InvalidValueError(f"timestamp of metric {name!r} must be finite, got {timestamp!r}")
    return check_time_range(f"timestamp of metric {name!r}", seconds)


def check_time_range(field: str, seconds: float) -> float:
    """Return ``seconds`` if it lies in the range of times every reader can show."""
    if not MIN_TIMESTAMP <= seconds <= MAX_TIMESTAMP:
        raise InvalidValueError(
            f"{field} is {seconds!r} Unix seconds, outside {TIME_RANGE_TEXT} "
            f"({MIN_TIMESTAMP:.0f} to {MAX_TIMESTAMP:.0f}); give the time in seconds (not "
            "milliseconds) or as a datetime"
        )
    return seconds


def name_value_pairs(
    function: str,
    items: object,
    name: object,
    value: object,
    *,
    value_key: str = "value",
    other_keys: tuple[str, ...] = (),
) -> list[tuple[object, object]]:
    """Turn the accepted call forms into (name, value) pairs.

    Accepted: a mapping of name to value; a list of ``{"name": ..., "value": ...}``
    dicts, which may also hold ``other_keys`` (the caller reads those) and nothing else;
    or ``name=`` and ``value=`` keywords.
    """
    if items is not None and name is not None:
        raise InvalidTypeError(
            f"{function}() takes either a dict or name= and {value_key}=, not both"
        )
    if items is None:
        if name is None:
            raise InvalidTypeError(
                f"{function}() needs a dict of names to values, or name= and {value_key}="
            )
        return [(name, value)]
    if isinstance(items, Mapping):
        return list(items.items())
    if isinstance(items, Iterable) and not isinstance(items, (str, bytes)):
        accepted = ("name", value_key, *other_keys)
        listed = ", ".join(map(repr, accepted[:-1])) + f" and {accepted[-1]!r}"
        optional = f" (and optionally {', '.join(map(repr, other_keys))})" if other_keys else ""
        pairs: list[tuple[object, object]] = []
        for item in items:
            if not isinstance(item, Mapping) or "name" not in item or value_key not in item:
                raise InvalidTypeError(
                    f"{function}() list items must be dicts with 'name' and '{value_key}'"
                    f"{optional}, got {item!r}"
                )
            for key in item:
                if key not in accepted:
                    # A misspelt key would otherwise be dropped without a word, and a
                    # 'run' one would send the value to another run than meant.
                    elsewhere = (
                        f"; to write to another run, pass run= to {function}()"
                        if key == "run"
                        else ""
                    )
                    raise InvalidTypeError(
                        f"{function}() list item {item!r} has the key {key!r}, which items do "
                        f"not take: an item takes only {listed}. Remove or rename {key!r}"
                        f"{elsewhere}; nothing of this call was logged"
                    )
            pairs.append((item["name"], item[value_key]))
        return pairs
    raise InvalidTypeError(
        f"{function}() takes a dict of names to values, got {type(items).__name__} {items!r}"
    )


def check_optional_text(field: str, value: object) -> str | None:
    """Validate an optional run or collection name given to start_run/update_run_info."""
    if value is None:
        return None
    return check_name(field, value)
