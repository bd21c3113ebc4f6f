"""The rules a stored field is read by: what sapdi-local writes for each kind of field,
checked one value at a time (a run read run by run) or a whole column at a time (a list
of many runs, where nothing is left out)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import partial
from itertools import chain
from operator import is_not
from typing import TYPE_CHECKING, Any

from ..errors import InvalidValueError
from ..model import KILLED, STATUSES, MetricValue
from ..validation import (
    MAX_METRIC_VALUE,
    MAX_NAME_LENGTH,
    MAX_TIMESTAMP,
    MAX_VALUE_LENGTH,
    MIN_TIMESTAMP,
    TIME_RANGE_TEXT,
    decode_label,
)

if TYPE_CHECKING:
    from ..store import RunColumns


# ------------------------------------------------------------ reading stored runs
#
# A file edited by hand or by another tool can hold what no sapdi-local writes: a label that
# is not JSON (or JSON nested thousands deep), a time or metric value that is text, a blob
# or out of range, a status of its own, a name megabytes long. Every reader (get_runs, the
# command line, the explorer) reads a stored field by the rule the SDK keeps when it writes
# that field; a field that breaks it is left out (None, or missing from the run's
# parameters, tags, labels or metrics), named in the run's ``unreadable``, and the run is
# read all the same. A metric history leaves out each stored value whose value, step or
# timestamp breaks its rule.

_MAX = MAX_METRIC_VALUE
STEP_LIMIT = 2**63  # steps are stored as 64-bit integers
# Rows become MetricValues without a Python call each: a history has up to 1000 per metric.
metric_value = partial(tuple.__new__, MetricValue)

STORED_STATUSES = tuple(status for status in STATUSES if status != KILLED)
NAME_COLUMNS = ("name", "collection")  # a run always has these
OPTIONAL_NAME_COLUMNS = (
    "scenario",
    "scenario_version",
    "notebook",
    "pipeline",
    "execution",
    "host",
    "pid_started",
)
TIME_COLUMNS = ("start_time", "end_time")
MAX_PID = 2**31 - 1
_FLOAT_ONLY = frozenset((float,))
_TEXT_ONLY = frozenset((str,))
_INT_ONLY = frozenset((int,))
_DEFAULT_FLAGS = frozenset((0, 1))
_STATUS_SET = frozenset(STORED_STATUSES)
_NOT_NONE = partial(is_not, None)
STEP_TYPES = frozenset((int, type(None)))


def described(value: object) -> str:
    """A stored value in a few words, for a message: its kind, and its start if it is text."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return f"a blob of {len(value):,} byte" + ("" if len(value) == 1 else "s")
    if isinstance(value, str):
        if len(value) <= 40:
            return f"text {value!r}"
        return f"text of {len(value):,} characters ({value[:20]!r}…)"
    return f"{type(value).__name__} {value!r}"[:60]


def name_problem(value: object) -> str | None:
    """Why a stored name (of a run, a collection, a parameter, tag, label or metric) is not
    one sapdi-local writes; None if it is."""
    if isinstance(value, str) and 0 < len(value) <= MAX_NAME_LENGTH:
        return None if "\x00" not in value else "text holding a NUL character"
    if not isinstance(value, str):
        return f"{described(value)}, not text"
    if not value:
        return "empty"
    return f"{len(value):,} characters long; names have at most {MAX_NAME_LENGTH}"


def readable_names(names: Sequence[object], left_out: Sequence[str] = ()) -> list[str]:
    """The names, of parameters, tags or metrics, that a run read through the API can show:
    text the SDK would have written, except ``left_out`` (a name that cannot be read is left
    out of the runs too, each run naming it in its ``unreadable``)."""
    return [
        name
        for name in names
        if isinstance(name, str) and name_problem(name) is None and name not in left_out
    ]


