"""The search language for runs (issue 14): the parser, the SQL it becomes, and a plain-Python
evaluator of the same expressions that is its specification.

The evaluator below reads runs as ``get_runs`` returns them and says, by the rules of the
README's search section, which match and in which order; a Hypothesis test writes random
runs with the real SDK and checks the SQL against it on random expressions.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import close_quietly
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sapdi_local import MLTrackingSDK, Run
from sapdi_local.errors import InvalidFilterError, TrackingError
from sapdi_local.model import STATUSES
from sapdi_local.search_language import (
    ATTRIBUTE,
    LABEL,
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_EXPRESSION_LENGTH,
    MAX_IN_VALUES,
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
    key_text,
    parse_filter,
    parse_order_by,
)
from sapdi_local.search_language import STATUSES as LANGUAGE_STATUSES
from sapdi_local.store import ReadOnlyStore, RunFilter, RunRecord, search_run_records

CONTEXT: dict[str, Any] = {
    "scenario": "s",
    "scenario_version": "v1",
    "pipeline": "p.py",
    "execution": "e",
}
# Modest: the suite runs in CI within minutes. The autouse fixture of conftest only clears
# environment variables, so sharing it between examples is harmless.
PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# ---------------------------------------------------------------- the specification


NUMBER_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
# get_runs adds these to what is stored: the start and end parameters and the runName tag.
SYSTEM_ENTRIES = {PARAM: {"start", "end"}, TAG: {"runName"}}

Field = tuple[str | None, float | None]  # a key's value of a run as text, as a number


def number_in(text: str | None) -> float | None:
    """A text that is a number in full (JSON's spelling of one) as that number."""
    return float(text) if text is not None and NUMBER_TEXT.fullmatch(text) else None


def text_field(text: str | None) -> Field:
    return text, number_in(text)


def fields(run: Run, key: Key) -> list[Field]:
    """What ``key`` gives of ``run``: a text and a number, either None where it has none."""
    if key.kind == METRIC:
        return [(None, run.metrics.get(key.name))]
    if key.kind in (PARAM, TAG):
        stored = run.parameters if key.kind == PARAM else run.tags
        if key.name in SYSTEM_ENTRIES[key.kind]:
            return [(None, None)]
        return [text_field(stored.get(key.name))]
    if key.kind == LABEL:
        value = run.labels.get(key.name)
        if isinstance(value, bool):  # JSON true and false are 1 and 0
            return [(None, float(value))]
        if isinstance(value, (int, float)):
            return [(None, float(value))]
        return [(value if isinstance(value, str) else None, None)]
    name = key.name
    if name == "collection":
        return [text_field(run.collection), text_field(run.collection_display_name)]
    if name == "status":
        return [(run.status, None)]
    start = run.start_time.timestamp() if run.start_time else None
    end = run.end_time.timestamp() if run.end_time else None
    if name == "start_time":
        return [(None, start)]
    if name == "end_time":
        return [(None, end)]
    if name == "duration":
        return [(None, None if end is None or start is None else end - start)]
    return [text_field(getattr(run, name))]


def like(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern),
        re.DOTALL,
    )


def side(field: Field, value: float | str) -> str | float | None:
    """The part of a field a literal compares with: text with text, a number with a number."""
    return field[0] if isinstance(value, str) else field[1]


def literal(value: float | str | Ago, now: float) -> float | str:
    return now - value.seconds if isinstance(value, Ago) else value


def field_matches(field: Field, comparison: Comparison, values: Sequence[float | str]) -> bool:
    operator = comparison.operator
    if operator == "IS NULL":
        return field == (None, None)
    if operator == "IN":
        return any(
            side(field, value) is not None and side(field, value) == value for value in values
        )
    target: Any = side(field, values[0])
    if target is None:
        return False
    if operator == "BETWEEN":
        return bool(values[0] <= target <= values[1])
    if operator == "LIKE":
        return like(str(values[0])).fullmatch(target) is not None
    if operator == "ILIKE":
        return like(str(values[0]).casefold()).fullmatch(target.casefold()) is not None
    value: Any = values[0]
    return bool(
        {
            "=": target == value,
            "<": target < value,
            "<=": target <= value,
            ">": target > value,
            ">=": target >= value,
        }[operator]
    )


def evaluate(expression: Expression | None, run: Run, now: float) -> bool:
    """Whether ``run`` matches: each condition true or false (never unknown), so that NOT
    turns it; a run without the key matches no comparison but IS NULL, and != and the NOT
    forms only where there is a value of the literal's kind to compare."""
    if expression is None:
        return True
    if isinstance(expression, And):
        return all(evaluate(item, run, now) for item in expression.operands)
    if isinstance(expression, Or):
        return any(evaluate(item, run, now) for item in expression.operands)
    if isinstance(expression, Not):
        return not evaluate(expression.operand, run, now)
    values = [literal(value, now) for value in expression.values]
    candidates = fields(run, expression.key)
    matched = any(field_matches(field, expression, values) for field in candidates)
    if not expression.negated:
        return matched
    if expression.operator == "IS NULL":
        return not matched
    kinds = values or [""]
    comparable = any(side(field, value) is not None for field in candidates for value in kinds)
    return comparable and not matched


def ordered(runs: list[Run], order: Sequence[OrderKey], creation: dict[str, int]) -> list[Run]:
    """Sorted as the search sorts: per key, runs without it last, then numbers, then text,
    each in the key's direction (a missing part smallest, as in SQL); ties newest first."""

    def nullable(value: Any) -> tuple[int, Any]:
        return (0, 0) if value is None else (1, value)

    result = sorted(
        runs,
        key=lambda run: (
            run.start_time.timestamp() if run.start_time else -math.inf,
            creation[run.id],
        ),
        reverse=True,
    )
    for order_key in reversed(order):
        descending = order_key.descending

        def first(run: Run, key: Key = order_key.key) -> Field:
            return fields(run, key)[0]

        # Stable sorts from the least to the most significant part.
        result.sort(key=lambda run: nullable(first(run)[0]), reverse=descending)
        result.sort(key=lambda run: nullable(first(run)[1]), reverse=descending)
        result.sort(key=lambda run: first(run)[1] is None)
        result.sort(key=lambda run: first(run) == (None, None))
    return result


# ---------------------------------------------------------------- helpers


