"""The README's layout section and docs/architecture.md name the tree as it is: every
package and module of sapdi_local, and no file that is not there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "sapdi_local"


def top_level() -> set[str]:
    """``name.py`` and ``name/`` of the package's own modules and subpackages."""
    names = {path.name for path in PACKAGE.glob("*.py")} - {"__init__.py", "__main__.py"}
    names |= {f"{path.name}/" for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    return names


def named(text: str) -> set[str]:
    """What a page names in backticks as a file or folder of the tree."""
    return set(re.findall(r"`([A-Za-z_][\w/]*(?:\.py|/))`", text))


def section(text: str, heading: str) -> str:
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_the_readme_layout_names_every_part_of_the_package() -> None:
    layout = section((ROOT / "README.md").read_text(), "Layout")
    assert top_level() <= named(layout), sorted(top_level() - named(layout))
    missing = [name for name in named(layout) if not (ROOT / name).exists()]
    missing = [name for name in missing if not (PACKAGE / name).exists()]
    assert not missing, missing


def test_the_architecture_page_names_every_module_and_nothing_that_is_gone() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    mentioned = named(text)
    assert top_level() <= mentioned, sorted(top_level() - mentioned)
    for package in (path for path in PACKAGE.iterdir() if (path / "__init__.py").exists()):
        modules = {p.name for p in package.glob("*.py")} - {"__init__.py"}
        assert modules <= mentioned, (package.name, sorted(modules - mentioned))
    files = {path.name for path in ROOT.rglob("*.py") if ".venv" not in path.parts}
    folders = {path.name for path in ROOT.rglob("*") if path.is_dir()}
    stale = sorted(
        name
        for name in mentioned
        if (
            name.rstrip("/").split("/")[-1] not in folders
            if name.endswith("/")
            else name.split("/")[-1] not in files
        )
    )
    assert not stale, stale