def number_problem(value: object) -> str | None:
    """Why a stored metric value is not one sapdi-local writes; None if it is."""
    if isinstance(value, (float, int)) and not isinstance(value, bool):
        if -_MAX <= value <= _MAX:
            return None
        return f"{value!r}, not a finite number"
    return f"{described(value)}, not a number"


def time_problem(value: object) -> str | None:
    """Why a stored time (Unix seconds, or NULL) is not one every reader can show; None if
    it is."""
    if value is None:
        return None
    if isinstance(value, (float, int)) and not isinstance(value, bool):
        if MIN_TIMESTAMP <= value <= MAX_TIMESTAMP:
            return None
        return f"{value!r} Unix seconds, outside {TIME_RANGE_TEXT}"
    return f"{described(value)}, not Unix seconds"


def text_value(kind: str, name: str, value: object) -> str:
    if isinstance(value, str):
        if len(value) <= MAX_VALUE_LENGTH:
            return value
        raise InvalidValueError(
            f"{kind} {name!r} has a value of {len(value):,} characters; values have at most "
            f"{MAX_VALUE_LENGTH}"
        )
    raise InvalidValueError(f"{kind} {name!r} is {described(value)}, not text")


def metric_number(kind: str, name: str, value: object) -> float:
    problem = number_problem(value)
    if problem is not None:
        raise InvalidValueError(f"{kind} {name!r} is {problem}")
    return float(value)  # type: ignore[arg-type]  # a number: number_problem said so


def label_value(kind: str, name: str, value: object) -> object:
    return decode_label(name, value)


# Checks of many stored names or values at once, without a Python call per item: a list
# of 10,000 runs reads 100,000 of them.
def names_readable(names: Collection[Any]) -> bool:
    return (
        _TEXT_ONLY.issuperset(map(type, names))
        and all(names)  # none empty
        and max(map(len, names), default=0) <= MAX_NAME_LENGTH
        and "\x00" not in "".join(names)
    )


def texts_readable(values: Collection[Any]) -> bool:
    return (
        _TEXT_ONLY.issuperset(map(type, values))
        and max(map(len, values), default=0) <= MAX_VALUE_LENGTH
    )


def numbers_readable(values: Collection[Any]) -> bool:
    return _FLOAT_ONLY.issuperset(map(type, values)) and (
        not values or (min(values) >= -_MAX and max(values) <= _MAX)
    )


def times_readable(values: Collection[Any]) -> bool:
    return _FLOAT_ONLY.issuperset(map(type, values)) and (
        not values or (min(values) >= MIN_TIMESTAMP and max(values) <= MAX_TIMESTAMP)
    )


def columns_readable(runs: RunColumns) -> bool:
    """Whether every field of ``runs`` but their labels' JSON can be read as it is.

    Names repeat from run to run (a collection, a scenario, a parameter's name), so each
    distinct one is checked once."""
    column = runs.column

    def present(name: str) -> list[Any]:
        return list(filter(_NOT_NONE, column(name)))

    pids = present("pid")
    if not (
        _TEXT_ONLY.issuperset(map(type, column("id")))
        and all(None not in column(name) for name in NAME_COLUMNS)
        and names_readable(
            set(chain.from_iterable(map(column, NAME_COLUMNS + OPTIONAL_NAME_COLUMNS))) - {None}
        )
        and _DEFAULT_FLAGS.issuperset(column("collection_is_default"))
        and _STATUS_SET.issuperset(column("status"))
        and all(times_readable(present(name)) for name in TIME_COLUMNS)
        and _INT_ONLY.issuperset(map(type, pids))
        and (not pids or (min(pids) >= 0 and max(pids) <= MAX_PID))
    ):
        return False
    for maps, values_readable in (
        (runs.parameters, texts_readable),
        (runs.tags, texts_readable),
        (runs.labels, texts_readable),  # JSON text: decoded run by run
        (runs.metrics, numbers_readable),
    ):
        if not (
            names_readable(set(chain.from_iterable(maps)))
            and values_readable(list(chain.from_iterable(map(dict.values, maps))))
        ):
            return False
    return True