@pytest.fixture
def sdk(tmp_path: Path) -> Iterator[MLTrackingSDK]:
    instance = MLTrackingSDK(db_path=tmp_path / "tracking.db", **CONTEXT)
    try:
        yield instance
    finally:
        close_quietly(instance)


def write_run(
    sdk: MLTrackingSDK,
    name: str,
    *,
    collection: str | None = None,
    parameters: dict[str, Any] | None = None,
    tags: dict[str, Any] | None = None,
    labels: dict[str, Any] | None = None,
    metrics: dict[str, float] | None = None,
    status: str = "FINISHED",
) -> str:
    """One run written with the SDK; ended FINISHED, FAILED (by an exception), or left
    RUNNING (active, persisted)."""
    run = sdk.start_run(run_collection_name=collection, run_name=name)
    if parameters:
        sdk.log_parameters(parameters)
    if tags:
        sdk.set_tags(tags)
    if labels:
        sdk.set_labels(labels)
    for metric, value in (metrics or {}).items():
        sdk.log_metric(metric, value)
    if status == "RUNNING":
        sdk.persist_run()
    elif status == "FAILED":
        with contextlib.suppress(LookupError), run:
            raise LookupError("failed on purpose")
    else:
        sdk.end_run()
    return run.id


def names(
    sdk: MLTrackingSDK,
    expression: str | Expression | None,
    order_by: Sequence[str] = (),
    **options: Any,
) -> list[str]:
    """The names of the matching runs, in order."""
    _, records = search_run_records(sdk.store, expression, order_by, **options)
    return [record.row["name"] for record in records]


def error_of(text: str) -> str:
    with pytest.raises(InvalidFilterError) as raised:
        parse_filter(text)
    return str(raised.value)


@pytest.fixture
def zoo(sdk: MLTrackingSDK) -> MLTrackingSDK:
    """Four runs with parameters numeric and not, tags, labels and metrics."""
    write_run(
        sdk,
        "a",
        parameters={"lr": 0.01, "optimizer": "adam", "layers": 2},
        tags={"stage": "dev"},
        labels={"kind": "baseline", "score": 0.5, "flag": True},
        metrics={"accuracy": 0.95, "val loss": 0.2},
    )
    write_run(
        sdk,
        "b",
        collection="c1",
        parameters={"lr": 0.001, "optimizer": "sgd", "layers": "10"},
        tags={"stage": "prod"},
        labels={"kind": "tuned", "score": 3, "flag": False},
        metrics={"accuracy": 0.80},
    )
    write_run(
        sdk,
        "c",
        parameters={"lr": "n/a", "optimizer": "Adam"},
        labels={"score": "high", "nested": {"a": 1}},
        metrics={"accuracy": 0.91, "val loss": 0.4},
    )
    write_run(sdk, "d", collection="c1", parameters={"lr": "1e-05"}, status="FAILED")
    return sdk


# ---------------------------------------------------------------- operators


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("metrics.accuracy = 0.95", {"a"}),
        ("metrics.accuracy != 0.95", {"b", "c"}),  # d has no accuracy: no value to compare
        ("metrics.accuracy <> 0.95", {"b", "c"}),
        ("metrics.accuracy < 0.91", {"b"}),
        ("metrics.accuracy <= 0.91", {"b", "c"}),
        ("metrics.accuracy > 0.91", {"a"}),
        ("metrics.accuracy >= 0.91", {"a", "c"}),
        ("params.optimizer LIKE 'a%'", {"a"}),  # LIKE is case-sensitive
        ("params.optimizer NOT LIKE 'a%'", {"b", "c"}),
        ("params.optimizer ILIKE 'A%'", {"a", "c"}),
        ("params.optimizer NOT ILIKE 'a_am'", {"b"}),
        ("params.optimizer LIKE '_d%'", {"a", "c"}),
        ("params.optimizer IN ('adam', 'sgd')", {"a", "b"}),
        ("params.optimizer NOT IN ('adam', 'sgd')", {"c"}),
        ("metrics.accuracy BETWEEN 0.9 AND 0.95", {"a", "c"}),
        ("metrics.accuracy NOT BETWEEN 0.9 AND 0.95", {"b"}),
        ("tags.stage IS NULL", {"c", "d"}),
        ("tags.stage IS NOT NULL", {"a", "b"}),
        ("params.optimizer BETWEEN 'Adam' AND 'adam'", {"a", "c"}),  # text order: A < a
        ("name > 'b'", {"c", "d"}),
    ],
)
def test_each_operator(zoo: MLTrackingSDK, expression: str, expected: set[str]) -> None:
    assert set(names(zoo, expression)) == expected


def test_keywords_are_case_insensitive_and_mlflow_spellings_work(zoo: MLTrackingSDK) -> None:
    assert names(zoo, "metrics.accuracy > 0.9 and params.optimizer = 'adam'") == ["a"]
    assert names(zoo, "Metric.accuracy > 0.9 AnD Param.optimizer = 'adam'") == ["a"]
    assert names(zoo, "attributes.run_name = 'b' or tags.mlflow.runName = 'c'") == ["c", "b"]
    assert names(zoo, "attribute.status = 'FAILED'") == ["d"]
    assert names(zoo, "tag.stage = 'prod' and run_name like 'b'") == ["b"]
    assert names(zoo, "tags.runName = 'a'") == ["a"]  # get_runs shows the name as this tag
    assert len(names(zoo, "attributes.run_id LIKE '%'")) == 4


# ---------------------------------------------------------------- precedence


