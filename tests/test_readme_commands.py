"""The README's two commands: the first one's job runs as written, and CI installs and tests
the way the second one says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import CONTEXT_VARIABLES

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def two_commands() -> list[str]:
    section = README.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)\n```", section, flags=re.DOTALL)


def test_the_readme_starts_with_the_two_commands() -> None:
    assert README.index("## Two commands") < README.index("## First example")
    first, second = two_commands()
    for line in (first, second):
        # As root (no sudo needed or present) and as a user with sudo.
        assert line.startswith('S=$([ "$(id -u)" = 0 ] || echo sudo); $S apt-get update && ')
    job = "&& .venv/bin/python examples/first_runs.py && .venv/bin/sapdi-local runs"
    assert first.endswith(job)
    assert "pip install -e '.[test]'" in second and second.endswith(".venv/bin/python -m pytest")
    assert "chromium" in second


def test_ci_installs_and_tests_as_the_second_command_says() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "pip\" install --quiet -e '.[test]'" in script
    assert '"$venv/bin/python" -m pytest' in script
    assert "apt-get install -y -qq chromium" in script


def test_the_first_commands_job_logs_six_runs_and_lists_them(tmp_path: Path) -> None:
    """examples/first_runs.py then `sapdi-local runs`, on a database of their own."""
    env = {k: v for k, v in os.environ.items() if k not in CONTEXT_VARIABLES}
    env["SAPDI_LOCAL_DB"] = str(tmp_path / "tracking.db")
    logged = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "first_runs.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert logged.returncode == 0, logged.stderr
    assert logged.stdout.splitlines()[0] == f"logged 6 runs into {tmp_path / 'tracking.db'}"
    listed = subprocess.run(
        [sys.executable, "-m", "sapdi_local", "runs", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    import json

    runs = json.loads(listed.stdout)
    assert len(runs) == 6
    assert sorted(run["name"] for run in runs if run["collection"] == "lr-sweep") == [
        "lr-0.0003",
        "lr-0.001",
        "lr-0.003",
        "lr-0.01",
        "lr-0.03",
    ]
