"""Limits on names and values, reserved names, and what a refused call leaves behind.

Every rule is a row of a table, and every table runs through each API function that
takes the name or value: log_metric, log_metrics (dict and list forms), log_parameters
(dict and name=/value= forms), set_tags, set_labels, update_run_info and start_run.
"""

from __future__ import annotations

import json
import math
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from conftest import as_default_sdk

from sapdi_local import MLTrackingSDK, Run, tracking
from sapdi_local.errors import (
    InvalidFilterError,
    InvalidNameError,
    InvalidTypeError,
    InvalidValueError,
    LockTimeoutError,
    NoActiveRunError,
    RunAlreadyActiveError,
    RunNotFoundError,
    SchemaVersionError,
    StorageError,
    TrackingError,
)

MAX_DOUBLE = 1.7976931348623157e308


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One database file for the module: creating a schema per table row would dominate."""
    path = tmp_path_factory.mktemp("limits") / "tracking.db"
    MLTrackingSDK(db_path=path).store.connection()  # creates the schema
    # While one connection stays open, closing an SDK does not checkpoint the whole WAL.
    with closing(sqlite3.connect(path)) as keeper:
        keeper.execute("SELECT COUNT(*) FROM runs").fetchone()
        yield path


@pytest.fixture
def sdk(shared_db: Path) -> Iterator[MLTrackingSDK]:
    """Replaces conftest's `sdk` here: a fresh default SDK per test, on the shared file.

    Each test has its own SDK (so its own cache) and its own scenario, so it sees only
    its own runs; the context is otherwise that of conftest's `sdk`.
    """
    instance = MLTrackingSDK(
        db_path=shared_db,
        scenario=f"scenario-{uuid.uuid4().hex}",
        scenario_version="v1",
        pipeline="train.py",
        execution="exec-1",
    )
    with as_default_sdk(instance):
        yield instance


def scenario() -> str:
    """The scenario of the current test's runs."""
    return tracking.get_default_sdk().current_scenario().id


def only_run() -> Run:
    """The single run of the test's scenario, as get_runs reads it back."""
    runs = tracking.get_runs(scenario=scenario())
    assert len(runs) == 1, runs
    return runs[0]


def assert_only_baseline(run: Run) -> None:
    """The run holds what the test logged before the refused call, and nothing else."""
    assert run.metrics == {"baseline": 1.0}
    assert set(run.parameters) == {"start", "end"}
    assert run.tags == {"runName": run.id}
    assert run.labels == {}
    assert run.name == run.id
    assert run.collection_is_default is True


# ---------------------------------------------------------------- names


@dataclass(frozen=True)
class NameSite:
    """One place a name goes in: how to write it and how to find it in get_runs."""

    id: str
    write: Callable[[Any], object]
    stored: Callable[[Run, str], bool]
    starts_run: bool = False  # start_run sites start the run themselves
    dict_key: bool = False  # the name is a dict key, so it must be hashable


NAME_SITES = [
    NameSite(
        "log_metric",
        lambda n: tracking.log_metric(n, 1.5),
        lambda run, n: run.metrics.get(n) == 1.5,
    ),
    NameSite(
        "log_metrics-dict",
        lambda n: tracking.log_metrics({n: 1.5}),
        lambda run, n: run.metrics.get(n) == 1.5,
        dict_key=True,
    ),
    NameSite(
        "log_metrics-list",
        lambda n: tracking.log_metrics([{"name": n, "value": 1.5}]),
        lambda run, n: run.metrics.get(n) == 1.5,
    ),
    NameSite(
        "log_parameters-dict",
        lambda n: tracking.log_parameters({n: "v"}),
        lambda run, n: run.parameters.get(n) == "v",
        dict_key=True,
    ),
    NameSite(
        "log_parameters-name",
        lambda n: tracking.log_parameters(name=n, value="v"),
        lambda run, n: run.parameters.get(n) == "v",
    ),
    NameSite(
        "set_tags-dict",
        lambda n: tracking.set_tags({n: "v"}),
        lambda run, n: run.tags.get(n) == "v",
        dict_key=True,
    ),
    NameSite(
        "set_tags-name",
        lambda n: tracking.set_tags(name=n, value="v"),
        lambda run, n: run.tags.get(n) == "v",
    ),
    NameSite(
        "set_labels-dict",
        lambda n: tracking.set_labels({n: "v"}),
        lambda run, n: run.labels.get(n) == "v",
        dict_key=True,
    ),
    NameSite(
        "set_labels-name",
        lambda n: tracking.set_labels(name=n, value="v"),
        lambda run, n: run.labels.get(n) == "v",
    ),
    NameSite(
        "update_run_info-tags",
        lambda n: tracking.update_run_info(tags={n: "v"}),
        lambda run, n: run.tags.get(n) == "v",
        dict_key=True,
    ),
    NameSite(
        "update_run_info-run_name",
        lambda n: tracking.update_run_info(run_name=n),
        lambda run, n: run.name == n and run.tags["runName"] == n,
    ),
    NameSite(
        "update_run_info-run_collection_name",
        lambda n: tracking.update_run_info(run_collection_name=n),
        lambda run, n: run.collection == n and run.collection_is_default is False,
    ),
    NameSite(
        "start_run-run_name",
        lambda n: tracking.start_run(run_name=n),
        lambda run, n: run.name == n and run.tags["runName"] == n,
        starts_run=True,
    ),
    NameSite(
        "start_run-run_collection_name",
        lambda n: tracking.start_run(run_collection_name=n),
        lambda run, n: run.collection == n and run.collection_is_default is False,
        starts_run=True,
    ),
]
SITE_IDS = [site.id for site in NAME_SITES]

