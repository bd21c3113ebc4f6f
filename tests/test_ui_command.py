"""``sapdi-local ui``: where it listens, what it prints, and how it refuses to be exposed.

In-process through click's runner (with ``serve_forever`` replaced by an immediate Ctrl-C),
and once as a real process serving real HTTP until it is interrupted.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import run_python

from sapdi_local import MLTrackingSDK
from sapdi_local.cli import main
from sapdi_local.cli.common import CommandError
from sapdi_local.cli.ui import bind_first_free
from sapdi_local.ui import server as ui_server
from sapdi_local.ui.server import ExplorerServer


@pytest.fixture
def one_run(db_path: Path, sdk_factory: Callable[..., MLTrackingSDK]) -> str:
    writer = sdk_factory(db_path=db_path, scenario="s")
    run = writer.start_run(run_collection_name="c", run_name="only")
    writer.log_metric("loss", 0.25, step=0)
    writer.end_run()
    return run.id


@pytest.fixture
def served_once(monkeypatch: pytest.MonkeyPatch) -> list[ExplorerServer]:
    """serve_forever returns at once as if Ctrl-C were pressed; the servers are recorded."""
    servers: list[ExplorerServer] = []

    def interrupted(self: ExplorerServer, poll_interval: float = 0.5) -> None:
        servers.append(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(ExplorerServer, "serve_forever", interrupted)
    return servers


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port something else listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_prints_its_loopback_address_and_stops_on_ctrl_c(
    db_path: Path, one_run: str, served_once: list[ExplorerServer]
) -> None:
    result = invoke("ui", "--db", str(db_path), "--port", "0")
    assert result.exit_code == 0, result.output
    [server] = served_once
    port = server.server_port
    assert f"Metrics explorer for {db_path}" in result.output
    assert f"http://127.0.0.1:{port}/" in result.output
    assert "loopback only" in result.output
    assert result.output.rstrip().endswith("stopped")
    assert server.server_address[0] == "127.0.0.1"
    assert server.socket.fileno() == -1  # closed on the way out


def test_refuses_a_non_loopback_host_without_allow_remote(db_path: Path, one_run: str) -> None:
    result = invoke("ui", "--db", str(db_path), "--host", "0.0.0.0")
    assert result.exit_code == 2
    assert "0.0.0.0 is not a loopback address" in result.output
    assert "--allow-remote" in result.output


def test_serves_other_machines_only_with_allow_remote(
    db_path: Path, one_run: str, served_once: list[ExplorerServer]
) -> None:
    result = invoke(
        "ui", "--db", str(db_path), "--host", "0.0.0.0", "--port", "0", "--allow-remote"
    )
    assert result.exit_code == 0, result.output
    assert "reachable from other machines" in result.output
    assert served_once[0].server_address[0] == "0.0.0.0"
    assert served_once[0].explorer.allowed_hosts is None  # any Host header is answered


def test_ipv6_loopback_is_shown_in_brackets(
    db_path: Path, one_run: str, served_once: list[ExplorerServer]
) -> None:
    try:
        socket.socket(socket.AF_INET6).close()
    except OSError:
        pytest.skip("no IPv6 on this machine")
    result = invoke("ui", "--db", str(db_path), "--host", "::1", "--port", "0")
    if result.exit_code != 0 and "cannot listen" in result.output:
        pytest.skip("IPv6 loopback cannot be bound here")
    assert f"http://[::1]:{served_once[0].server_port}/" in result.output


def test_open_starts_a_browser_on_the_address(
    db_path: Path,
    one_run: str,
    served_once: list[ExplorerServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    result = invoke("ui", "--db", str(db_path), "--port", "0", "--open")
    assert result.exit_code == 0, result.output
    assert opened == [f"http://127.0.0.1:{served_once[0].server_port}/"]


def test_a_missing_database_is_announced_but_served(
    tmp_path: Path, served_once: list[ExplorerServer]
) -> None:
    missing = tmp_path / "later.db"
    result = invoke("ui", "--db", str(missing), "--port", "0")
    assert result.exit_code == 0, result.output
    assert f"no database at {missing} yet" in result.output
    assert not missing.exists()  # the explorer never creates the file


def test_a_busy_port_given_explicitly_is_an_error(
    db_path: Path, one_run: str, busy_port: int
) -> None:
    result = invoke("ui", "--db", str(db_path), "--port", str(busy_port))
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1 port {busy_port}" in result.output
    assert "--port" in result.output


def test_the_next_free_port_is_taken_when_one_is_busy(db_path: Path, busy_port: int) -> None:
    # The next port is 0 (any free one): a port probed free here could be taken before use.
    server = bind_first_free(db_path, "127.0.0.1", [busy_port, 0])
    try:
        assert server.server_port not in (busy_port, 0)
    finally:
        server.close()
    with pytest.raises(CommandError, match=f"port {busy_port}: "):
        bind_first_free(db_path, "127.0.0.1", [busy_port])


def test_missing_plotly_names_the_extra(
    db_path: Path, one_run: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ui_server, "find_spec", lambda name: None)
    result = invoke("ui", "--db", str(db_path), "--port", "0")
    assert result.exit_code == 2
    assert 'pip install "sapdi-local[ui]"' in result.output


@pytest.mark.timeout(120)  # a child process that hangs would otherwise block a read
def test_a_real_process_serves_http_until_interrupted(db_path: Path, one_run: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "sapdi_local", "ui", "--db", str(db_path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        address = ""
        while not address:
            line = process.stdout.readline()
            assert line, process.stderr.read() if process.stderr else "no output"
            if "http://" in line:
                address = line.split()[0]
        with urllib.request.urlopen(f"{address}api/runs/{one_run}", timeout=10) as response:
            assert json.load(response)["metric_stats"]["loss"]["last"] == 0.25
        with urllib.request.urlopen(address, timeout=10) as response:
            assert b"<html" in response.read().lower()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        assert "stopped" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_importing_tracking_or_the_cli_loads_no_explorer() -> None:
    """The explorer (and Plotly) load only when `ui` runs."""
    result = run_python(
        """
        import sys
        import sapdi_local.tracking, sapdi_local.cli
        print(sorted(m for m in sys.modules if m.startswith(("sapdi_local.ui", "plotly"))))
        """
    )
    assert result.stdout.strip() == "[]"