def test_not_binds_tighter_than_and_and_and_tighter_than_or(zoo: MLTrackingSDK) -> None:
    a, b, c = (Comparison(Key(ATTRIBUTE, "name"), "=", (value,)) for value in ("a", "b", "c"))
    assert parse_filter("name = 'a' OR name = 'b' AND name = 'c'") == Or((a, And((b, c))))
    assert parse_filter("(name = 'a' OR name = 'b') AND name = 'c'") == And((Or((a, b)), c))
    assert parse_filter("NOT name = 'a' AND name = 'b'") == And((Not(a), b))
    assert parse_filter("NOT (name = 'a' AND name = 'b')") == Not(And((a, b)))
    assert parse_filter("name = 'a' AND NOT NOT name = 'b'") == And((a, Not(Not(b))))
    assert parse_filter("name BETWEEN 'a' AND 'b' AND name = 'c'") == And(
        (Comparison(Key(ATTRIBUTE, "name"), "BETWEEN", ("a", "b")), c)
    )
    # And the SQL agrees.
    assert names(zoo, "name = 'a' OR name = 'b' AND name = 'c'") == ["a"]
    assert names(zoo, "(name = 'a' OR name = 'b') AND name = 'c'") == []
    assert names(zoo, "NOT name = 'a' AND name = 'b'") == ["b"]
    assert set(names(zoo, "NOT (name = 'a' AND metrics.accuracy > 0.9)")) == {"b", "c", "d"}
    # NOT of a condition on a key a run lacks holds for that run.
    assert set(names(zoo, "NOT tags.stage = 'dev'")) == {"b", "c", "d"}


# ---------------------------------------------------------------- quoting


def test_quoted_names_and_texts(sdk: MLTrackingSDK) -> None:
    write_run(
        sdk,
        "q",
        parameters={"a.b": "x", "with space": "it's", "back`quote": 'say "hi"'},
        metrics={"val loss": 0.25},
    )
    assert names(sdk, "metrics.`val loss` < 0.3") == ["q"]
    assert names(sdk, 'metrics."val loss" < 0.3') == ["q"]
    assert names(sdk, "params.`a.b` = 'x'") == ["q"]
    assert names(sdk, 'params.a.b = "x"') == ["q"]  # a bare name may hold dots
    assert names(sdk, "params.`with space` = 'it''s'") == ["q"]
    assert names(sdk, 'params.`with space` = "it\'s"') == ["q"]
    assert names(sdk, "params.`back``quote` = 'say \"hi\"'") == ["q"]
    assert names(sdk, 'params.`back``quote` = "say ""hi"""') == ["q"]
    assert key_text(Key(PARAM, "back`quote")) == "params.`back``quote`"
    assert parse_filter(f"{key_text(Key(METRIC, 'val loss'))} > 1") == Comparison(
        Key(METRIC, "val loss"), ">", (1.0,)
    )


# ---------------------------------------------------------------- numbers and text


def test_parameters_that_hold_numbers_compare_as_numbers(zoo: MLTrackingSDK) -> None:
    # lr: '0.01', '0.001', 'n/a', '1e-05' -- as text '0.01' < '0.001' would be false.
    assert names(zoo, "params.lr < 0.01") == ["d", "b"]
    assert names(zoo, "params.lr >= 0.001") == ["b", "a"]
    # A value that is not a number matches no numeric comparison, negated or not.
    assert "c" not in names(zoo, "params.lr != 0.01")
    assert names(zoo, "params.lr != 0.01") == ["d", "b"]
    # Text literals compare as text: 'n/a' > '1e-05' > '0.01'.
    assert names(zoo, "params.lr > '0.01'") == ["d", "c"]
    assert names(zoo, "params.lr = 'n/a'") == ["c"]
    # '10' and 2 are numbers: 10 > 2 (as text '10' < '2').
    assert names(zoo, "params.layers > 2") == ["b"]
    assert names(zoo, "params.layers IN (2, 'x')") == ["a"]
    assert names(zoo, "params.layers NOT IN (2, 'x')") == ["b"]


@pytest.mark.parametrize(
    ("text", "number"),
    [("0.01", 0.01), ("-3", -3.0), ("1e-05", 1e-05), ("1E+20", 1e20), ("-0", -0.0)]
    + [(text, None) for text in ("01", ".5", "5.", "+1", " 1", "1 ", "0x10", "12abc", "nan", "")],
)
def test_what_counts_as_a_number(sdk: MLTrackingSDK, text: str, number: float | None) -> None:
    write_run(sdk, "n", parameters={"x": text})
    assert number_in(text) == number
    assert names(sdk, f"params.x = {number}" if number is not None else "params.x < 0") == (
        ["n"] if number is not None else []
    )
    assert names(sdk, "params.x = '" + text + "'") == ["n"]


def test_labels_compare_their_json_scalar(zoo: MLTrackingSDK) -> None:
    assert names(zoo, "labels.kind = 'baseline'") == ["a"]
    assert names(zoo, "labels.score > 1") == ["b"]  # 0.5 and 3 are numbers; 'high' is text
    assert names(zoo, "labels.score = 'high'") == ["c"]
    assert names(zoo, "labels.score != 'high'") == []  # numbers are not text to compare
    assert names(zoo, "labels.flag = 1") == ["a"]  # true is 1, false 0
    assert names(zoo, "labels.flag = 0") == ["b"]
    # An object or a list is no scalar: like a label the run lacks.
    assert names(zoo, "labels.nested IS NOT NULL") == []
    assert names(zoo, "labels.nested IS NULL AND labels.score IS NOT NULL") == ["c", "b", "a"]
    assert names(zoo, "labels.kind ILIKE 'TUN%'") == ["b"]


# ---------------------------------------------------------------- times


@pytest.fixture
def timed(sdk: MLTrackingSDK) -> MLTrackingSDK:
    """Three runs whose start and end times are set exactly (by SQL, for the test)."""
    times = {
        "early": ("2026-10-31T23:00:00+00:00", 90.0),
        "noon": ("2026-11-01T12:00:00+00:00", 7200.0),
        "late": ("2026-11-01T22:00:00+00:00", None),
    }
    for name in times:
        write_run(sdk, name)
    connection = sqlite3.connect(sdk.store.path)
    with connection:
        for name, (start, duration) in times.items():
            seconds = datetime.fromisoformat(start).timestamp()
            end = None if duration is None else seconds + duration
            connection.execute(
                "UPDATE runs SET start_time = ?, end_time = ? WHERE name = ?", (seconds, end, name)
            )
    connection.close()
    return sdk


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("start_time >= '2026-11-01'", {"noon", "late"}),  # a date is its midnight UTC
        ("start_time < '2026-11-01T12:00'", {"early"}),
        ("start_time <= '2026-11-01T12:00Z'", {"early", "noon"}),
        ("start_time > '2026-11-01T23:30+02:00'", {"late"}),  # 21:30 UTC
        ("start_time BETWEEN '2026-11-01' AND '2026-11-01T23:59:59'", {"noon", "late"}),
        (
            f"start_time > {datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp():.0f}",
            {"noon", "late"},
        ),
        # A number this large is MLflow's milliseconds.
        (
            f"start_time > {datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp() * 1000:.0f}",
            {"noon", "late"},
        ),
        ("end_time IS NULL", {"late"}),
        ("end_time < '2026-11-01T01:00'", {"early"}),
        ("duration < '5m'", {"early"}),
        ("duration > 90", {"noon"}),
        ("duration >= '90s'", {"early", "noon"}),
        ("duration = '2h'", {"noon"}),
        ("duration BETWEEN '1m' AND '1.5m'", {"early"}),
        ("duration IS NULL", {"late"}),
    ],
)
def test_absolute_times_and_durations(
    timed: MLTrackingSDK, expression: str, expected: set[str]
) -> None:
    assert set(names(timed, expression)) == expected