GOOD_NAMES = {
    "one-char": "x",
    "256-ascii": "n" * 256,
    "256-latin": "ü" * 256,  # the limit counts characters, not bytes
    "256-emoji": "\N{GRINNING FACE}" * 256,
    "spaces-and-punctuation": " a name, with: (stuff) ",
}

BAD_NAMES = {  # name -> (error, text the message must contain)
    "257-ascii": ("n" * 257, InvalidNameError, "256"),
    "257-latin": ("ü" * 257, InvalidNameError, "256"),
    "empty": ("", InvalidNameError, None),
    "nul-inside": ("a\x00b", InvalidNameError, None),
    "nul-only": ("\x00", InvalidNameError, None),
    "int": (5, InvalidTypeError, None),
    "float": (2.5, InvalidTypeError, None),
    "bytes": (b"name", InvalidTypeError, None),
    "tuple": (("name",), InvalidTypeError, None),
}
UNHASHABLE_NAMES = {"list": ["name"], "dict": {"name": 1}}


def bad_name_cases() -> list[Any]:
    cases = []
    for site in NAME_SITES:
        for case_id, (name, error, fragment) in BAD_NAMES.items():
            cases.append(pytest.param(site, name, error, fragment, id=f"{site.id}-{case_id}"))
        if not site.dict_key:  # lists and dicts cannot be dict keys
            for case_id, name in UNHASHABLE_NAMES.items():
                cases.append(
                    pytest.param(site, name, InvalidTypeError, None, id=f"{site.id}-{case_id}")
                )
    return cases


def start_with_baseline(site: NameSite) -> None:
    """Start a run and log one value, unless the site itself starts the run."""
    if not site.starts_run:
        tracking.start_run()
        tracking.log_metric("baseline", 1.0)


@pytest.mark.parametrize("name", GOOD_NAMES.values(), ids=GOOD_NAMES.keys())
@pytest.mark.parametrize("site", NAME_SITES, ids=SITE_IDS)
def test_name_within_limits_is_stored(sdk, site: NameSite, name: str) -> None:
    """A name of 1 to 256 characters (any script) is accepted and stored verbatim."""
    if not site.starts_run:
        tracking.start_run()
    site.write(name)
    tracking.end_run()
    assert site.stored(only_run(), name)


@pytest.mark.parametrize(("site", "name", "error", "fragment"), bad_name_cases())
def test_bad_name_is_refused_and_changes_nothing(sdk, site, name, error, fragment) -> None:
    """Too long, empty, NUL-holding or non-str names are refused with the right error."""
    start_with_baseline(site)
    with pytest.raises(error) as raised:
        site.write(name)
    if fragment is not None:
        assert fragment in str(raised.value)
    if site.starts_run:
        assert sdk.active_run is None
        assert tracking.get_runs(scenario=scenario()) == []
    else:
        tracking.end_run()
        assert_only_baseline(only_run())


