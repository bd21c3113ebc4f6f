"""The Search page (docs/search.md) is executed: every example expression parses, runs through the
API and the command line and selects the same runs in both, and its Python block runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import repository_script

from sapdi_local import MLTrackingSDK
from sapdi_local.cli import main

ROOT = Path(__file__).parent.parent
SECTION = (ROOT / "docs" / "search.md").read_text()
EXPRESSIONS = re.search(r"```search\n(.*?)\n```", SECTION, re.DOTALL).group(1).splitlines()  # type: ignore[union-attr]
PYTHON = re.search(r"```python\n(.*?)\n```", SECTION, re.DOTALL).group(1)  # type: ignore[union-attr]


@pytest.fixture
def tour(tmp_path: Path) -> Path:
    """The documentation's tour database (scripts/build_tour_db.py)."""
    return repository_script("build_tour_db").build(tmp_path / "tracking.db")


def test_the_section_has_examples() -> None:
    assert len(EXPRESSIONS) >= 6


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_each_example_selects_the_same_runs_in_the_api_and_the_command_line(
    tour: Path, expression: str
) -> None:
    with MLTrackingSDK(db_path=tour) as sdk:
        from_api = sorted(run.name for run in sdk.search_runs(expression))
    result = CliRunner().invoke(
        main, ["runs", "--json", "--where", expression, "--db", str(tour)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert sorted(run["name"] for run in json.loads(result.stdout)) == from_api


def test_the_python_example_runs(tour: Path) -> None:
    from sapdi_local import tracking

    previous = tracking.set_default_sdk(MLTrackingSDK(db_path=tour))
    try:
        namespace: dict[str, object] = {}
        exec(compile(PYTHON, "docs/search.md", "exec"), namespace)
        assert [run.name for run in namespace["best"]] == ["lr-0.001", "lr-0.01"]  # type: ignore[attr-defined]
    finally:
        tracking.set_default_sdk(previous).close()