def test_ages_count_back_from_now(timed: MLTrackingSDK) -> None:
    now = datetime(2026, 11, 2, tzinfo=timezone.utc).timestamp()  # midnight after "late"
    assert set(names(timed, "start_time > '-3h'", now=now)) == {"late"}
    assert set(names(timed, "start_time >= '-0.5d'", now=now)) == {"noon", "late"}
    assert set(names(timed, "start_time > '-0.5d'", now=now)) == {"late"}
    assert set(names(timed, "start_time < '-1 d'", now=now)) == {"early"}
    assert set(names(timed, "start_time > '-1w'", now=now)) == {"early", "noon", "late"}
    assert set(names(timed, "start_time > '-90m' or start_time < '-86400s'", now=now)) == {"early"}
    assert parse_filter("start_time > '-2d'") == Comparison(
        Key(ATTRIBUTE, "start_time"), ">", (Ago(172800.0),)
    )


def test_default_order_is_newest_first_and_sorts_by_time(timed: MLTrackingSDK) -> None:
    assert names(timed, None) == ["late", "noon", "early"]
    assert names(timed, None, ["start_time"]) == ["early", "noon", "late"]
    assert names(timed, None, ["duration DESC"]) == ["noon", "early", "late"]
    assert names(timed, None, ["end_time"]) == ["early", "noon", "late"]


# ---------------------------------------------------------------- status and collection

DOOMED = """
    import sys, time
    from sapdi_local import MLTrackingSDK
    sdk = MLTrackingSDK(db_path=sys.argv[1], scenario="s", scenario_version="v1",
                        pipeline="p.py", execution="other")
    sdk.start_run(run_name="killed")
    print("started", flush=True)
    time.sleep(120)
"""