@pytest.mark.parametrize("site", NAME_SITES, ids=SITE_IDS)
def test_name_not_encodable_as_utf8_never_breaks_the_store(sdk, site: NameSite) -> None:
    """A name with a lone surrogate is refused (TrackingError) or stored; persists keep working."""
    name = "bad\ud800name"  # valid Python text that has no UTF-8 form
    start_with_baseline(site)
    try:
        site.write(name)
        accepted = True
    except TrackingError:
        accepted = False
    if sdk.active_run is not None:
        tracking.end_run()  # must not fail: the database file takes only UTF-8 text
    runs = tracking.get_runs(scenario=scenario())
    if accepted:
        assert len(runs) == 1 and site.stored(runs[0], name)
    if not site.starts_run:
        assert runs[0].metrics["baseline"] == 1.0


# ---------------------------------------------------------------- parameter and tag values


@dataclass(frozen=True)
class ValueSite:
    """One place a parameter or tag value goes in, and where get_runs shows it."""

    id: str
    write: Callable[[Any], object]
    read: Callable[[Run], Any]


VALUE_SITES = [
    ValueSite(
        "log_parameters-dict",
        lambda v: tracking.log_parameters({"key": v}),
        lambda run: run.parameters.get("key"),
    ),
    ValueSite(
        "log_parameters-name",
        lambda v: tracking.log_parameters(name="key", value=v),
        lambda run: run.parameters.get("key"),
    ),
    ValueSite(
        "set_tags-dict", lambda v: tracking.set_tags({"key": v}), lambda run: run.tags.get("key")
    ),
    ValueSite(
        "set_tags-name",
        lambda v: tracking.set_tags(name="key", value=v),
        lambda run: run.tags.get("key"),
    ),
    ValueSite(
        "update_run_info-tags",
        lambda v: tracking.update_run_info(tags={"key": v}),
        lambda run: run.tags.get("key"),
    ),
]
VALUE_SITE_IDS = [site.id for site in VALUE_SITES]

GOOD_VALUES = {  # value -> the string stored
    "5000-ascii": ("v" * 5000, "v" * 5000),
    "5000-latin": ("ü" * 5000, "ü" * 5000),
    "empty": ("", ""),
    "int": (784, "784"),
    "float": (0.001, "0.001"),
    "negative-float": (-2.5, "-2.5"),
    "none": (None, "None"),
    "bool": (True, "True"),
    "list": ([1, "a"], "[1, 'a']"),
    "nul-inside-value": ("a\x00b", "a\x00b"),
}
BAD_VALUES = {
    "5001-ascii": "v" * 5001,
    "5001-latin": "ü" * 5001,
    "5001-as-str-of-list": ["x" * 4998],  # its str() is 5002 characters
}


@pytest.mark.parametrize(("value", "expected"), GOOD_VALUES.values(), ids=GOOD_VALUES.keys())
@pytest.mark.parametrize("site", VALUE_SITES, ids=VALUE_SITE_IDS)
def test_value_within_limit_is_stored_as_str(sdk, site: ValueSite, value, expected) -> None:
    """Parameter and tag values up to 5000 characters are stored as their str()."""
    tracking.start_run()
    site.write(value)
    tracking.end_run()
    assert site.read(only_run()) == expected


@pytest.mark.parametrize("value", BAD_VALUES.values(), ids=BAD_VALUES.keys())
@pytest.mark.parametrize("site", VALUE_SITES, ids=VALUE_SITE_IDS)
def test_value_over_limit_is_refused(sdk, site: ValueSite, value) -> None:
    """A parameter or tag value longer than 5000 characters is refused, naming the limit."""
    tracking.start_run()
    tracking.log_metric("baseline", 1.0)
    with pytest.raises(InvalidValueError, match="5000"):
        site.write(value)
    tracking.end_run()
    assert_only_baseline(only_run())


@pytest.mark.parametrize("site", VALUE_SITES, ids=VALUE_SITE_IDS)
def test_huge_int_value_is_stored_or_refused_with_a_tracking_error(sdk, site: ValueSite) -> None:
    """Ints too long for Python's default str() are stored as digits or refused (TrackingError)."""
    tracking.start_run()
    tracking.log_metric("baseline", 1.0)
    digits_4500 = 10**4499  # 4500 digits: under the 5000 limit, over Python's 4300-digit default
    try:
        site.write(digits_4500)
        stored_digits: str | None = "1" + "0" * 4499
    except InvalidValueError:
        stored_digits = None
    with pytest.raises(InvalidValueError):
        site.write(10**5000)  # 5001 digits: over the limit
    tracking.end_run()
    run = only_run()
    assert site.read(run) == stored_digits
    assert run.metrics == {"baseline": 1.0}


