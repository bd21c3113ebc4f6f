"""Output that cannot be spoofed: names and values are shown literally.

A run name, collection, parameter or metric can hold terminal control sequences (ESC ...),
newlines, carriage returns and bidirectional overrides. Text for people escapes them all
(``display.printable``), in every command's tables and lines; ``--json`` stays exact.
``compare`` decides "differs" on exact values and gives numbers as JSON numbers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from sapdi_local import MLTrackingSDK
from sapdi_local.cli import main
from sapdi_local.display import printable

# What a terminal acts on instead of showing: C0 but the newline ending each line, DEL, C1,
# and the bidirectional embeddings, overrides and isolates.
ACTED_ON = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
NAME = "evil\x1b[2J\x1b]0;owned\x07\rFAKE\nline\u202eabc\x9b31m"
COLLECTION = "coll\x1b[31mred"
SCENARIO = "scen\tario\u2066"
PARAMETER = "lr\x1b[1A"
METRIC = "loss\x1b[K"


def invoke(*arguments: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(arguments), input=stdin)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[2J", "\\x1b[2J"),
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("\x00\x07\x7f", "\\x00\\x07\\x7f"),
        ("\x9b31m\x85", "\\x9b31m\\x85"),
        ("abc\u202edef\u202a\u2066\u2069", "abc\\u202edef\\u202a\\u2066\\u2069"),
        ("plain: é ✓ 中文 🙂 a\u00a0b", "plain: é ✓ 中文 🙂 a\u00a0b"),
        ("back\\slash", "back\\slash"),
    ],
)
def test_printable_escapes_what_a_terminal_would_act_on(text: str, shown: str) -> None:
    assert printable(text) == shown
    assert not ACTED_ON.search(printable(text))


@pytest.fixture
def odd(db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]) -> dict[str, str]:
    """Two runs whose names, collection, scenario, parameter, tag, label and metric hold
    control characters and bidirectional overrides; their ids by name."""
    sdk = sdk_factory(db_path=db_path, scenario=SCENARIO, pipeline="train.py")
    ids: dict[str, str] = {}
    for name, value in ((NAME, 0.5), ("plain", 0.25)):
        run = sdk.start_run(run_collection_name=COLLECTION, run_name=name)
        sdk.log_parameters({PARAMETER: f"0.1\x1b[0m{value}"})
        sdk.set_tags({"tag\x1b[5m": "v\r2"})
        sdk.set_labels({"lab\x1bel": {"note": "x\x1b[31m"}})
        for step in range(3):
            sdk.log_metric(METRIC, value / (step + 1), step=step)
        sdk.end_run()
        ids[name] = run.id
    sdk.close()
    return ids


def readable(result: Result) -> str:
    """The output of a command that went well, checked to hold nothing a terminal acts on."""
    assert result.exit_code == 0, result.output
    found = ACTED_ON.search(result.output)
    assert found is None, f"{found.group()!r} reached the terminal: {result.output!r}"
    return result.output


COMMANDS: dict[str, Callable[[dict[str, str]], list[str]]] = {
    "runs": lambda ids: ["runs", "--metric", METRIC],
    "show": lambda ids: ["show", ids[NAME]],
    "compare": lambda ids: ["compare", ids[NAME], ids["plain"]],
    "history": lambda ids: ["history", ids[NAME], METRIC],
    "collections": lambda ids: ["collections"],
    "where": lambda ids: ["where"],
    "check": lambda ids: ["check", ids[NAME], "--metric", METRIC, "--min", "0"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_text_output_shows_control_characters_escaped(
    command: str, odd: dict[str, str], db_path: Path
) -> None:
    output = readable(invoke(*COMMANDS[command](odd), "--db", str(db_path)))
    if command in ("runs", "show", "check"):
        assert "evil\\x1b" in output
    if command in ("show", "compare"):
        assert "lr\\x1b[1A" in output
    if command == "history":
        assert "loss\\x1b[K" in output
    if command == "collections":
        assert "coll\\x1b[31mred" in output and "scen\\tario\\u2066" in output


def test_delete_lists_what_it_would_delete_escaped(odd: dict[str, str], db_path: Path) -> None:
    result = invoke("delete", "--run", odd[NAME], "--db", str(db_path), stdin="n\n")
    assert result.exit_code == 1  # declined
    assert not ACTED_ON.search(result.output) and "evil\\x1b[2J" in result.output


def test_errors_show_names_escaped(odd: dict[str, str], db_path: Path) -> None:
    """An error that lists runs (two by the same name) shows their names escaped."""
    with MLTrackingSDK(db_path=db_path, scenario="other") as sdk, sdk.start_run(run_name=NAME):
        pass
    result = invoke("show", NAME, "--db", str(db_path))
    assert result.exit_code == 2 and "names 2 runs" in result.output
    assert not ACTED_ON.search(result.output)


@pytest.mark.parametrize(
    "arguments",
    [
        lambda ids: ["runs", "--json"],
        lambda ids: ["show", ids[NAME], "--json"],
        lambda ids: ["compare", ids[NAME], ids["plain"], "--json"],
    ],
    ids=["runs", "show", "compare"],
)
def test_json_output_stays_exact(
    arguments: Callable[[dict[str, str]], list[str]], odd: dict[str, str], db_path: Path
) -> None:
    result = invoke(*arguments(odd), "--db", str(db_path))
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    names = [run["name"] for run in (data if isinstance(data, list) else data.get("runs", [data]))]
    assert NAME in names


# ---------------------------------------------------------------- compare


@pytest.fixture
def close_runs(db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]) -> dict[str, str]:
    """Two runs whose accuracy differs only in the seventh significant digit, whose loss
    is the same, and whose parameters are text."""
    sdk = sdk_factory(db_path=db_path, scenario="churn")
    ids: dict[str, str] = {}
    for name, accuracy in (("a", 0.1234561), ("b", 0.1234564)):
        run = sdk.start_run(run_name=name)
        sdk.log_metrics({"accuracy": accuracy, "loss": 0.5})
        sdk.log_parameters({"epochs": 3})
        sdk.end_run()
        ids[name] = run.id
    sdk.close()
    return ids


def test_compare_tells_values_apart_that_agree_to_six_digits(
    close_runs: dict[str, str], db_path: Path
) -> None:
    output = readable(invoke("compare", "a", "b", "--db", str(db_path)))
    rows = {line.split()[-3]: line for line in output.splitlines()[2:]}
    assert rows["accuracy"].startswith("*")
    assert rows["accuracy"].split()[-2:] == ["0.1234561", "0.1234564"]  # shown apart
    assert not rows["loss"].startswith("*") and rows["loss"].split()[-2:] == ["0.5", "0.5"]
    assert not rows["epochs"].startswith("*")


def test_compare_json_gives_numbers_as_numbers_and_differs_on_exact_values(
    close_runs: dict[str, str], db_path: Path
) -> None:
    result = invoke("compare", "a", "b", "--json", "--db", str(db_path))
    assert result.exit_code == 0
    fields: dict[str, Any] = {f["name"]: f for f in json.loads(result.stdout)["fields"]}
    assert fields["accuracy"]["values"] == [0.1234561, 0.1234564]
    assert fields["accuracy"]["differs"] is True
    assert fields["loss"] == {
        "kind": "metric",
        "name": "loss",
        "values": [0.5, 0.5],
        "differs": False,
    }
    assert fields["epochs"]["values"] == ["3", "3"]  # parameters are stored as text
