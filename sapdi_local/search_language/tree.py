"""The tree a search expression parses into, and the vocabulary it is made of: the bounds
on one expression, the kinds of keys and the attributes of a run (what each holds), and the
named tuples ``Key``, ``Comparison``, ``And``, ``Or``, ``Not``, ``OrderKey`` and ``Ago``.

Everything a key means is decided here, so that the parser, the SQL compiler
(``sapdi_local.store.search_sql``) and any other reader of the tree agree.
"""

from __future__ import annotations

import re
from typing import NamedTuple, TypeAlias

# parameters small (SQLite allows 32,766 parameters; 10,000 characters hold fewer values).
MAX_EXPRESSION_LENGTH = 10_000
MAX_DEPTH = 50  # parentheses and NOTs inside each other
MAX_IN_VALUES = 1_000
MAX_CONDITIONS = 200
MAX_ORDER_KEYS = 20
MAX_RESULTS = 100_000

# The kinds of keys.
METRIC = "metric"
PARAM = "param"
TAG = "tag"
LABEL = "label"
ATTRIBUTE = "attribute"

# What an attribute holds decides which literals it compares with.
_TEXT = "text"  # compared as text, or as a number when both sides are numbers
_STATUS = "status"  # text only: one of the statuses
_TIME = "time"  # Unix seconds; literals may be dates or ages
_DURATION = "duration"  # seconds; literals may be '90s', '5m', '2h'
_NUMBER = "number"  # metrics: numbers only

ATTRIBUTES: dict[str, str] = {
    "id": _TEXT,
    "name": _TEXT,
    "status": _STATUS,
    "collection": _TEXT,
    "scenario": _TEXT,
    "scenario_version": _TEXT,
    "notebook": _TEXT,
    "pipeline": _TEXT,
    "execution": _TEXT,
    "start_time": _TIME,
    "end_time": _TIME,
    "duration": _DURATION,
}
# MLflow's names of the same attributes.
_ATTRIBUTE_ALIASES = {"run_name": "name", "run_id": "id"}
# Tags that MLflow (and get_runs) show but that are the run's name.
_NAME_TAGS = ("mlflow.runName", "runName")
_PREFIXES = {
    "metrics": METRIC,
    "metric": METRIC,
    "params": PARAM,
    "param": PARAM,
    "parameters": PARAM,
    "tags": TAG,
    "tag": TAG,
    "labels": LABEL,
    "label": LABEL,
    "attributes": ATTRIBUTE,
    "attribute": ATTRIBUTE,
    "attr": ATTRIBUTE,
    "run": ATTRIBUTE,
}
_PREFIX_OF = {METRIC: "metrics", PARAM: "params", TAG: "tags", LABEL: "labels"}
# The statuses a run shows (see model.STATUSES; repeated here to keep this module free of
# imports, and checked against it by the tests).
STATUSES = ("RUNNING", "FINISHED", "FAILED", "INTERRUPTED", "TERMINATED", "KILLED")


class Key(NamedTuple):
    """What a condition looks at: a metric's last value, a parameter, a tag, a label (its
    JSON scalar), or an attribute of the run (``kind`` ATTRIBUTE, ``name`` one of
    ``ATTRIBUTES``)."""

    kind: str
    name: str


class Ago(NamedTuple):
    """A time given as an age ('-2d'): ``seconds`` before the moment the query runs."""

    seconds: float


Value: TypeAlias = "float | str | Ago"


class Comparison(NamedTuple):
    """``key operator values``; ``negated`` for != (operator '='), NOT LIKE, NOT IN,
    NOT BETWEEN and IS NOT NULL.

    ``operator`` is one of '=', '<', '<=', '>', '>=', 'LIKE', 'ILIKE', 'IN', 'BETWEEN'
    (two values, low then high) or 'IS NULL' (no values). Numbers are floats, text is
    str; values of time attributes are Unix seconds or ``Ago``, of ``duration`` seconds."""

    key: Key
    operator: str
    values: tuple[Value, ...]
    negated: bool = False


class Not(NamedTuple):
    operand: Expression


class And(NamedTuple):
    operands: tuple[Expression, ...]


class Or(NamedTuple):
    operands: tuple[Expression, ...]


Expression: TypeAlias = "Comparison | Not | And | Or"


class OrderKey(NamedTuple):
    """One key of an order: ascending unless ``descending``."""

    key: Key
    descending: bool = False


def holds(key: Key) -> str:
    """What the key holds, which decides the literals it takes: 'number' (metrics), 'time'
    (start_time, end_time), 'duration', 'status', or 'text' (compared as text, or as
    numbers when the literal is a number: parameters, tags, labels, other attributes)."""
    if key.kind == METRIC:
        return _NUMBER
    if key.kind == ATTRIBUTE:
        return ATTRIBUTES[key.name]
    return _TEXT


def key_text(key: Key) -> str:
    """The key as it is written, back-quoted where its name needs it: ``metrics.`val loss```."""
    if key.kind == ATTRIBUTE:
        return key.name
    name = key.name
    if not re.fullmatch(r"[^\s()=<>!,'\"`.]+", name):
        name = "`" + name.replace("`", "``") + "`"
    return f"{_PREFIX_OF[key.kind]}.{name}"