@pytest.mark.parametrize("site", VALUE_SITES, ids=VALUE_SITE_IDS)
def test_value_not_encodable_as_utf8_never_breaks_the_store(sdk, site: ValueSite) -> None:
    """A value with a lone surrogate is refused (TrackingError) or stored; persists keep working."""
    value = "bad\udc80value"
    tracking.start_run()
    tracking.log_metric("baseline", 1.0)
    try:
        site.write(value)
        accepted = True
    except TrackingError:
        accepted = False
    tracking.end_run()
    run = only_run()
    assert run.metrics == {"baseline": 1.0}
    assert site.read(run) == (value if accepted else None)


# ---------------------------------------------------------------- metric values


@dataclass(frozen=True)
class MetricSite:
    """One way to log a metric value; `name` is the metric it lands in."""

    id: str
    write: Callable[[Any], object]
    name: str


# Every metric test first logs baseline=1.0 without persisting, so logging "baseline"
# again takes the fast path for a name already in the cache.
METRIC_SITES = [
    MetricSite("log_metric-new-name", lambda v: tracking.log_metric("m", v), "m"),
    MetricSite("log_metric-cached-name", lambda v: tracking.log_metric("baseline", v), "baseline"),
    MetricSite("log_metric-step", lambda v: tracking.log_metric("m", v, step=3), "m"),
    MetricSite("log_metric-timestamp", lambda v: tracking.log_metric("m", v, timestamp=1.7e9), "m"),
    MetricSite("log_metrics-dict", lambda v: tracking.log_metrics({"m": v}), "m"),
    MetricSite(
        "log_metrics-list", lambda v: tracking.log_metrics([{"name": "m", "value": v}]), "m"
    ),
]
METRIC_SITE_IDS = [site.id for site in METRIC_SITES]

GOOD_METRIC_VALUES = {  # value -> the float stored
    "int": (3, 3.0),
    "negative-int": (-7, -7.0),
    "zero": (0, 0.0),
    "float": (2.5, 2.5),
    "negative-float": (-2.5, -2.5),
    "negative-zero": (-0.0, -0.0),
    "max-double": (MAX_DOUBLE, MAX_DOUBLE),
    "min-double": (-MAX_DOUBLE, -MAX_DOUBLE),
    "smallest-subnormal": (5e-324, 5e-324),
    "negative-subnormal": (-5e-324, -5e-324),
    "int-equal-to-max-double": (int(MAX_DOUBLE), MAX_DOUBLE),
    "int-10e308": (10**308, 1e308),
    "int-beyond-53-bits": (2**53 + 1, float(2**53 + 1)),
    "decimal": (Decimal("0.5"), 0.5),
    "negative-decimal": (Decimal("-1.25"), -1.25),
    "fraction": (Fraction(1, 2), 0.5),
}
BAD_METRIC_VALUES = {
    "nan": (math.nan, InvalidValueError),
    "inf": (math.inf, InvalidValueError),
    "minus-inf": (-math.inf, InvalidValueError),
    "decimal-nan": (Decimal("NaN"), InvalidValueError),
    "decimal-infinity": (Decimal("Infinity"), InvalidValueError),
    "int-too-big": (10**400, InvalidValueError),
    "negative-int-too-big": (-(10**400), InvalidValueError),
    "int-2-pow-1024": (2**1024, InvalidValueError),
    "fraction-too-big": (Fraction(10**400, 3), InvalidValueError),
    "true": (True, InvalidTypeError),
    "false": (False, InvalidTypeError),
    "numeric-str": ("1.0", InvalidTypeError),
    "bytes": (b"1", InvalidTypeError),
    "none": (None, InvalidTypeError),
    "list": ([1.0], InvalidTypeError),
    "complex": (complex(1, 0), InvalidTypeError),
}


def metric_values(run: Run, name: str) -> list[float]:
    """The stored values of one metric of ``run``, oldest first."""
    [history] = tracking.get_metrics_history(run=run, metrics=name)
    return [value.value for value in history.values]


@pytest.mark.parametrize(
    ("value", "expected"), GOOD_METRIC_VALUES.values(), ids=GOOD_METRIC_VALUES.keys()
)
@pytest.mark.parametrize("site", METRIC_SITES, ids=METRIC_SITE_IDS)
def test_finite_real_metric_value_is_stored_as_float(sdk, site: MetricSite, value, expected):
    """Finite ints, floats, Decimals and Fractions are stored as the float they equal."""
    run = tracking.start_run()
    tracking.log_metric("baseline", 1.0)
    site.write(value)
    tracking.end_run()
    stored = metric_values(run, site.name)[-1]
    last = only_run().metrics[site.name]
    for number in (stored, last):
        assert type(number) is float
        assert number == expected


