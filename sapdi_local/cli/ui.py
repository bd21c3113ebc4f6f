"""``sapdi-local ui``: the metrics explorer, a local web page over the database.

The server and its dependencies are imported only when the command runs, so the other
commands (and ``import sapdi_local.tracking``) never pay for them.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .common import CommandError, database, db_option

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..ui.server import ExplorerServer

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8600
PORTS_TRIED = 20  # without --port, the next free one of 8600-8619 is taken


@click.command()
@db_option
@click.option(
    "--host",
    default=DEFAULT_HOST,
    show_default=True,
    help="Address to listen on. Loopback by default: no other machine can connect.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help=f"Port to listen on; 0 takes any free port. [default: {DEFAULT_PORT}, or the next free]",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a web browser.")
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a --host that other machines can reach. Anyone who can reach it reads every run.",
)
def ui(
    db: Path | None, host: str, port: int | None, open_browser: bool, allow_remote: bool
) -> None:
    """Start the metrics explorer: browse collections, chart and compare runs in a browser.

    The page reads the database live (runs still being written grow on their own) and
    never changes it. It works offline: its charts come with the package.

    \b
    Example:
      sapdi-local ui --db runs.db --open
    """
    from ..ui.server import is_loopback

    path = database(db)
    if not is_loopback(host) and not allow_remote:
        raise CommandError(
            f"--host {host} is not a loopback address, so other machines could read every run; "
            "add --allow-remote to serve it anyway, or leave --host out to stay on 127.0.0.1"
        )
    ports = [port] if port is not None else range(DEFAULT_PORT, DEFAULT_PORT + PORTS_TRIED)
    server = bind_first_free(path, host, ports)
    bare_host = host.strip("[]")
    shown_host = f"[{bare_host}]" if ":" in bare_host else bare_host
    address = f"http://{shown_host}:{server.server_port}/"
    reach = (
        "loopback only: no other machine can connect"
        if is_loopback(host)
        else "reachable from other machines: anyone who can connect reads every run"
    )
    click.echo(f"Metrics explorer for {path}")
    click.echo(f"  {address}  ({reach})")
    if not path.exists():
        click.echo(f"  no database at {path} yet: the page shows runs once they are written")
    click.echo("  Ctrl-C stops it.")
    if open_browser:
        import webbrowser

        if not webbrowser.open(address):
            click.echo(
                f"  could not open a web browser here (none found, or it failed): open {address} "
                "yourself, or set BROWSER to the command of one",
                err=True,
            )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.close()


def bind_first_free(path: Path, host: str, ports: Sequence[int]) -> ExplorerServer:
    """A server on the first of ``ports`` that is free; an error naming the last one tried
    when none is."""
    from ..ui.server import make_explorer_server

    for candidate in ports:
        try:
            return make_explorer_server(path, host, candidate)
        except OSError as error:
            if error.errno != errno.EADDRINUSE or candidate == ports[-1]:
                tried = f"{ports[0]}-{candidate}" if candidate != ports[0] else str(candidate)
                raise CommandError(
                    f"cannot listen on {host} port {tried}: {error.strerror}; "
                    "choose another with --port N (0 takes any free port)"
                ) from None
    raise CommandError("no port to listen on; give one with --port N")