@pytest.mark.timeout(120)  # a child process that hangs would otherwise block a read
def test_status_tells_live_running_runs_from_killed_ones(sdk: MLTrackingSDK) -> None:
    write_run(sdk, "done")
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(DOOMED), str(sdk.store.path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "started"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    write_run(sdk, "alive", status="RUNNING")  # this process, which lives on
    shown = {run.name: run.status for run in sdk.get_runs(scenario="s")}
    assert shown == {"done": "FINISHED", "killed": "KILLED", "alive": "RUNNING"}
    assert names(sdk, "status = 'KILLED'") == ["killed"]
    assert names(sdk, "status = 'RUNNING'") == ["alive"]
    assert names(sdk, "status != 'RUNNING'") == ["killed", "done"]
    assert names(sdk, "status IN ('RUNNING', 'FINISHED')") == ["alive", "done"]
    assert names(sdk, "status LIKE 'K%'") == ["killed"]
    assert names(sdk, None, ["status"]) == ["done", "killed", "alive"]
    # With the selectors of get_runs besides.
    only_other = RunFilter(executions=("other",))
    assert names(sdk, "status = 'KILLED'", base_selection=only_other) == ["killed"]
    assert names(sdk, "status = 'RUNNING'", base_selection=only_other) == []


def test_collection_matches_its_name_or_its_display_name(zoo: MLTrackingSDK) -> None:
    # a and c are in the default collection of p.py, shown as "p.py (Default)".
    assert names(zoo, "collection = 'p.py'") == ["c", "a"]
    assert names(zoo, "collection = 'p.py (Default)'") == ["c", "a"]
    assert names(zoo, "collection != 'p.py (Default)'") == ["d", "b"]
    assert names(zoo, "collection LIKE '%(Default)'") == ["c", "a"]
    assert names(zoo, "collection IN ('c1')") == ["d", "b"]
    assert names(zoo, "collection NOT IN ('p.py')") == ["d", "b"]


def test_ilike_folds_case_across_unicode(sdk: MLTrackingSDK) -> None:
    write_run(sdk, "Über-run", parameters={"city": "STRASSE"})
    write_run(sdk, "ΣΊΣΥΦΟΣ", parameters={"city": "straße"})
    assert names(sdk, "name ILIKE 'über%'") == ["Über-run"]
    assert names(sdk, "name LIKE 'über%'") == []  # LIKE is case-sensitive
    assert names(sdk, "name ILIKE 'σίσυφος'") == ["ΣΊΣΥΦΟΣ"]
    # Case folding makes ß and SS alike, as Unicode says.
    assert names(sdk, "params.city ILIKE 'strasse'") == ["ΣΊΣΥΦΟΣ", "Über-run"]
    assert names(sdk, "params.city NOT ILIKE 'STRASSE'") == []


# ---------------------------------------------------------------- order and pages


def test_order_by_puts_runs_without_the_key_last_and_numbers_before_text(
    zoo: MLTrackingSDK,
) -> None:
    # lr: a 0.01, b 0.001, c 'n/a', d 1e-05
    assert names(zoo, None, ["params.lr"]) == ["d", "b", "a", "c"]
    assert names(zoo, None, ["params.lr DESC"]) == ["a", "b", "d", "c"]
    assert names(zoo, None, ["metrics.accuracy DESC"]) == ["a", "c", "b", "d"]
    assert names(zoo, None, ["metrics.accuracy ASC"]) == ["b", "c", "a", "d"]
    assert names(zoo, None, ["tags.stage DESC"]) == ["b", "a", "d", "c"]  # ties: newest first
    assert names(zoo, None, ["labels.score"]) == ["a", "b", "c", "d"]  # 0.5, 3, 'high', none
    assert names(zoo, None, ["collection", "name DESC"]) == ["d", "b", "c", "a"]
    assert names(zoo, None, ["params.optimizer", "params.lr"]) == ["c", "a", "b", "d"]
    assert names(zoo, None, "metrics.`val loss` DESC, name") == ["c", "a", "b", "d"]


def test_max_results_and_offset_page_in_sql(zoo: MLTrackingSDK) -> None:
    order = ["name"]
    assert search_run_records(zoo.store, None, order, 2)[0] == 4
    assert names(zoo, None, order, limit=2) == ["a", "b"]
    assert names(zoo, None, order, limit=2, offset=2) == ["c", "d"]
    assert names(zoo, None, order, limit=3, offset=3) == ["d"]
    total, records = search_run_records(zoo.store, "params.lr < 1", order, 1, 10)
    assert (total, records) == (3, [])  # a page past the end still counts the matches
    assert search_run_records(zoo.store, "name = 'zz'", order, 5, 0) == (0, [])
    # Without a limit: every run from the offset on, and still the count of all.
    total, records = search_run_records(zoo.store, None, order, None, 1)
    assert (total, [record.row["name"] for record in records]) == (4, ["b", "c", "d"])
    assert search_run_records(zoo.store, "params.lr < 1", order, None, 7) == (3, [])
    for limit, offset in ((0, 0), (100_001, 0), (True, 0), (1.5, 0), (-1, 0), (1, -1), (1, "2")):
        with pytest.raises(InvalidFilterError, match="max_results|offset"):
            search_run_records(zoo.store, None, order, limit, offset)  # type: ignore[arg-type]


def test_records_carry_their_details_as_select_runs_gives_them(zoo: MLTrackingSDK) -> None:
    _, found = search_run_records(zoo.store, "params.lr < 1", ["name"])
    everything = {record.row["id"]: record for record in zoo.store.select_runs(RunFilter())}
    assert [record.row["name"] for record in found] == ["a", "b", "d"]
    for record in found:
        assert record == everything[record.row["id"]]


def test_a_read_only_store_searches_too(zoo: MLTrackingSDK) -> None:
    path = zoo.store.path
    zoo.close()
    store = ReadOnlyStore(path)
    total, records = search_run_records(store, "metrics.accuracy > 0.9", ["metrics.accuracy"])
    assert total == 2 and [record.row["name"] for record in records] == ["c", "a"]
    store.close()


def test_base_selection_is_anded_with_the_expression(zoo: MLTrackingSDK) -> None:
    in_c1 = RunFilter(collections=("c1",))
    assert names(zoo, "params.lr < 1", base_selection=in_c1) == ["d", "b"]
    assert names(zoo, "name = 'b' OR name = 'a'", ["params.lr"], base_selection=in_c1) == ["b"]
    assert names(zoo, None, base_selection=RunFilter(names=("c",))) == ["c"]
    assert names(zoo, "tags.stage = 'dev'", base_selection=RunFilter(tags=(("stage", "dev"),))) == [
        "a"
    ]


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("text", "position", "expected"),
    [
        ("metrics.acc 0.9", 13, "expected a comparison operator"),
        ("metrics.acc >", 14, "expected a value (a number or quoted text) after metrics.acc >"),
        ("params.x = adam", 12, "text is quoted: 'adam'"),
        ("accuracy > 1", 1, "expected a key"),
        ("foo.bar = 1", 1, "found the prefix 'foo.'"),
        ("(name = 'a'", 12, "expected AND, OR or a ')' to close the '(' of position 1 after 'a'"),
        ("name = 'a')", 11, "closes no '('"),
        ("name = 'a' name = 'b'", 12, "expected AND, OR or the end"),
        ("name = 'a", 8, "expected a closing '"),
        ("params.`a = 1", 8, "expected a closing `"),
        ("metrics.acc > 'x'", 15, "expected a number for metrics.acc"),
        ("metrics.acc LIKE 'x'", 13, "LIKE compares text"),
        ("name LIKE 5", 11, "expected a quoted pattern"),
        ("start_time > '2d'", 14, "an age has a minus: '-2d'"),
        ("start_time > 'yesterday'", 14, "expected a time for start_time"),
        ("duration < 'soon'", 12, "expected a duration for duration"),
        ("status = 'done'", 10, "expected a status"),
        ("status = 1", 10, "expected a quoted status"),
        ("params.x > 5m", 12, "expected a number"),
        ("params.x > 1e999", 12, "expected a finite number"),
        ("params.x ! 3", 10, "expected '=' after '!'"),
        ("params.x IN 1", 13, "expected '(' and a list of values"),
        ("params.x IN (1 2)", 16, "expected ',' or ')'"),
        ("params.x IN ()", 14, "expected a value"),
        ("params.x BETWEEN 1 OR 2", 20, "expected AND"),
        ("params.x BETWEEN 1 AND 'b'", 24, "two values of one kind"),
        ("params.x IS 5", 13, "expected NULL"),
        ("params.x NOT = 1", 14, "expected LIKE, ILIKE, IN or BETWEEN"),
        ("NOT", 4, "expected a key"),
        ("name = 'a' AND", 15, "expected a key"),
        ("metrics. > 1", 9, "expected a name after 'metrics.'"),
        ("metrics.`` > 1", 9, "expected a name"),
        ("`val loss` > 1", 1, "a back-quoted name follows a prefix"),
    ],
)
def test_a_malformed_expression_names_the_position_and_what_was_expected(
    text: str, position: int, expected: str
) -> None:
    message = error_of(text)
    first, shown, caret = message.splitlines()
    assert expected in first
    assert f"at position {position}" in first
    assert shown == "  " + text
    assert caret == " " * (position + 1) + "^"


def test_the_error_is_a_tracking_error_and_a_value_error() -> None:
    with pytest.raises(TrackingError):
        parse_filter("metrics.acc")
    with pytest.raises(ValueError):
        parse_filter("metrics.acc")
    with pytest.raises(InvalidFilterError, match="is text"):
        parse_filter(5)  # type: ignore[arg-type]