@pytest.mark.parametrize(
    ("value", "error"), BAD_METRIC_VALUES.values(), ids=BAD_METRIC_VALUES.keys()
)
@pytest.mark.parametrize("site", METRIC_SITES, ids=METRIC_SITE_IDS)
def test_bad_metric_value_is_refused_and_changes_nothing(sdk, site: MetricSite, value, error):
    """NaN, infinities, out-of-range numbers, bools and non-numbers are refused."""
    run = tracking.start_run()
    tracking.log_metric("baseline", 1.0)
    with pytest.raises(error):
        site.write(value)
    tracking.end_run()
    assert_only_baseline(only_run())
    assert metric_values(run, "baseline") == [1.0]


# ---------------------------------------------------------------- reserved names

RESERVED_WRITES = {
    "parameter-start-dict": (lambda: tracking.log_parameters({"start": "x"}), "start"),
    "parameter-end-dict": (lambda: tracking.log_parameters({"end": "x"}), "end"),
    "parameter-start-name": (lambda: tracking.log_parameters(name="start", value="x"), "start"),
    "parameter-end-name": (lambda: tracking.log_parameters(name="end", value=1), "end"),
    "tag-runName-dict": (lambda: tracking.set_tags({"runName": "x"}), "update_run_info"),
    "tag-runName-name": (lambda: tracking.set_tags(name="runName", value="x"), "update_run_info"),
    "tag-runName-update_run_info": (
        lambda: tracking.update_run_info(tags={"runName": "x"}),
        "update_run_info",
    ),
}


@pytest.mark.parametrize(
    ("write", "fragment"), RESERVED_WRITES.values(), ids=RESERVED_WRITES.keys()
)
def test_reserved_name_is_refused(sdk, write, fragment: str) -> None:
    """Parameters start/end and tag runName are the system's; the message says what to do."""
    tracking.start_run()
    tracking.log_metric("baseline", 1.0)
    with pytest.raises(InvalidNameError) as raised:
        write()
    assert fragment in str(raised.value)
    tracking.end_run()
    run = only_run()
    assert_only_baseline(run)
    # The system values are intact: start and end are the run's own times.
    assert datetime.fromisoformat(run.parameters["start"]) == run.start_time
    assert datetime.fromisoformat(run.parameters["end"]) == run.end_time


CASE_VARIANTS = {  # reserved words are case-sensitive, and reserved only for their own kind
    "parameter-Start": (lambda: tracking.log_parameters({"Start": "x"}), "parameters", "Start"),
    "parameter-END": (lambda: tracking.log_parameters(name="END", value="x"), "parameters", "END"),
    "parameter-runName": (
        lambda: tracking.log_parameters({"runName": "x"}),
        "parameters",
        "runName",
    ),
    "tag-runname": (lambda: tracking.set_tags({"runname": "x"}), "tags", "runname"),
    "tag-RunName": (lambda: tracking.set_tags(name="RunName", value="x"), "tags", "RunName"),
    "tag-start": (lambda: tracking.set_tags({"start": "x"}), "tags", "start"),
}


@pytest.mark.parametrize(
    ("write", "field", "key"), CASE_VARIANTS.values(), ids=CASE_VARIANTS.keys()
)
def test_reserved_names_are_case_sensitive(sdk, write, field: str, key: str) -> None:
    """Only the exact reserved words are refused: Start, END and runname are ordinary names."""
    run = tracking.start_run(run_name="the-name")
    write()
    tracking.end_run()
    stored = only_run()
    assert getattr(stored, field)[key] == "x"
    assert stored.tags["runName"] == "the-name"
    assert datetime.fromisoformat(stored.parameters["start"]) == stored.start_time
    assert stored.id == run.id


# ---------------------------------------------------------------- labels

