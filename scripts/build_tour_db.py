"""Build the tour database that the documentation's examples run against, and run them.

    python scripts/build_tour_db.py PATH      # writes the tour database at PATH

The tour is deterministic: fixed run ids, names, times and values, so that every output the
documentation shows can be regenerated and compared. The documentation's pages call the
functions below from `cog` blocks (``cog -r -I scripts README.md docs/*.md`` regenerates them,
``cog --check`` fails when one drifted); ``tests/test_docs.py`` runs the rest of the examples.

Fixed ids and times come from a clock and an id source that every process of the tour reads
(a ``sitecustomize`` module in the tour's folder, put on ``PYTHONPATH``): ``time.time()``
returns ``SAPDI_TOUR_NOW`` and ``os.urandom`` a stream seeded by ``SAPDI_TOUR_SEED``. Nothing
else of the code under test is changed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The tour happens on the evening of 2026-11-27 (UTC); commands run an hour after it.
TOUR_START = datetime(2026, 11, 27, 20, 5, 0, tzinfo=timezone.utc).timestamp()
COMMANDS_NOW = TOUR_START + 3600.0
# What the documentation shows in place of the temporary folders a run of the examples uses.
SHOWN_HOME = "/home/you"
SHOWN_WORK = "/home/you/work"
SERVER_PORT_SHOWN = 8600

SITECUSTOMIZE = '''\
"""The tour's fixed clock and ids (written by scripts/build_tour_db.py)."""
import hashlib
import os
import time

if os.environ.get("SAPDI_TOUR_NOW"):
    _real_urandom = os.urandom
    _stream = {"counter": 0}

    def _tour_time() -> float:
        return float(os.environ["SAPDI_TOUR_NOW"])

    def _tour_urandom(size: int) -> bytes:
        # Each process of the tour gets its own seed, so two processes never make one id.
        out = b""
        while len(out) < size:
            _stream["counter"] += 1
            seed = f"{os.environ.get('SAPDI_TOUR_SEED', '')}:{_stream['counter']}"
            out += hashlib.sha256(seed.encode()).digest()
        return out[:size]

    time.time = _tour_time
    os.urandom = _tour_urandom
