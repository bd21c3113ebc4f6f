"""The layers of the package (docs/architecture.md), as the import-linter contracts in
pyproject.toml state them: the tree as it is keeps them, and a copy of it with one wrong
import breaks them, so that CI (which runs lint-imports) fails on such a change."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def copied_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    ignore = shutil.ignore_patterns("__pycache__", "static")
    for package in ("sapdi_local", "sapdi"):
        shutil.copytree(ROOT / package, tree / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    # The copy first on the path: its modules, not the installed ones, are analysed.
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("module", "wrong_import", "broken"),
    [
        # The store imports nothing above it.
        ("store/schema.py", "from ..tracking import start_run", "Each part imports only"),
        # The explorer reads stored runs through records, never through the SDK.
        ("ui/api.py", "from ..sdk import MLTrackingSDK", "The explorer only reads"),
        # Two modules of one package that import each other.
        ("store/selection.py", "from . import writing", "No import cycles"),
        ("model.py", "import sapdi", "never imports the sapdi"),
    ],
)
def test_the_contracts_hold_and_one_wrong_import_breaks_them(
    tmp_path: Path, module: str, wrong_import: str, broken: str
) -> None:
    tree = copied_tree(tmp_path)
    kept = lint(tree)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    path = tree / "sapdi_local" / module
    path.write_text(path.read_text() + f"\n{wrong_import}  # deliberately wrong\n")
    failed = lint(tree)
    assert failed.returncode != 0
    assert f"{broken}" in failed.stdout and "BROKEN" in failed.stdout, failed.stdout