GOOD_LABELS = {
    "format-dict": {"format_string": "percentage"},
    "nested": {"a": [1, 2.5, None, True, {"b": "c", "d": [[], {}]}], "e": {"f": {"g": -1}}},
    "empty-list": [],
    "empty-dict": {},
    "zero": 0,
    "negative-float": -1.5,
    "max-double": MAX_DOUBLE,
    "big-int": 10**30,
    "true": True,
    "false": False,
    "none": None,
    "text": "text",
    "unicode": "ünï \N{GRINNING FACE}",
    "json-of-5000-chars": "x" * 4998,  # with its quotes, exactly 5000 characters of JSON
}
BAD_LABELS = {
    "set": {1, 2},
    "object": object(),
    "nan": math.nan,
    "inf": math.inf,
    "nan-inside": {"a": [math.nan]},
    "set-inside": [set()],
    "bytes": b"bytes",
    "tuple-key": {("t",): 1},
    "json-of-5001-chars": "x" * 4999,
}
LABEL_WRITES = {
    "set_labels-dict": lambda value: tracking.set_labels({"key": value}),
    "set_labels-name": lambda value: tracking.set_labels(name="key", value=value),
}


def same_json(left: Any, right: Any) -> bool:
    """Equal, and equal in JSON too, so True and 1 or 1 and 1.0 are told apart."""
    return left == right and json.dumps(left, sort_keys=True) == json.dumps(right, sort_keys=True)


@pytest.mark.parametrize("value", GOOD_LABELS.values(), ids=GOOD_LABELS.keys())
@pytest.mark.parametrize("write", LABEL_WRITES.values(), ids=LABEL_WRITES.keys())
def test_json_label_reads_back_equal(sdk, write, value) -> None:
    """Any JSON value is a label value and get_runs returns it equal, types included."""
    tracking.start_run()
    write(value)
    tracking.end_run()
    assert same_json(only_run().labels["key"], value)


@pytest.mark.parametrize("value", BAD_LABELS.values(), ids=BAD_LABELS.keys())
@pytest.mark.parametrize("write", LABEL_WRITES.values(), ids=LABEL_WRITES.keys())
def test_non_json_label_is_refused(sdk, write, value) -> None:
    """Values JSON cannot hold (sets, objects, NaN) and over-long labels are refused."""
    tracking.start_run()
    tracking.log_metric("baseline", 1.0)
    with pytest.raises(InvalidValueError):
        write(value)
    tracking.end_run()
    assert_only_baseline(only_run())


# ---------------------------------------------------------------- error classes

ERROR_CLASSES = [
    (InvalidNameError, ValueError),
    (InvalidValueError, ValueError),
    (InvalidTypeError, TypeError),
    (InvalidFilterError, ValueError),
    (NoActiveRunError, RuntimeError),
    (RunAlreadyActiveError, RuntimeError),
    (RunNotFoundError, LookupError),
    (StorageError, OSError),
    (SchemaVersionError, StorageError),
    (LockTimeoutError, TimeoutError),
    (LockTimeoutError, StorageError),
]


@pytest.mark.parametrize(
    ("error", "builtin"),
    ERROR_CLASSES,
    ids=[f"{e.__name__}-{b.__name__}" for e, b in ERROR_CLASSES],
)
def test_error_class_is_a_tracking_error_and_its_builtin(error, builtin) -> None:
    """Each error is a TrackingError and the built-in user code already catches."""
    assert issubclass(error, TrackingError)
    assert issubclass(error, builtin)
    assert isinstance(error("message"), builtin)


def test_raised_errors_are_caught_by_their_builtins(sdk) -> None:
    """Errors raised by real calls are caught by `except ValueError` / `except TypeError`."""
    tracking.start_run()
    with pytest.raises(ValueError):
        tracking.log_metric("m", math.nan)
    with pytest.raises(ValueError):
        tracking.log_parameters({"p": "v" * 5001})
    with pytest.raises(TypeError):
        tracking.log_metric("m", True)
    with pytest.raises(TypeError):
        tracking.log_metric(5, 1.0)
    with pytest.raises(ValueError):
        tracking.get_runs()


# ---------------------------------------------------------------- refused batches