'''

# name, collection (None: the default one), optimizer, learning rate, dataset tag, accuracy
BASELINE_RUNS: tuple[tuple[str, str | None, str, float, str | None, float], ...] = (
    ("lr-0.1", None, "adam", 0.1, "v2", 0.87),
    ("lr-0.01", "baseline", "adam", 0.01, "v2", 0.91),
    ("lr-0.001", "baseline", "adam", 0.001, None, 0.93),
    ("sgd-0.001", "baseline", "sgd", 0.001, "v1", 0.95),
)


def tour_environment(folder: Path, *, seed: str, now: float = COMMANDS_NOW) -> dict[str, str]:
    """The environment of a process of the tour: its HOME, database, clock and ids."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SAPDI_") and key != "XDG_DATA_HOME"
    }
    # The tour's clock first; a PYTHONPATH given (a checkout to document) after it.
    search_path = [str(folder / "site"), *filter(None, [os.environ.get("PYTHONPATH")])]
    environment.update(
        HOME=str(folder / "home"),
        PYTHONPATH=os.pathsep.join(search_path),
        SAPDI_TOUR_NOW=repr(now),
        SAPDI_TOUR_SEED=seed,
        SAPDI_SCENARIO="churn",
        SAPDI_SCENARIO_VERSION="1a2b3c4d5e6f",
        SAPDI_PIPELINE="train.py",
        SAPDI_EXECUTION="9c1e5b7d2a4f4e8c8b3a6d0f1e2c4b5a",
        COLUMNS="100",
        NO_COLOR="1",
        PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    )
    return environment


def default_database(folder: Path) -> Path:
    """Where the per-user database of the tour's HOME is (platformdirs on Linux)."""
    return folder / "home" / ".local" / "share" / "sapdi-local" / "tracking.db"


def _log_tour(db_path: Path) -> None:
    """The tour's runs, logged through the SDK, each at its own time (this process's clock)."""
    from sapdi_local import MLTrackingSDK

    clock = TOUR_START

    def at(seconds: float) -> None:
        os.environ["SAPDI_TOUR_NOW"] = repr(clock + seconds)

    with MLTrackingSDK(db_path=db_path) as sdk:
        # The original SDK's first example, in the pipeline's default collection.
        at(0)
        sdk.start_run()
        sdk.log_parameters({"input_size": 784, "hidden_size": 500, "num_epochs": 2})
        for _ in range(2):
            sdk.log_metric(name="metric_name", value=1)
        sdk.set_tags({"tag_key": "tag_value"})
        sdk.set_labels({"accuracy": {"format_string": "percentage"}})
        at(2.5)
        sdk.end_run()
        # A small learning-rate sweep: four epochs of loss, then an accuracy.
        for index, (name, collection, optimizer, rate, dataset, accuracy) in enumerate(
            BASELINE_RUNS
        ):
            start = 60.0 * (index + 1)
            at(start)
            sdk.start_run(run_collection_name=collection, run_name=name)
            sdk.log_parameters({"learning_rate": rate, "optimizer": optimizer, "epochs": 4})
            if dataset is not None:
                sdk.set_tags({"dataset": dataset})
            sdk.set_labels({"accuracy": {"format_string": "percentage"}})
            for epoch in range(4):
                loss = round((1 - accuracy) + (0.6 / (epoch + 1)) * (1 - epoch / 4), 4)
                sdk.log_metric("loss", loss, timestamp=TOUR_START + start + 10 * (epoch + 1))
            sdk.log_metric("accuracy", accuracy, timestamp=TOUR_START + start + 40)
            at(start + 42.5)
            sdk.end_run()
        # A run that diverged: the with-block's exception marks it FAILED, its values kept.
        at(300)
        try:
            with sdk.start_run(run_collection_name="baseline", run_name="lr-1.0"):
                sdk.log_parameters({"learning_rate": 1.0, "optimizer": "adam", "epochs": 4})
                sdk.log_metric("loss", 3.2, timestamp=TOUR_START + 310)
                at(312)
                raise FloatingPointError("loss diverged")
        except FloatingPointError:
            pass
    with MLTrackingSDK(db_path=db_path, scenario="forecast", pipeline="weekly.py") as sdk:
        at(400)
        sdk.start_run(run_collection_name="weekly", run_name="prophet")
        sdk.log_parameters({"seasonality": "weekly"})
        sdk.log_metric("mape", 0.082, timestamp=TOUR_START + 410)
        at(420)
        sdk.end_run()


def build(db_path: Path) -> Path:
    """Write the tour database at db_path (replacing it) in a process with the tour's clock."""
    db_path = Path(db_path).resolve()
    for leftover in (db_path, Path(f"{db_path}.lock"), Path(f"{db_path}-wal")):
        leftover.unlink(missing_ok=True)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sapdi-tour-") as scratch:
        folder = Path(scratch)
        _write_site(folder)
        environment = tour_environment(folder, seed="build", now=TOUR_START)
        subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--log", str(db_path)],
            env=environment,
            check=True,
            timeout=120,
            cwd=folder,
        )
    return db_path


def _write_site(folder: Path) -> None:
    (folder / "site").mkdir(parents=True, exist_ok=True)
    (folder / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    (folder / "home").mkdir(exist_ok=True)
    (folder / "work").mkdir(exist_ok=True)


_BUILT: dict[str, Path] = {}


def _built_tour() -> Path:
    """One tour database per process, built once and copied for each example."""
    if "db" not in _BUILT:
        keep = Path(tempfile.mkdtemp(prefix="sapdi-tour-db-"))
        _BUILT["db"] = build(keep / "tracking.db")
    return _BUILT["db"]


@contextmanager
def workspace(*, with_tour: bool = True) -> Iterator[Path]:
    """A folder with a HOME whose per-user database is a fresh copy of the tour."""
    with tempfile.TemporaryDirectory(prefix="sapdi-tour-") as scratch:
        folder = Path(scratch)
        _write_site(folder)
        if with_tour:
            target = default_database(folder)
            target.parent.mkdir(parents=True)
            shutil.copyfile(_built_tour(), target)
            target.chmod(0o600)
        yield folder


def shown(text: str, folder: Path) -> str:
    """Output as the documentation shows it: the temporary folders named as a user's."""
    text = text.replace(str(folder / "work"), SHOWN_WORK).replace(str(folder / "home"), SHOWN_HOME)
    text = text.replace(str(folder), "/tmp/tour")
    return "\n".join(line.rstrip() for line in text.splitlines())


def run_commands(
    commands: Sequence[str], *, name: str, server: bool = False, folder: Path | None = None
) -> list[tuple[str, str]]:
    """Each command in bash, in the tour's work folder, with its output (stdout and stderr)."""
    with workspace() if folder is None else _given(folder) as where:
        environment = tour_environment(where, seed=name)
        process = _start_server(where, environment) if server else None
        try:
            results = []
            status = 0
            for index, command in enumerate(commands):
                environment["SAPDI_TOUR_SEED"] = f"{name}:{index}"
                actual = command
                if process is not None:
                    actual = command.replace(
                        f"127.0.0.1:{SERVER_PORT_SHOWN}", f"127.0.0.1:{process[1]}"
                    ).replace(f"--port {SERVER_PORT_SHOWN}", f"--port {process[1]}")
                finished = subprocess.run(
                    ["bash", "-c", f"(exit {status}); {actual}"],
                    env=environment,
                    cwd=where / "work",
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    timeout=120,
                )
                status = finished.returncode
                output = finished.stdout
                if process is not None:
                    for seen in ("127.0.0.1:", "port "):
                        output = output.replace(f"{seen}{process[1]}", f"{seen}{SERVER_PORT_SHOWN}")
                results.append((command, shown(output, where)))
            return results
        finally:
            if process is not None:
                process[0].send_signal(signal.SIGINT)
                try:
                    process[0].wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process[0].kill()
                    process[0].wait()


@contextmanager
def _given(folder: Path) -> Iterator[Path]:
    yield folder


def _start_server(folder: Path, environment: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    """`sapdi-local ui` on a free port; the documentation shows it as port 8600."""
    process = subprocess.Popen(
        ["sapdi-local", "ui", "--port", "0"],
        env=environment,
        cwd=folder / "work",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if found:
            return process, int(found.group(1))
    process.wait(timeout=20)
    raise RuntimeError(f"sapdi-local ui did not start (exit code {process.returncode})")


def console(*commands: str, name: str = "", server: bool = False) -> None:
    """Write a console block into the page cog is processing: each command and its output."""
    import cog  # type: ignore[import-not-found]  # only present while cog runs

    block_name = name or commands[0]
    lines = ["```console"]
    for index, (command, output) in enumerate(
        run_commands(commands, name=block_name, server=server)
    ):
        if index:
            lines.append("")
        lines.append(f"$ {command}")
        if output:
            lines.append(output)
    lines.append("```")
    cog.outl("\n".join(lines))


def run_python(code: str, *, name: str) -> str:
    """Run code as a script of the tour's work folder (its default database the tour's)."""
    with workspace() as where:
        script = where / "work" / "example.py"
        script.write_text(code)
        finished = subprocess.run(
            [sys.executable, str(script)],
            env=tour_environment(where, seed=name),
            cwd=where / "work",
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
        )
        output = shown(finished.stdout, where)
        if finished.returncode != 0:
            raise RuntimeError(f"the example {name!r} failed:\n{output}")
        return output


def python_example(code: str, *, name: str, output_language: str = "text") -> None:
    """Write a Python block and, below it, what it prints against the tour."""
    import cog

    code = textwrap.dedent(code).strip("\n")
    output = run_python(code + "\n", name=name)
    cog.outl(f"```python\n{code}\n```\n\nIt prints:\n\n```{output_language}\n{output}\n```")


def performance_table(*, fallback: str) -> None:
    """The scaling table when it is published, else the table in the fallback file."""
    import cog

    published = ROOT / "benchmarks" / "published" / "scaling.json"
    if published.exists():
        import json

        sys.path.insert(0, str(ROOT))
        from benchmarks.scaling import markdown_table

        cog.outl(markdown_table(json.loads(published.read_text())).rstrip("\n"))
    else:
        cog.outl((ROOT / fallback).read_text().rstrip("\n"))


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--log":
        _log_tour(Path(argv[1]))
        return 0
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python scripts/build_tour_db.py PATH", file=sys.stderr)
        return 2
    print(f"wrote the tour database to {build(Path(argv[0]))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
