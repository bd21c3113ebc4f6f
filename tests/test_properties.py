"""Property tests: arbitrary names and values, metric windows, and SQL-looking text.

Each example gets a database file of its own. The expected outcome of every call is
computed here from the documented rules (names 1..256 characters without NUL; parameter
and tag values stored as str, at most 5000 characters; labels any JSON; metric values
finite real numbers; start, end and runName reserved), not from the package's code.
Numpy scalars and Decimals are drawn wherever a name or a value is.
"""

from __future__ import annotations

import json
import math
import numbers
import random
import sqlite3
import warnings
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sapdi_local import MLTrackingSDK, Run, Scenario
from sapdi_local.errors import TrackingError
from sapdi_local.store import SCHEMA_VERSION

# The autouse fixture of conftest only clears environment variables: sharing it between
# examples is harmless, so the function-scoped-fixture health check is silenced.
PROPERTY_SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
TABLES = {"runs", "metrics", "latest_metrics", "parameters", "tags", "labels"}


@contextmanager
def fresh_sdk(tmp_path_factory: pytest.TempPathFactory, **options: Any) -> Iterator[MLTrackingSDK]:
    """An SDK on a new database file, closed (and its warnings dropped) afterwards."""
    path = tmp_path_factory.mktemp("property") / "tracking.db"
    context = {"scenario": "s", "scenario_version": "v1", "pipeline": "p.py", "execution": "e"}
    context.update(options)
    instance = MLTrackingSDK(db_path=path, **context)
    try:
        yield instance
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            instance.close()


# ---------------------------------------------------------------- the rules, as an oracle

REFUSED = object()


def valid_name(name: object) -> bool:
    return isinstance(name, str) and 0 < len(name) <= 256 and "\x00" not in name


def stored_text(value: object) -> object:
    """What a parameter or tag value is stored as, or REFUSED."""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= 5000 else REFUSED


def stored_metric(value: object) -> object:
    """The float a metric value is stored as, or REFUSED."""
    if isinstance(value, (bool, str, bytes, np.bool_)) or value is None:
        return REFUSED
    if isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real):
        return REFUSED  # complex, numpy's included: not a real number
    if isinstance(value, Decimal) and value.is_nan():
        return REFUSED
    try:
        number = float(value)  # type: ignore[arg-type]
    except (OverflowError, TypeError, ValueError):  # a numpy datetime64 is no number either
        return REFUSED
    return number if math.isfinite(number) else REFUSED


def is_json(value: object) -> bool:
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(is_json(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_json(v) for k, v in value.items())
    return False


def has_surrogate(value: object) -> bool:
    """True if some text in ``value`` holds a lone surrogate (text with no UTF-8 form)."""
    if isinstance(value, str):
        return any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, (list, tuple)):
        return any(has_surrogate(item) for item in value)
    if isinstance(value, dict):
        return any(has_surrogate(k) or has_surrogate(v) for k, v in value.items())
    return False


def same_json(left: Any, right: Any) -> bool:
    """Equal, and equal in JSON too, so True and 1 or 1 and 1.0 are told apart."""
    return left == right and json.dumps(left, sort_keys=True) == json.dumps(right, sort_keys=True)


@dataclass
class Model:
    """What the run should hold, according to the rules."""

    name: str
    collection: str
    collection_is_default: bool = True
    parameters: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, list[float]] = field(default_factory=dict)


Change = Callable[[Model], None]


@dataclass
class Call:
    """One API call, and what the rules say it does: a list of changes, or REFUSED."""

    text: str
    perform: Callable[[MLTrackingSDK], object]
    changes: object  # list[Change] or REFUSED
    args: tuple[Any, ...]

    def __repr__(self) -> str:  # what Hypothesis prints for a failing example
        return self.text


def metric_changes(pairs: list[tuple[object, object]]) -> object:
    changes: list[Change] = []
    for name, value in pairs:
        number = stored_metric(value)
        if not valid_name(name) or number is REFUSED:
            return REFUSED
        changes.append(lambda m, n=name, x=number: m.metrics.setdefault(n, []).append(x))
    return changes