def test_blank_filters_and_orders_mean_none() -> None:
    assert parse_filter(None) is None
    assert parse_filter("") is None
    assert parse_filter("  \n ") is None
    assert parse_order_by(None) == ()
    assert parse_order_by([]) == ()


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (["metrics.acc DESC DESC"], "in order_by: expected ASC, DESC, ',' or the end"),
        (["name", "metrics.acc UP"], "in order_by item 2: expected ASC, DESC"),
        (["accuracy"], "in order_by: expected a key"),
        ([5], "expected text such as 'metrics.accuracy DESC'"),
        ([", ".join(["name"] * 21)], "at most 20 keys"),
    ],
)
def test_a_malformed_order_says_which_item(items: list[Any], expected: str) -> None:
    with pytest.raises(InvalidFilterError, match=re.escape(expected)):
        parse_order_by(items)


def test_order_by_takes_asc_desc_and_mlflow_keys() -> None:
    assert parse_order_by(["metrics.acc DESC", "attributes.start_time", "params.lr asc"]) == (
        OrderKey(Key(METRIC, "acc"), True),
        OrderKey(Key(ATTRIBUTE, "start_time"), False),
        OrderKey(Key(PARAM, "lr"), False),
    )


def test_each_bound_has_a_clear_error(zoo: MLTrackingSDK) -> None:
    long = "name = '" + "x" * MAX_EXPRESSION_LENGTH + "'"
    assert f"at most {MAX_EXPRESSION_LENGTH:,} characters" in error_of(long)
    assert f"position {MAX_EXPRESSION_LENGTH + 1}" in error_of(long)

    deep = "(" * (MAX_DEPTH + 1) + "name = 'a'" + ")" * (MAX_DEPTH + 1)
    message = error_of(deep)
    assert f"nest at most {MAX_DEPTH} deep" in message and f"position {MAX_DEPTH + 1}" in message
    assert f"nest at most {MAX_DEPTH}" in error_of("NOT " * (MAX_DEPTH + 1) + "name = 'a'")

    many = "name IN (" + ", ".join(["'a'"] * (MAX_IN_VALUES + 1)) + ")"
    assert f"at most {MAX_IN_VALUES:,} values" in error_of(many)

    conditions = " OR ".join(["name = 'a'"] * (MAX_CONDITIONS + 1))
    message = error_of(conditions)
    assert f"at most {MAX_CONDITIONS} conditions" in message
    assert f"position {MAX_CONDITIONS * len('name = ' + repr('a') + ' OR ') + 1}" in message

    # Right at the bounds, the SQL runs.
    nested = (
        "(" * MAX_DEPTH
        + "name IN ("
        + ", ".join(["'a'"] * MAX_IN_VALUES)
        + "))"
        + (")" * (MAX_DEPTH - 1))
    )
    assert names(zoo, nested) == ["a"]
    widest = " OR ".join(f"params.`p{index}` = {index}" for index in range(MAX_CONDITIONS - 1))
    assert names(zoo, widest + " OR name = 'b'") == ["b"]


# ---------------------------------------------------------------- injection


def table_counts(path: Path) -> dict[str, int]:
    connection = sqlite3.connect(path)
    try:
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        return {
            table: connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
            for table in tables
        }
    finally:
        connection.close()


@pytest.mark.parametrize(
    "expression",
    [
        "name = '''; DROP TABLE runs; --'",
        'name = "x""; DROP TABLE runs; --"',
        "params.`'; DROP TABLE runs; --` = 1",
        'params."x\'); DELETE FROM runs; --" = 1',
        "params.`a`` OR 1=1 --` LIKE '%'",
        "name LIKE '%''; DROP TABLE runs; --%'",
        "name ILIKE '[%]*?'",
        "labels.`$.a') OR 1=1 --` = 'x'",
        "tags.`k0.value` IS NULL AND name IN ('a'') OR (''1''=''1')",
    ],
)
def test_injection_attempts_leave_the_database_intact(zoo: MLTrackingSDK, expression: str) -> None:
    before = table_counts(zoo.store.path)
    assert names(zoo, expression, ["params.`; DROP TABLE runs` DESC"]) in (
        [],
        ["a", "b", "c", "d"],
        ["d", "c", "b", "a"],
    )
    assert table_counts(zoo.store.path) == before
    assert len(zoo.get_runs(scenario="s")) == 4


def test_hostile_names_are_found_by_quoting(sdk: MLTrackingSDK) -> None:
    hostile = "'; DROP TABLE runs; --"
    write_run(sdk, hostile, parameters={hostile: hostile, "a`b": "[*]?"})
    quoted = hostile.replace("'", "''")
    assert names(sdk, f"params.`{hostile}` = '{quoted}'") == [hostile]
    assert names(sdk, f"name = '{quoted}'") == [hostile]
    assert names(sdk, "params.`a``b` LIKE '[*]_'") == [hostile]  # GLOB's wildcards are text
    assert names(sdk, "params.`a``b` LIKE '%*%'") == [hostile]
    assert names(sdk, "params.`a``b` LIKE 'x%'") == []


def test_the_language_module_repeats_the_statuses_of_the_model() -> None:
    assert LANGUAGE_STATUSES == STATUSES


def test_importing_the_tracking_api_does_not_import_the_search() -> None:
    code = (
        "import sys, sapdi_local.tracking; "
        "print(any('search' in name for name in sys.modules), 'sqlite3' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]


# ---------------------------------------------------------------- the SQL against the specification

PARAM_NAMES = ("lr", "opt", "a.b")
TAG_NAMES = ("stage", "with space")
METRIC_NAMES = ("acc", "val loss")
LABEL_NAMES = ("kind", "score")
NICE_NUMBERS = st.one_of(
    st.integers(-1000, 1000).map(float),
    st.integers(-1000, 1000).map(lambda n: n / 100),
    st.sampled_from([0.0, -0.0, 1e-05, 2.5e20, -7.25]),
)
ODD_TEXTS = st.sampled_from(
    [
        "01",
        "1e3",
        " 1",
        ".5",
        "-0",
        "adam",
        "Adam",
        "ADAM",
        "über",
        "Über",
        "STRASSE",
        "straße",
        "",
        "n/a",
        "%",
        "a_b",
        "[x]*?",
    ]
)
TEXTS = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=0, max_size=6)


def text_value() -> st.SearchStrategy[str]:
    """What a parameter or tag is given: a number (stored as its str), odd text, any text."""
    return st.one_of(
        NICE_NUMBERS.map(str),
        st.integers(-50, 50).map(str),
        ODD_TEXTS,
        TEXTS,
    )


