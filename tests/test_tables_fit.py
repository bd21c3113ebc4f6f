"""Tables for people fit an 80-column terminal, and every value in them stays readable.

Runs with long names and collections (wide characters too), many metrics of long names and
awkward values, long parameters, and five runs whose names share a long prefix
(``gradient-boosting-depth-2`` ... ``-6``): every line of ``runs``, ``show``, ``compare``,
``history`` and ``collections`` is at most 80 columns wide as a terminal shows it, no number
is cut, and ``compare`` tells the five runs apart in its headers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sapdi_local import MLTrackingSDK
from sapdi_local.cli import main
from sapdi_local.cli.tables import table
from sapdi_local.display import cut, display_width, tail, wrap

SWEEP = [f"gradient-boosting-depth-{depth}" for depth in range(2, 7)]
COLLECTION = "hyperparameter-sweep-of-gradient-boosted-trees-on-the-full-dataset"
SCENARIO = "customer-churn-prediction-for-the-enterprise-segment"
WIDE_NAME = "梯度提升模型-深度-七-" * 4  # each CJK character takes two columns
WIDE_COLLECTION = "模型比较-深度学习实验-" * 3
METRICS = {
    "accuracy": 0.9123456789,
    "rmse": 0.0575512345678,
    "f1_score_macro": 12345.678901,
    "log_loss_validation": -1.23456789e-05,
    "training_time_seconds": 1234567.89,
    "area_under_the_precision_recall_curve": 0.87654321,
    "mean_absolute_percentage_error": 3.14159e100,
    "calibration_error": 1e-300,
}
STRATEGY = "recursive-elimination-with-cross-validation-" * 4  # a long parameter value
LONG_PARAMETER = "a_rather_long_parameter_name_that_describes_the_regularisation_scheme"


def invoke(*arguments: str) -> Result:
    return CliRunner().invoke(main, list(arguments))


def number(value: float) -> str:
    """How the commands write a metric value."""
    return f"{value:.6g}"


@pytest.fixture
def sweep(db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]) -> dict[str, dict[str, float]]:
    """The five sweep runs and one run named in wide characters; each run's metric values
    by run name."""
    sdk = sdk_factory(db_path=db_path, scenario=SCENARIO, pipeline="train.py")
    logged: dict[str, dict[str, float]] = {}
    for depth, name in enumerate(SWEEP, start=2):
        sdk.start_run(run_collection_name=COLLECTION, run_name=name)
        sdk.log_parameters(
            {"max_depth": str(depth), "strategy": STRATEGY + str(depth), LONG_PARAMETER: "l2"}
        )
        sdk.set_tags({"owner": "data-science-platform-team-with-a-rather-long-name"})
        sdk.set_labels({"accuracy": {"format_string": "percentage", "note": "n" * 120}})
        values = {key: value * (1 + depth / 1000) for key, value in METRICS.items()}
        for step in range(3):
            for key, value in values.items():
                sdk.log_metric(key, value, step=step)
        sdk.end_run()
        logged[name] = values
    sdk.start_run(run_collection_name=WIDE_COLLECTION, run_name=WIDE_NAME)
    sdk.log_metric("accuracy", 0.5)
    sdk.end_run()
    logged[WIDE_NAME] = {"accuracy": 0.5}
    sdk.close()
    return logged


def fits(result: Result) -> str:
    """The output of a command that went well, each line at most 80 columns wide."""
    assert result.exit_code == 0, result.output
    for line in result.output.splitlines():
        assert display_width(line) <= 80, f"{display_width(line)} columns: {line!r}"
    return result.output


def shows_in_full(output: str, values: list[float]) -> None:
    """Every value appears as a whole token in the commands' number format; no number is
    cut short with an ellipsis."""
    tokens = set(output.split())
    for value in values:
        assert number(value) in tokens, f"{number(value)} not shown whole"
    assert not re.search(r"(?<!\S)[-+]?[0-9][0-9.e+-]*…", output), "a number is cut"


# ---------------------------------------------------------------- each command


@pytest.mark.parametrize("count", [1, 3, 5, 8])
def test_runs_fits_and_shows_every_metric_value(
    sweep: dict[str, dict[str, float]], count: int
) -> None:
    chosen = list(METRICS)[:count]
    options = [part for name in chosen for part in ("--metric", name)]
    output = fits(invoke("runs", *options))
    shows_in_full(
        output, [values[name] for values in sweep.values() for name in chosen if name in values]
    )
    listed = invoke("runs", "--json").output
    for run_id in re.findall(r'"id": "([0-9a-f]{32})"', listed):
        assert run_id[:8] in output  # every run is told apart by its id


def test_runs_leaves_out_optional_columns_with_a_note_when_that_makes_it_fit(
    sweep: dict[str, dict[str, float]],
) -> None:
    output = fits(invoke("runs", "--metric", "accuracy", "--metric", "rmse"))
    assert "(not shown, to fit 80 columns: collection" in output
    assert output.splitlines()[0].split()[:2] == ["id", "name"]


def test_show_fits_and_shows_the_run_whole(sweep: dict[str, dict[str, float]]) -> None:
    output = fits(invoke("show", SWEEP[0]))
    shows_in_full(output, list(sweep[SWEEP[0]].values()))
    # Each table of show comes under a title line: read them without it.
    tables = "\n\n".join(part.split("\n", 1)[1] for part in output.split("\n\n")[1:])
    assert STRATEGY + "2" in column_text(tables, "value")
    assert LONG_PARAMETER in column_text(tables, "name")
    assert COLLECTION in "".join(output.split())  # wrapped in the run's context, read back
    wide = fits(invoke("show", WIDE_NAME))
    assert WIDE_NAME in "".join(wide.split()) and WIDE_COLLECTION in "".join(wide.split())


def columns(output: str) -> list[tuple[str, str]]:
    """The header and the text of every column of every block of a table, each read from
    its span above and below its dashes: a header or a cell may take several lines."""
    lines = output.splitlines()
    found = []
    for at, line in enumerate(lines):
        if not line or set(line) - {"-", " "}:
            continue
        start = end = at
        while start > 0 and lines[start - 1]:
            start -= 1
        while end + 1 < len(lines) and lines[end + 1] and not lines[end + 1].startswith("("):
            end += 1
        for dashes in re.finditer("-+", line):
            span = slice(dashes.start(), dashes.end())
            header = "".join(row[span].strip() for row in lines[start:at])
            found.append((header, "".join(row[span].strip() for row in lines[at + 1 : end + 1])))
    return found


def column_headers(output: str) -> list[str]:
    return [header for header, _ in columns(output)]


def column_text(output: str, header: str) -> str:
    """The text of the columns under ``header``, every line of every block, read back."""
    return "".join(text for name, text in columns(output) if name == header)


def test_compare_fits_and_tells_runs_sharing_a_long_prefix_apart(
    sweep: dict[str, dict[str, float]],
) -> None:
    output = fits(invoke("compare", *SWEEP))
    shows_in_full(output, [value for name in SWEEP for value in sweep[name].values()])
    runs = [header for header in column_headers(output) if header not in ("", "field")]
    assert len(runs) == 5
    assert len(set(runs)) == 5, runs  # pairwise different
    for header, depth in zip(runs, range(2, 7), strict=True):
        assert header.endswith(f"depth-{depth}"), header  # the part that tells them apart
    assert STRATEGY + "6" in column_text(output, runs[-1])
    assert LONG_PARAMETER in column_text(output, "field")


def test_compare_of_runs_with_the_same_name_shows_their_ids(
    db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]
) -> None:
    sdk = sdk_factory(db_path=db_path, scenario="s")
    ids = []
    for value in (0.1, 0.2, 0.3):
        ids.append(sdk.start_run(run_name="same-name").id)
        sdk.log_metric("loss", value)
        sdk.end_run()
    output = fits(invoke("compare", *ids))
    runs = [header for header in column_headers(output) if header not in ("", "field")]
    assert len(set(runs)) == 3
    assert all(header.startswith(run_id[:8]) for header, run_id in zip(runs, ids, strict=True))


def test_compare_keeps_names_whole_where_they_fit(
    db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]
) -> None:
    sdk = sdk_factory(db_path=db_path, scenario="s")
    for name in SWEEP:
        sdk.start_run(run_name=name)
        sdk.log_metrics({"accuracy": 0.9, "rmse": 0.0575512345678})
        sdk.end_run()
    assert column_headers(fits(invoke("compare", *SWEEP[:2])))[2:] == SWEEP[:2]
    five = column_headers(fits(invoke("compare", *SWEEP)))[2:]
    assert [header[-7:] for header in five] == [name[-7:] for name in SWEEP]
    assert all(header.startswith("…") for header in five)  # not the prefix they share


@pytest.mark.parametrize("metric", ["rmse", "area_under_the_precision_recall_curve"])
def test_history_fits_and_shows_every_value(
    sweep: dict[str, dict[str, float]], metric: str
) -> None:
    output = fits(invoke("history", SWEEP[3], metric))
    shows_in_full(output, [sweep[SWEEP[3]][metric]])
    assert output.count(number(sweep[SWEEP[3]][metric])) == 3


def test_collections_fits_and_counts_whole(sweep: dict[str, dict[str, float]]) -> None:
    output = fits(invoke("collections"))
    rows = output.splitlines()[2:]
    assert sorted(row.split()[-3] for row in rows) == ["1", "5"]
    assert any(row.startswith("customer-churn") for row in rows)


# ---------------------------------------------------------------- the table itself


def test_a_table_of_numbers_too_wide_for_the_terminal_goes_in_blocks() -> None:
    headers = ["run", *(f"metric_{index}" for index in range(12))]
    rows = [[f"run-{row}", *(f"{-1.23456e-05 * row:.6g}" for _ in range(12))] for row in range(3)]
    text = table(headers, rows, elastic=(0,))
    assert all(display_width(line) <= 80 for line in text.splitlines())
    blocks = text.split("\n\n")
    assert len(blocks) > 1
    assert all(block.startswith("run") for block in blocks)  # the key column repeats
    assert text.count("-2.46912e-05") == 12
    assert sorted(column_headers(text)) == sorted([*headers, *["run"] * (len(blocks) - 1)])


def test_a_table_measures_wide_characters_as_a_terminal_shows_them() -> None:
    text = table(["name", "value"], [["数据" * 40, "0.5"], ["plain", "0.25"]], elastic=(0,))
    lines = text.splitlines()
    assert all(display_width(line) <= 80 for line in lines)
    assert [line.split()[-1] for line in lines[2:]] == ["0.5", "0.25"]
    assert display_width(lines[2]) == display_width(lines[3])  # aligned


def test_cut_tail_and_wrap_measure_display_width() -> None:
    assert display_width("中文 ok") == 7 and display_width("e\u0301") == 1
    assert cut("中文中文", 5) == "中文…" and cut("short", 5) == "short"
    assert tail("gradient-boosting-depth-2", 7) == "depth-2"
    assert wrap("f1_score_macro", 9) == ["f1_score_", "macro"]
    assert "".join(wrap("中文" * 10, 5)) == "中文" * 10
    assert all(display_width(line) <= 5 for line in wrap("中文" * 10, 5))