def text_changes(field_name: str, reserved: set[str], pairs: list[tuple[object, object]]) -> object:
    changes: list[Change] = []
    for name, value in pairs:
        text = stored_text(value)
        if not valid_name(name) or name in reserved or text is REFUSED:
            return REFUSED
        changes.append(lambda m, n=name, t=text: getattr(m, field_name).__setitem__(n, t))
    return changes


def label_changes(pairs: list[tuple[object, object]]) -> object:
    changes: list[Change] = []
    for name, value in pairs:
        if not valid_name(name) or not is_json(value):
            return REFUSED
        changes.append(lambda m, n=name, v=value: m.labels.__setitem__(n, v))
    return changes


def run_info_changes(run_name: object, collection: object, tags: object) -> object:
    tag_changes = [] if tags is None else text_changes("tags", {"runName"}, list(tags.items()))
    for text in (run_name, collection):
        if text is not None and not valid_name(text):
            return REFUSED
    if tag_changes is REFUSED:
        return REFUSED
    changes: list[Change] = list(tag_changes)  # type: ignore[arg-type]
    if run_name is not None:
        changes.append(lambda m: setattr(m, "name", run_name))
    if collection is not None:
        changes.append(
            lambda m: (
                setattr(m, "collection", collection),
                setattr(m, "collection_is_default", False),
            )
        )
    return changes


# ---------------------------------------------------------------- strategies

# Every code point, lone surrogates and NUL included: Python text can hold them all.
any_char = st.characters(exclude_categories=())
# Rare code points drawn often enough to matter: NUL, lone surrogates, astral, zero-width.
odd_texts = st.sampled_from(["\x00", "a\x00b", "\ud800", "bad\udfffname", "\U0001f600", "\u200b"])
any_text = st.one_of(st.text(any_char, max_size=12), odd_texts)
near_name_limit = st.builds(lambda char, n: char * n, any_char, st.integers(250, 262))
near_value_limit = st.builds(lambda char, n: char * n, any_char, st.integers(4990, 5010))
special_names = st.sampled_from(["start", "end", "runName", "Start", "END", "runname", "", "\x00"])
# Numpy scalars of every kind: what a value taken from an array is.
numpy_scalars = st.one_of(
    st.floats().map(np.float64),
    st.floats(width=32).map(np.float32),
    st.floats(width=16).map(np.float16),
    st.integers(-(2**63), 2**63 - 1).map(np.int64),
    st.integers(0, 2**64 - 1).map(np.uint64),
    st.integers(-128, 127).map(np.int8),
    st.booleans().map(np.bool_),
    st.complex_numbers(allow_nan=False, allow_infinity=False, max_magnitude=1e6).map(np.complex128),
    st.sampled_from([np.longdouble("1e400"), np.datetime64("2024-01-01"), np.str_("0.5")]),
)
keys = st.one_of(
    any_text,
    st.text(max_size=8).map(np.str_),
    near_name_limit,
    special_names,
    st.integers(),
    st.floats(),
    st.none(),
    st.binary(max_size=3),
)
names = st.one_of(keys, st.lists(st.text(max_size=3), max_size=2))  # lists cannot be dict keys
metric_values = st.one_of(
    st.floats(),
    st.integers(),
    st.integers(min_value=2**1000, max_value=2**1100),
    st.booleans(),
    st.none(),
    st.text(max_size=4),
    st.decimals(),
    st.fractions(),
    st.complex_numbers(max_magnitude=1e6),
    numpy_scalars,
)
text_values = st.one_of(
    any_text,
    near_value_limit,
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
    st.decimals(),
    numpy_scalars,
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=6,
)
# Nested dicts and lists with numpy scalars or Decimals inside: JSON only when every leaf is
# (a numpy float64 or str_ is a float or str; a numpy int, bool or a Decimal is not).
mixed_values = st.recursive(
    st.one_of(numpy_scalars, st.decimals(), st.integers(), any_text),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=4,
)
non_json_values = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.sets(st.integers(), min_size=1, max_size=2),
    st.builds(object),
    st.lists(st.just(math.nan), min_size=1, max_size=2),
)
label_values = st.one_of(json_values, non_json_values, mixed_values)
optional_names = st.one_of(st.none(), names)