BAD_BATCHES = {
    "log_metrics-dict-nan-in-middle": (
        lambda: tracking.log_metrics({"good1": 1.0, "bad": math.nan, "good2": 2.0}),
        InvalidValueError,
    ),
    "log_metrics-list-nan-in-middle": (
        lambda: tracking.log_metrics(
            [
                {"name": "good1", "value": 1.0},
                {"name": "loss", "value": 9.0},
                {"name": "bad", "value": math.nan},
                {"name": "good2", "value": 2.0},
            ]
        ),
        InvalidValueError,
    ),
    "log_metrics-list-str-value": (
        lambda: tracking.log_metrics(
            [{"name": "loss", "value": 9.0}, {"name": "good1", "value": "3"}]
        ),
        InvalidTypeError,
    ),
    "log_metrics-list-missing-value": (
        lambda: tracking.log_metrics([{"name": "good1", "value": 1.0}, {"name": "good2"}]),
        InvalidTypeError,
    ),
    "log_parameters-long-value": (
        lambda: tracking.log_parameters({"good1": "a", "bad": "v" * 5001, "good2": "b"}),
        InvalidValueError,
    ),
    "log_parameters-overwrite-then-long-value": (
        lambda: tracking.log_parameters({"lr": 0.5, "bad": "v" * 5001}),
        InvalidValueError,
    ),
    "log_parameters-reserved": (
        lambda: tracking.log_parameters({"good1": "a", "start": "x"}),
        InvalidNameError,
    ),
    "set_tags-reserved": (
        lambda: tracking.set_tags({"good1": "a", "team": "b", "runName": "x"}),
        InvalidNameError,
    ),
    "set_labels-set": (
        lambda: tracking.set_labels({"good1": 1, "unit": "s", "bad": {1, 2}}),
        InvalidValueError,
    ),
    "update_run_info-reserved-tag": (
        lambda: tracking.update_run_info(
            run_name="renamed", run_collection_name="moved", tags={"good1": "a", "runName": "x"}
        ),
        InvalidNameError,
    ),
    "update_run_info-long-tag": (
        lambda: tracking.update_run_info(run_name="renamed", tags={"good1": "v" * 5001}),
        InvalidValueError,
    ),
}


@pytest.mark.parametrize(("call", "error"), BAD_BATCHES.values(), ids=BAD_BATCHES.keys())
def test_refused_batch_stores_none_of_its_items_and_loses_nothing(sdk, call, error) -> None:
    """A batch with one bad item stores none of its items; earlier values all survive."""
    run = tracking.start_run()
    # Some values persisted before the refused call, some still in the cache.
    tracking.log_metric("loss", 1.0)
    tracking.log_parameters({"lr": 0.1})
    tracking.set_tags({"team": "a"})
    tracking.set_labels({"unit": "%"})
    tracking.persist_run()
    tracking.log_metric("loss", 2.0)
    tracking.log_parameters({"epochs": 3})
    with pytest.raises(error):
        call()
    tracking.end_run()

    stored = only_run()
    assert stored.metrics == {"loss": 2.0}
    assert [v.value for v in tracking.get_metrics_history(run=run)[0].values] == [1.0, 2.0]
    assert {k: v for k, v in stored.parameters.items() if k not in ("start", "end")} == {
        "lr": "0.1",
        "epochs": "3",
    }
    assert stored.tags == {"team": "a", "runName": run.id}
    assert stored.labels == {"unit": "%"}
    assert (stored.name, stored.collection) == (run.name, run.collection)


# ---------------------------------------------------------------- last write wins


@dataclass(frozen=True)
class Kind:
    """Something logged under a key: how to write it (to a run) and read it back."""

    id: str
    write: Callable[[Any, Any], object]
    read: Callable[[Run], Any]
    first: Any
    last: Any
    expected: Any


KINDS = [
    Kind(
        "parameter-dict",
        lambda v, run: tracking.log_parameters({"k": v}, run=run),
        lambda r: r.parameters["k"],
        1,
        "two",
        "two",
    ),
    Kind(
        "parameter-name",
        lambda v, run: tracking.log_parameters(name="k", value=v, run=run),
        lambda r: r.parameters["k"],
        "one",
        2.5,
        "2.5",
    ),
    Kind(
        "tag",
        lambda v, run: tracking.set_tags({"k": v}, run=run),
        lambda r: r.tags["k"],
        "one",
        "two",
        "two",
    ),
    Kind(
        "tag-update_run_info",
        lambda v, run: tracking.update_run_info(run=run, tags={"k": v}),
        lambda r: r.tags["k"],
        "one",
        "two",
        "two",
    ),
    Kind(
        "label",
        lambda v, run: tracking.set_labels({"k": v}, run=run),
        lambda r: r.labels["k"],
        {"a": 1},
        [2],
        [2],
    ),
    Kind(
        "metric",
        lambda v, run: tracking.log_metric("k", v, run=run),
        lambda r: r.metrics["k"],
        1.0,
        2.0,
        2.0,
    ),
    Kind(
        "metric-list",
        lambda v, run: tracking.log_metrics([{"name": "k", "value": v}], run=run),
        lambda r: r.metrics["k"],
        7,
        -3,
        -3.0,
    ),
]
MODES = ["same-persist", "across-persists", "after-end_run"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS, ids=[kind.id for kind in KINDS])
def test_last_write_wins(sdk, kind: Kind, mode: str) -> None:
    """Writing a key twice keeps the last value, in one persist or across persists."""
    run = tracking.start_run()
    kind.write(kind.first, None)
    if mode == "same-persist":
        kind.write(kind.last, None)
        tracking.end_run()
    elif mode == "across-persists":
        tracking.persist_run()
        kind.write(kind.last, None)
        tracking.end_run()
    else:
        tracking.end_run()
        kind.write(kind.last, run)
        tracking.persist_run()
    assert kind.read(only_run()) == kind.expected