RUN = st.fixed_dictionaries(
    {
        "name": st.one_of(ODD_TEXTS.filter(bool), TEXTS.filter(bool)),
        "collection": st.sampled_from([None, "c1", "p.py", "Über"]),
        "parameters": st.dictionaries(st.sampled_from(PARAM_NAMES), text_value(), max_size=3),
        "tags": st.dictionaries(st.sampled_from(TAG_NAMES), text_value(), max_size=2),
        "metrics": st.dictionaries(st.sampled_from(METRIC_NAMES), NICE_NUMBERS, max_size=2),
        "labels": st.dictionaries(
            st.sampled_from(LABEL_NAMES),
            st.one_of(
                NICE_NUMBERS,
                st.integers(-5, 5),
                st.booleans(),
                st.none(),
                ODD_TEXTS,
                st.lists(st.integers(0, 3), max_size=2),
            ),
            max_size=2,
        ),
        "status": st.sampled_from(["FINISHED", "FINISHED", "FAILED"]),
    }
)


def quoted(text: str, quote: str) -> str:
    return quote + text.replace(quote, quote * 2) + quote


class Renderer:
    """Draws random expressions, as a tree (for the evaluator) and as text (for the parser)
    in random spellings: keyword case, prefixes, quotes, spaces, parentheses where needed."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any], runs: list[Run], now: float):
        self.draw = draw
        self.runs = runs
        self.now = now

    def word(self, word: str) -> str:
        return str(self.draw(st.sampled_from([word, word.lower(), word.capitalize()])))

    def space(self) -> str:
        return str(self.draw(st.sampled_from([" ", "  ", "\n", "\t "])))

    def key(self) -> tuple[Key, str]:
        kind = self.draw(st.sampled_from([METRIC, PARAM, TAG, LABEL, ATTRIBUTE]))
        if kind == ATTRIBUTE:
            name = self.draw(
                st.sampled_from(
                    [
                        "name",
                        "status",
                        "collection",
                        "scenario",
                        "start_time",
                        "end_time",
                        "duration",
                        "id",
                    ]
                )
            )
            spellings = {"name": ["name", "run_name", "attributes.run_name", "tags.mlflow.runName"]}
            text = self.draw(st.sampled_from(spellings.get(name, [name, f"attributes.{name}"])))
            return Key(ATTRIBUTE, name), text
        pool = {METRIC: METRIC_NAMES, PARAM: PARAM_NAMES, TAG: TAG_NAMES, LABEL: LABEL_NAMES}[kind]
        name = self.draw(st.sampled_from(pool))
        prefix = self.draw(
            st.sampled_from(
                {
                    METRIC: ["metrics", "metric", "METRICS"],
                    PARAM: ["params", "param"],
                    TAG: ["tags", "tag"],
                    LABEL: ["labels", "label"],
                }[kind]
            )
        )
        written = self.draw(st.sampled_from(["`", '"', ""] if " " not in name else ["`", '"']))
        return Key(kind, name), f"{prefix}.{quoted(name, written) if written else name}"

    def present(self, key: Key) -> list[Any]:
        """Values the runs have for the key, so that comparisons often hit."""
        values: list[Any] = []
        for run in self.runs:
            for text, number in fields(run, key):
                values.extend(value for value in (text, number) if value is not None)
        return values

    def literal(self, key: Key, text_only: bool = False) -> tuple[float | str | Ago, str]:
        kind = "text" if text_only else self.draw(st.sampled_from(["number", "text"]))
        if key.kind == METRIC:
            kind = "number"
        if key == Key(ATTRIBUTE, "status"):
            value = self.draw(st.sampled_from(["FINISHED", "FAILED", "RUNNING", "KILLED"]))
            return value, quoted(value, "'")
        if key.kind == ATTRIBUTE and key.name in ("start_time", "end_time"):
            return self.time()
        if key.name == "duration" and key.kind == ATTRIBUTE:
            seconds, text = self.draw(
                st.sampled_from(
                    [(0.0, "0"), (3600.0, "'1h'"), (60.0, "'1m'"), (-5.0, "-5"), (86400.0, "'1d'")]
                )
            )
            return seconds, text
        present = [
            value for value in self.present(key) if isinstance(value, str) == (kind == "text")
        ]
        if kind == "number":
            number = float(
                self.draw(
                    st.sampled_from(present)
                    if present and self.draw(st.booleans())
                    else NICE_NUMBERS
                )
            )
            spelled = [repr(number)] + (
                [str(int(number))] if number.is_integer() and abs(number) < 1e15 else []
            )
            return number, self.draw(st.sampled_from(spelled))
        text = self.draw(
            st.sampled_from(present)
            if present and self.draw(st.booleans())
            else st.one_of(ODD_TEXTS, TEXTS)
        )
        return text, quoted(text, self.draw(st.sampled_from(["'", '"'])))

    def time(self) -> tuple[float | Ago, str]:
        starts = sorted(run.start_time.timestamp() for run in self.runs if run.start_time)
        middles = [(a + b) / 2 for a, b in zip(starts, starts[1:], strict=False)] or [starts[0] - 1]
        choice = self.draw(st.sampled_from(["age", "middle", "iso", "number", "far"]))
        if choice == "age":
            seconds, text = self.draw(
                st.sampled_from([(3600.0, "-1h"), (86400.0, "-1d"), (604800.0, "-1w")])
            )
            return Ago(seconds), quoted(text, "'")
        if choice == "far":
            moment, text = self.draw(
                st.sampled_from(
                    [(946684800.0, "'2000-01-01'"), (4102444800.0, "'2100-01-01T00:00Z'")]
                )
            )
            return moment, text
        middle = self.draw(st.sampled_from(middles))
        if choice == "iso":
            return middle, quoted(datetime.fromtimestamp(middle, timezone.utc).isoformat(), "'")
        return middle, repr(middle)

    def comparison(self) -> tuple[Comparison, str]:
        key, written = self.key()
        numeric = key.kind == METRIC or (
            key.kind == ATTRIBUTE and key.name in ("start_time", "end_time", "duration")
        )
        operators = ["=", "<", "<=", ">", ">=", "IN", "BETWEEN", "IS NULL"] + (
            [] if numeric else ["LIKE", "ILIKE"]
        )
        operator = self.draw(st.sampled_from(operators))
        negated = self.draw(st.booleans())
        values: tuple[float | str | Ago, ...]
        if operator == "IS NULL":
            values, text = (), f"IS{' NOT' if negated else ''} NULL"
        elif operator in ("LIKE", "ILIKE"):
            pattern = self.draw(
                st.one_of(
                    st.sampled_from(self.present(key) or ["x"])
                    .map(str)
                    .flatmap(
                        lambda s: st.sampled_from(
                            [s, s[:1] + "%", "%" + s[-1:], "_" * len(s), s.upper()]
                        )
                    ),
                    st.sampled_from(["%", "_%", "%a%", "[%", "*%"]),
                )
            )
            values, text = (
                (pattern,),
                f"{'NOT ' if negated else ''}{operator} {quoted(pattern, chr(39))}",
            )
        elif operator == "IN":
            items = [self.literal(key) for _ in range(self.draw(st.integers(1, 3)))]
            values = tuple(value for value, _ in items)
            text = f"{'NOT ' if negated else ''}IN ({', '.join(spelled for _, spelled in items)})"
        elif operator == "BETWEEN":
            low, low_text = self.literal(key)
            high, high_text = self.literal(key, text_only=isinstance(low, str))
            if isinstance(low, str) != isinstance(high, str):
                high, high_text = low, low_text
            values = (low, high)
            text = f"{'NOT ' if negated else ''}BETWEEN {low_text} {self.word('AND')} {high_text}"
        else:
            value, spelled = self.literal(key)
            shown = (
                self.draw(st.sampled_from(["!=", "<>"]))
                if negated and operator == "="
                else operator
            )
            negated = negated and operator == "="
            values, text = (value,), f"{shown}{self.space()}{spelled}"
        return Comparison(key, operator, values, negated), f"{written}{self.space()}{text}"

    def expression(self, depth: int = 0) -> tuple[Expression, str, int]:
        """A tree, its text, and its precedence (0 OR, 1 AND, 2 NOT, 3 a comparison)."""
        shape = self.draw(
            st.sampled_from(["cmp", "cmp", "not", "and", "or"] if depth < 3 else ["cmp"])
        )
        if shape == "cmp":
            tree, text = self.comparison()
            return tree, text, 3
        if shape == "not":
            inner, text, level = self.expression(depth + 1)
            return Not(inner), f"{self.word('NOT')} {self.wrapped(text, level, 2)}", 2
        left, left_text, left_level = self.expression(depth + 1)
        right, right_text, right_level = self.expression(depth + 1)
        level = 1 if shape == "and" else 0
        node = And((left, right)) if shape == "and" else Or((left, right))
        # Both sides bind at least as tightly as this operator, so each side is parsed as one
        # operand; the right side must bind more tightly (a OR b OR c is fine flattened, but
        # spelling the tree (a OR (b OR c)) without parentheses is the same set anyway).
        joined = (
            f"{self.wrapped(left_text, left_level, level)}{self.space()}{self.word(shape.upper())}"
            f"{self.space()}{self.wrapped(right_text, right_level, level)}"
        )
        return node, joined, level

    def wrapped(self, text: str, level: int, needed: int) -> str:
        """The text in parentheses where it binds less tightly than needed, or by chance."""
        if level < needed or self.draw(st.integers(0, 5)) == 0:
            return f"({self.space()}{text})"
        return text

    def order(self) -> tuple[list[OrderKey], list[str]]:
        keys: list[OrderKey] = []
        texts: list[str] = []
        for _ in range(self.draw(st.integers(0, 2))):
            key, written = self.key()
            if key.kind == ATTRIBUTE and key.name == "duration":
                continue  # durations as get_runs shows them are rounded to microseconds
            direction = self.draw(st.sampled_from(["", " ASC", " DESC", " desc"]))
            keys.append(OrderKey(key, direction.strip().upper() == "DESC"))
            texts.append(written + direction)
        return keys, texts


@PROPERTY_SETTINGS
@given(runs=st.lists(RUN, min_size=1, max_size=6), data=st.data())
def test_the_sql_agrees_with_the_specification(
    tmp_path_factory: pytest.TempPathFactory, runs: list[dict[str, Any]], data: st.DataObject
) -> None:
    path = tmp_path_factory.mktemp("search") / "tracking.db"
    sdk = MLTrackingSDK(db_path=path, **CONTEXT)
    try:
        creation: dict[str, int] = {}
        for index, run in enumerate(runs):
            status = (
                "RUNNING" if index == len(runs) - 1 and data.draw(st.booleans()) else run["status"]
            )
            run_id = write_run(
                sdk,
                run["name"],
                collection=run["collection"],
                parameters=run["parameters"],
                tags=run["tags"],
                labels=run["labels"],
                metrics=run["metrics"],
                status=status,
            )
            creation[run_id] = index
        stored = list(sdk.get_runs(scenario="s"))
        now = time.time()
        renderer = Renderer(data.draw, stored, now)
        for _ in range(4):
            tree, text, _ = renderer.expression()
            order, order_texts = renderer.order()
            limit = data.draw(st.one_of(st.none(), st.integers(1, 4)))
            offset = data.draw(st.integers(0, 2)) if limit is not None else 0
            matching = [run for run in stored if evaluate(tree, run, now)]
            expected = [run.id for run in ordered(matching, order, creation)]
            if limit is not None:
                expected = expected[offset : offset + limit]
            total, records = search_run_records(
                sdk.store, text, order_texts, limit, offset, now=now
            )
            found = [record.row["id"] for record in records]
            assert (total, found) == (len(matching), expected), (text, order_texts, limit, offset)
            # The tree the parser makes means the same as the one drawn.
            parsed = parse_filter(text)
            assert [run.id for run in stored if evaluate(parsed, run, now)] == [
                run.id for run in matching
            ], text
    finally:
        close_quietly(sdk)


def test_records_are_run_records(zoo: MLTrackingSDK) -> None:
    _, records = search_run_records(zoo.store, "name = 'a'", ())
    assert isinstance(records[0], RunRecord)
    assert records[0].parameters["optimizer"] == "adam"
    assert records[0].metrics == {"accuracy": 0.95, "val loss": 0.2}
    assert records[0].labels["flag"] == "true"