# One function per call form, so a failing example reads like the call it made.


def log_metric(name: Any, value: Any) -> Call:
    return Call(
        f"log_metric({name!r}, {value!r})",
        lambda sdk: sdk.log_metric(name, value),
        metric_changes([(name, value)]),
        (name, value),
    )


def log_metrics_dict(metrics: dict[Any, Any]) -> Call:
    return Call(
        f"log_metrics({metrics!r})",
        lambda sdk: sdk.log_metrics(metrics),
        metric_changes(list(metrics.items())),
        (metrics,),
    )


def log_metrics_list(items: list[tuple[Any, Any]]) -> Call:
    dicts = [{"name": name, "value": value} for name, value in items]
    return Call(
        f"log_metrics({dicts!r})",
        lambda sdk: sdk.log_metrics(dicts),
        metric_changes(items),
        (items,),
    )


def log_parameters_dict(parameters: dict[Any, Any]) -> Call:
    return Call(
        f"log_parameters({parameters!r})",
        lambda sdk: sdk.log_parameters(parameters),
        text_changes("parameters", {"start", "end"}, list(parameters.items())),
        (parameters,),
    )


def log_parameters_name(name: Any, value: Any) -> Call:
    return Call(
        f"log_parameters(name={name!r}, value={value!r})",
        lambda sdk: sdk.log_parameters(name=name, value=value),
        text_changes("parameters", {"start", "end"}, [(name, value)]),
        (name, value),
    )


def set_tags_dict(tags: dict[Any, Any]) -> Call:
    return Call(
        f"set_tags({tags!r})",
        lambda sdk: sdk.set_tags(tags),
        text_changes("tags", {"runName"}, list(tags.items())),
        (tags,),
    )


def set_tags_name(name: Any, value: Any) -> Call:
    return Call(
        f"set_tags(name={name!r}, value={value!r})",
        lambda sdk: sdk.set_tags(name=name, value=value),
        text_changes("tags", {"runName"}, [(name, value)]),
        (name, value),
    )


def set_labels_dict(labels: dict[Any, Any]) -> Call:
    return Call(
        f"set_labels({labels!r})",
        lambda sdk: sdk.set_labels(labels),
        label_changes(list(labels.items())),
        (labels,),
    )


def set_labels_name(name: Any, value: Any) -> Call:
    return Call(
        f"set_labels(name={name!r}, value={value!r})",
        lambda sdk: sdk.set_labels(name=name, value=value),
        label_changes([(name, value)]),
        (name, value),
    )


def update_run_info(run_name: Any, collection: Any, tags: dict[Any, Any] | None) -> Call:
    return Call(
        f"update_run_info(run_name={run_name!r}, "
        f"run_collection_name={collection!r}, tags={tags!r})",
        lambda sdk: sdk.update_run_info(
            run_name=run_name, run_collection_name=collection, tags=tags
        ),
        run_info_changes(run_name, collection, tags),
        (run_name, collection, tags),
    )


def pairs(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[Any, Any]]:
    return st.dictionaries(keys, values, max_size=3)


calls = st.one_of(
    st.builds(log_metric, names, metric_values),
    st.builds(log_metrics_dict, pairs(metric_values)),
    st.builds(log_metrics_list, st.lists(st.tuples(names, metric_values), max_size=3)),
    st.builds(log_parameters_dict, pairs(text_values)),
    st.builds(log_parameters_name, names, text_values),
    st.builds(set_tags_dict, pairs(text_values)),
    st.builds(set_tags_name, names, text_values),
    st.builds(set_labels_dict, pairs(label_values)),
    st.builds(set_labels_name, names, label_values),
    st.builds(update_run_info, optional_names, optional_names, st.none() | pairs(text_values)),
)