def test_metric_value_in_get_runs_is_the_last_logged_not_the_highest_step(sdk) -> None:
    """get_runs shows the last logged value of a metric, whatever its step or timestamp."""
    run = tracking.start_run()
    tracking.log_metric("m", 5.0, step=10, timestamp=2e9)
    tracking.persist_run()
    tracking.log_metric("m", 6.0, step=1, timestamp=1e9)
    tracking.end_run()
    assert only_run().metrics["m"] == 6.0
    history = tracking.get_metrics_history(run=run, metrics="m")[0].values
    assert [(v.value, v.step) for v in history] == [(5.0, 10), (6.0, 1)]


# ---------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    "given",
    [
        1_700_000_000,
        1_700_000_000.5,
        pytest.param("numpy.int64", id="numpy-int64"),
        pytest.param("numpy.float32", id="numpy-float32"),
        pytest.param("decimal", id="decimal"),
        pytest.param("aware-datetime", id="aware-datetime"),
        pytest.param("pandas-timestamp", id="pandas-timestamp"),
    ],
)
def test_a_timestamp_is_any_real_number_of_seconds_or_a_datetime(
    sdk: MLTrackingSDK, given: object
) -> None:
    """Timestamps take what metric values take (numpy scalars, Decimal) and datetimes."""
    import decimal
    from datetime import datetime, timezone

    import numpy
    import pandas

    made = {
        "numpy.int64": numpy.int64(1_700_000_000),
        "numpy.float32": numpy.float32(1.5e9),
        "decimal": decimal.Decimal("1700000000.25"),
        "aware-datetime": datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc),
        "pandas-timestamp": pandas.Timestamp("2023-11-14T22:13:20Z"),
    }
    timestamp = made.get(given, given) if isinstance(given, str) else given
    expected = (
        timestamp.timestamp() if isinstance(timestamp, datetime) else float(timestamp)  # type: ignore[arg-type]
    )
    run = tracking.start_run()
    tracking.log_metric("m", 1.0, timestamp=timestamp)
    tracking.log_metrics([{"name": "n", "value": 2.0, "timestamp": timestamp}])
    tracking.end_run()
    for history in tracking.get_metrics_history(run=run):
        assert history.values[0].timestamp == expected


@pytest.mark.parametrize(
    ("given", "error", "words"),
    [
        ("1700000000", InvalidTypeError, "must be Unix seconds"),
        (True, InvalidTypeError, "must be Unix seconds"),
        (1 + 2j, InvalidTypeError, "must be Unix seconds"),
        ([1.0], InvalidTypeError, "must be Unix seconds"),
        (float("nan"), InvalidValueError, "must be finite"),
        (float("inf"), InvalidValueError, "must be finite"),
        (10**400, InvalidValueError, "too large"),
    ],
)
def test_a_bad_timestamp_is_refused_and_nothing_is_cached(
    sdk: MLTrackingSDK, given: object, error: type[Exception], words: str
) -> None:
    run = tracking.start_run()
    with pytest.raises(error, match=words):
        tracking.log_metric("m", 1.0, timestamp=given)
    with pytest.raises(error, match=words):
        tracking.log_metrics(
            [{"name": "m", "value": 1.0}, {"name": "n", "value": 2.0, "timestamp": given}]
        )
    tracking.end_run()
    assert tracking.get_metrics_history(run=run) == []


def test_numpy_booleans_are_not_timestamps(sdk: MLTrackingSDK) -> None:
    import numpy

    tracking.start_run()
    with pytest.raises(InvalidTypeError, match="must be Unix seconds"):
        tracking.log_metric("m", 1.0, timestamp=numpy.bool_(True))
    tracking.end_run()
