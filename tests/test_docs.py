"""The documentation runs: every Python block and shell example of README.md and docs/*.md runs
against the tour database (scripts/build_tour_db.py), every output shown is what the code
prints now (cog --check), blocks that cannot run are marked and counted, and the site builds
strictly and works offline."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import repository_script

ROOT = Path(__file__).parent.parent
build_tour_db = repository_script("build_tour_db")

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUNNABLE = ("python", "sh", "console", "bash", "shell")
NOT_RUN = re.compile(r"<!-- not run: (?P<reason>[^>]+?) -->\n$")
FENCE = re.compile(r"(?ms)^```(?P<language>[\w-]*)\n(?P<code>.*?)^```$")
GENERATED = re.compile(
    r"(?ms)^<!-- \[\[\[cog\n.*?\]\]\] -->\n(?P<output>.*?)^<!-- \[\[\[end\]\]\] -->"
)
# The blocks that do not run, by page: each says why beside it.
EXPECTED_NOT_RUN = {
    "getting-started.md": 2,  # the README's two install commands (their job is tested apart)
    "moving-runs.md": 2,  # an MLflow store and an MLflow server
    "explorer.md": 1,  # installing, and a server that runs until stopped
    "reliability.md": 1,  # the reliability tests themselves
    "performance.md": 1,  # the benchmarks (10 minutes)
}
README_INSTALL_BLOCKS = 2  # the two commands, tested by tests/test_readme_commands.py


def blocks(page: Path) -> list[tuple[str, str, str | None, bool]]:
    """Each fenced block of a page: language, code, why it does not run (None: it runs),
    and whether cog wrote it (its output then compared by cog --check)."""
    text = page.read_text()
    generated = [(match.start("output"), match.end("output")) for match in GENERATED.finditer(text)]
    found = []
    for match in FENCE.finditer(text):
        marker = NOT_RUN.search(text[max(0, match.start() - 300) : match.start()])
        inside = any(start <= match.start() < end for start, end in generated)
        found.append(
            (match["language"], match["code"], marker["reason"] if marker else None, inside)
        )
    return found


def python_blocks() -> list[tuple[str, str]]:
    return [
        (f"{page.name}#{index}", code)
        for page in PAGES
        for index, (language, code, reason, inside) in enumerate(blocks(page))
        if language == "python" and reason is None and not inside
    ]


def test_every_shell_example_is_generated_by_cog_or_marked() -> None:
    """A shell example that cog does not run would drift unseen: each is in a cog block's
    output (run by cog --check), or says why it cannot run."""
    unmarked = [
        f"{page.name}: {code.splitlines()[0]}"
        for page in PAGES
        for language, code, reason, inside in blocks(page)
        if language in RUNNABLE and language != "python" and reason is None and not inside
    ]
    readme_install = [line for line in unmarked if line.startswith("README.md: S=$(")]
    assert len(readme_install) == README_INSTALL_BLOCKS
    assert [line for line in unmarked if line not in readme_install] == []


def test_the_blocks_that_do_not_run_are_few_and_named() -> None:
    counted = {
        page.name: sum(1 for _, _, reason, _ in blocks(page) if reason is not None)
        for page in PAGES
    }
    assert {name: count for name, count in counted.items() if count} == EXPECTED_NOT_RUN


def test_every_page_has_runnable_examples_where_it_shows_commands() -> None:
    generated = sum(1 for page in PAGES for *_, inside in blocks(page) if inside)
    assert generated >= 15
    assert len(python_blocks()) >= 2


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("where", "code"), python_blocks(), ids=[b[0] for b in python_blocks()])
def test_each_python_block_runs_against_the_tour(where: str, code: str) -> None:
    build_tour_db.run_python(code, name=where)


@pytest.mark.timeout(600)
def test_every_output_shown_is_what_the_code_prints_now() -> None:
    """cog --check: a changed message, column or field not regenerated into the pages fails."""
    checked = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "-I", "scripts", *map(str, PAGES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert checked.returncode == 0, (
        "the documentation's outputs drifted from the code; regenerate them with "
        f"`cog -r -I scripts README.md docs/*.md`\n{checked.stdout}{checked.stderr}"
    )


def test_the_tour_database_is_the_same_on_every_build(tmp_path: Path) -> None:
    from sapdi_local import MLTrackingSDK

    def runs(path: Path) -> list[dict[str, object]]:
        with MLTrackingSDK(db_path=path) as sdk:
            return [run.to_dict() for run in sdk.get_runs(scenario=["churn", "forecast"])]

    first = runs(build_tour_db.build(tmp_path / "one.db"))
    assert runs(build_tour_db.build(tmp_path / "two.db")) == first
    assert {run["name"] for run in first} >= {"lr-0.1", "lr-0.01", "lr-0.001", "sgd-0.001"}
    assert len(first) == 7


def test_the_readme_is_short() -> None:
    assert len((ROOT / "README.md").read_bytes()) < 12_500


@pytest.mark.timeout(600)
def test_the_site_builds_strictly_and_loads_nothing_from_the_network(tmp_path: Path) -> None:
    site = tmp_path / "site"
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert built.returncode == 0, built.stderr
    pages = list(site.rglob("*.html"))
    assert len(pages) >= 15
    remote = re.compile(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=\"?(?:https?:)?//", re.I)
    offenders = [
        f"{page.relative_to(site)}: {match.group(0)}"
        for page in pages
        for match in remote.finditer(page.read_text())
    ]
    assert offenders == []
    css = "".join(path.read_text() for path in site.rglob("*.css"))
    assert "fonts.googleapis" not in css and "@import url(http" not in css
    reference = (site / "reference" / "tracking.html").read_text()
    assert "log_metric" in reference and "start_run" in reference