def assert_store_matches(sdk: MLTrackingSDK, run: Run, model: Model) -> None:
    """get_runs and get_metrics_history show exactly what the model holds."""
    [stored] = sdk.get_runs(run=run.id)
    assert stored.name == model.name
    assert stored.tags.get("runName") == model.name
    assert (stored.collection, stored.collection_is_default) == (
        model.collection,
        model.collection_is_default,
    )
    assert {k: v for k, v in stored.parameters.items() if k not in ("start", "end")} == (
        model.parameters
    )
    assert {k: v for k, v in stored.tags.items() if k != "runName"} == model.tags
    assert stored.labels.keys() == model.labels.keys()
    for key, value in model.labels.items():
        assert same_json(stored.labels[key], value), key
    assert stored.metrics == {name: values[-1] for name, values in model.metrics.items()}
    history = {h.name: [v.value for v in h.values] for h in sdk.get_metrics_history(run=run.id)}
    assert history == model.metrics


@pytest.mark.slow
@settings(max_examples=100, **PROPERTY_SETTINGS)
@given(sequence=st.lists(calls, min_size=1, max_size=5))
# Numpy scalars and Decimals in every call, drawn always rather than now and then.
@example(
    sequence=[
        log_metric("complex", np.complex128(1 + 2j)),
        log_metric(np.str_("numpy-name"), np.float32(0.1)),
        log_metrics_dict({"int64": np.int64(-3), "uint64": np.uint64(2**64 - 1)}),
        log_metrics_list([("decimal", Decimal("0.1")), ("bool_", np.bool_(True))]),
        log_metrics_dict({"float16": np.float16(np.inf), "longdouble": np.longdouble("1e400")}),
    ]
)
@example(
    sequence=[
        log_parameters_dict({"decimal": Decimal("1.10"), "float32": np.float32(0.1)}),
        set_tags_name("int8", np.int8(-7)),
        set_labels_dict({"nested": {"a": {"b": np.float64(0.5), "c": [np.str_("x")]}}}),
        set_labels_name("numpy-int", {"deep": [np.int64(1)]}),
        set_labels_name("decimal", Decimal("1.5")),
        update_run_info(np.str_("renamed"), None, {"decimal": Decimal("-0")}),
    ]
)
def test_every_call_stores_what_the_rules_say_or_is_refused(
    tmp_path_factory: pytest.TempPathFactory, sequence: list[Call]
) -> None:
    """Each call stores exactly what the rules say or raises a TrackingError, changing nothing."""
    with fresh_sdk(tmp_path_factory) as sdk:
        run = sdk.start_run()
        model = Model(name=run.id, collection=run.collection or "")
        for call in sequence:
            try:
                call.perform(sdk)
                accepted = True
            except TrackingError:
                accepted = False
            if call.changes is REFUSED:
                assert not accepted, f"{call} should have been refused"
            elif not has_surrogate(call.args):
                # Text with a lone surrogate has no UTF-8 form: refusing it is allowed too.
                assert accepted, f"{call} should have been accepted"
            if accepted:
                for change in call.changes:  # type: ignore[attr-defined]
                    change(model)
            # get_runs writes the cache first: a refused call must have cached nothing.
            assert_store_matches(sdk, run, model)
        sdk.end_run()
        # What a new SDK reads from the file is the same.
        assert_store_matches(MLTrackingSDK(db_path=sdk.db_path), run, model)


# ---------------------------------------------------------------- metric windows


@pytest.mark.slow
@settings(max_examples=50, **PROPERTY_SETTINGS)
@given(
    special=st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=30),
    filler=st.integers(0, 2300),
    seed=st.integers(0, 2**32 - 1),
    persist_after=st.sets(st.integers(0, 2400), max_size=6),
    small_cache=st.booleans(),
)
# Around the window's edge, and well past it with persists on both sides of 1000.
@example(special=[0.5], filler=999, seed=1, persist_after=set(), small_cache=False)
@example(special=[0.5, -0.5], filler=999, seed=2, persist_after={998}, small_cache=False)
@example(special=[], filler=2300, seed=3, persist_after={500, 1200}, small_cache=False)
@example(special=[1e308, -5e-324], filler=2300, seed=4, persist_after=set(), small_cache=True)
def test_history_is_the_last_1000_values_in_order(
    tmp_path_factory: pytest.TempPathFactory,
    special: list[float],
    filler: int,
    seed: int,
    persist_after: set[int],
    small_cache: bool,
) -> None:
    """Across any persist points, a metric's history is its last min(n, 1000) values in order."""
    rng = random.Random(seed)
    bulk = [rng.uniform(-1e9, 1e9) for _ in range(filler)]
    values = bulk[: filler // 2] + special + bulk[filler // 2 :]
    # A second metric, logged now and then, has a window of its own.
    other = [float(i) for i in range(0, len(values), 3)]
    # A small cache makes the SDK persist by itself every 20 values or so.
    options = {"cache_limit_bytes": 2400} if small_cache else {}
    with fresh_sdk(tmp_path_factory, **options) as sdk:
        run = sdk.start_run()
        for index, value in enumerate(values):
            sdk.log_metric("m", value)
            if index % 3 == 0:
                sdk.log_metric("other", float(index))
            if index in persist_after:
                sdk.persist_run()

        def histories(reader: MLTrackingSDK) -> dict[str, list[float]]:
            found = reader.get_metrics_history(run=run.id, metrics=["m", "other"])
            return {h.name: [v.value for v in h.values] for h in found}

        expected = {"m": values[-1000:], "other": other[-1000:]}
        assert histories(sdk) == expected
        sdk.end_run()
        assert histories(MLTrackingSDK(db_path=sdk.db_path)) == expected
        [stored] = sdk.get_runs(run=run)
        assert stored.metrics == {name: kept[-1] for name, kept in expected.items() if kept}


# ---------------------------------------------------------------- SQL-looking text

SQL_FRAGMENTS = [
    "'); DROP TABLE runs;--",
    '"); DROP TABLE metrics; --',
    "' OR '1'='1",
    "1; DELETE FROM parameters",
    "x' UNION SELECT id, key FROM runs --",
    "%' OR name LIKE '%",
    "_%",
    "\\",
    "?",
    ":name",
    "$1",
    "[runs]",
    "`tags`",
    "/* comment */",
    "NULL",
    "'; PRAGMA user_version = 99; --",
]
sql_text = st.one_of(
    st.sampled_from(SQL_FRAGMENTS),
    st.tuples(st.text(max_size=10), st.sampled_from(SQL_FRAGMENTS), st.text(max_size=10)).map(
        "".join
    ),
).filter(lambda text: "\x00" not in text)


def tables_and_integrity(db_path: Path) -> tuple[set[str], str, int]:
    with closing(sqlite3.connect(db_path)) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        check = connection.execute("PRAGMA integrity_check").fetchone()[0]
        version = connection.execute("PRAGMA user_version").fetchone()[0]
    return tables, check, version


@settings(max_examples=40, **PROPERTY_SETTINGS)
@given(first=sql_text, second=sql_text)
def test_sql_looking_names_are_stored_verbatim(
    tmp_path_factory: pytest.TempPathFactory, first: str, second: str
) -> None:
    """Names and values that look like SQL are stored as text; every table survives."""
    with fresh_sdk(tmp_path_factory, scenario=first, pipeline=second, execution=first) as sdk:
        run = sdk.start_run(run_collection_name=first, run_name=second)
        sdk.log_metric(first, 1.0)
        sdk.log_metrics([{"name": second, "value": 2.0}])
        sdk.log_parameters({first: second})
        sdk.set_tags({second: first})
        sdk.set_labels({first: {second: [first]}})
        sdk.end_run()

        tables, integrity, version = tables_and_integrity(sdk.db_path)
        assert tables >= TABLES
        assert integrity == "ok"
        assert version == SCHEMA_VERSION

        [stored] = sdk.get_runs(scenario=Scenario(first), tags={second: first})
        assert stored.id == run.id
        assert (stored.scenario, stored.pipeline, stored.execution) == (first, second, first)
        assert (stored.collection, stored.name) == (first, second)
        assert stored.metrics == ({first: 1.0, second: 2.0} if first != second else {first: 2.0})
        assert stored.parameters[first] == second
        assert stored.tags[second] == first
        assert stored.labels[first] == {second: [first]}
        [by_name] = sdk.get_runs(pipeline=SimpleNamespace(id=second), tags={"runName": second})
        assert by_name.id == run.id
        # As selectors that match no run, they select and delete nothing.
        assert sdk.get_runs(run=first) == []
        assert sdk.delete_runs(run=[first, second]) == 0
        assert len(sdk.get_runs(scenario=Scenario(first))) == 1
