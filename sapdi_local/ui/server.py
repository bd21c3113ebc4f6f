"""The explorer's HTTP layer: a WSGI application that routes, encodes and serves files.

``Explorer`` answers ``/`` with the page, ``/static/...`` with the files of the ``static``
folder (its style and the ES modules of its script) and Plotly's JavaScript (taken from the
installed ``plotly`` package, so nothing comes from the internet), and ``/api/...`` with
JSON from ``api.py``. It only answers GET and HEAD: the database is opened read-only and the
server never changes it. ``serve`` runs it on a threaded ``wsgiref`` server, bound to
loopback unless told otherwise.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import socket
from collections.abc import Callable, Iterable
from importlib.util import find_spec
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs, unquote
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from ..errors import MissingExtraError, StorageError, TrackingError
from ..store import ReadOnlyStore
from . import api

STATIC_FOLDER = Path(__file__).parent / "static"
PLOTLY_SCRIPT = "plotly.min.js"
UI_EXTRA_HINT = 'pip install "sapdi-local[ui]"'
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
# The page loads nothing but its own files: a stray request to the internet would be
# refused by the browser rather than hang on a machine with no network.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'"
)

StartResponse = Callable[..., Any]
Environ = dict[str, Any]


def plotly_script() -> Path:
    """Plotly's minified JavaScript as the installed ``plotly`` package ships it.

    Found without importing plotly (its import is slow and not needed to serve one file).
    """
    spec = find_spec("plotly")
    if spec is None or spec.origin is None:
        raise MissingExtraError(
            f"the explorer draws its charts with Plotly, which is not installed; {UI_EXTRA_HINT}"
        )
    script = Path(spec.origin).parent / "package_data" / PLOTLY_SCRIPT
    if not script.is_file():
        raise MissingExtraError(
            f"the installed plotly package has no {PLOTLY_SCRIPT} at {script}; "
            f'reinstall it with pip install --force-reinstall "sapdi-local[ui]"'
        )
    return script


class StaticFile:
    """A file served with an ETag, read once: the page's files never change while it runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.media_type = MEDIA_TYPES.get(path.suffix, "application/octet-stream")
        self._body: bytes | None = None
        self._etag = ""

    def body_and_etag(self) -> tuple[bytes, str]:
        if self._body is None:
            self._body = self.path.read_bytes()
            self._etag = '"' + hashlib.sha256(self._body).hexdigest()[:32] + '"'
        return self._body, self._etag


def static_files(folder: Path) -> dict[str, StaticFile]:
    """Every file under ``folder`` by its path there ("app.css", "views/run.js").

    Only these names are served, so no address reaches outside the folder; a link that
    resolves to somewhere outside it is left out too.
    """
    root = folder.resolve()
    files = {}
    for path in sorted(folder.rglob("*")):
        inside = path.relative_to(folder)
        hidden = any(part.startswith(".") for part in inside.parts)
        if path.is_file() and not hidden and path.resolve().is_relative_to(root):
            files[inside.as_posix()] = StaticFile(path)
    return files


class Explorer:
    """The WSGI application of the metrics explorer for one database file.

    Serving it runs until stopped, so the tests do not run that line:

    >>> from wsgiref.simple_server import make_server
    >>> app = Explorer(sdk.db_path)
    >>> make_server("127.0.0.1", 8600, app).serve_forever()  # doctest: +SKIP
    """

    def __init__(self, db_path: Path, *, allowed_hosts: Iterable[str] | None = None) -> None:
        self.db_path = db_path
        self.store = ReadOnlyStore(db_path)
        # With a host list, requests naming another host are refused: a page elsewhere
        # cannot reach a loopback server by pointing a domain name at 127.0.0.1.
        self.allowed_hosts = None if allowed_hosts is None else set(allowed_hosts)
        self.files = static_files(STATIC_FOLDER)
        self.files[PLOTLY_SCRIPT] = StaticFile(plotly_script())

    def close(self) -> None:
        self.store.close()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = unquote(environ.get("PATH_INFO", "/") or "/")
        if self.allowed_hosts is not None and _host_name(environ) not in self.allowed_hosts:
            return _error(start_response, 403, f"host {_host_name(environ)!r} is not served here")
        if method not in ("GET", "HEAD"):
            return _error(start_response, 405, f"{method} is not allowed: the explorer only reads")
        if path.startswith("/api/"):
            response = self._api(path, environ, start_response)
        elif path == "/" or path == "/index.html":
            response = self._file("index.html", environ, start_response)
        elif path.startswith("/static/") and path[len("/static/") :] in self.files:
            response = self._file(path[len("/static/") :], environ, start_response)
        else:
            response = _error(start_response, 404, f"nothing at {path}; the explorer is at /")
        return [] if method == "HEAD" else response

    def _api(self, path: str, environ: Environ, start_response: StartResponse) -> list[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        try:
            if path in api.ENDPOINTS:
                data = api.ENDPOINTS[path](self.store, query)
            elif path.startswith("/api/runs/") and path.count("/") == 3:
                data = api.run(self.store, path[len("/api/runs/") :], query)
            elif path == "/api/":
                data = {"endpoints": [*api.ENDPOINTS, "/api/runs/<id>"]}
            else:
                known = ", ".join([*api.ENDPOINTS, "/api/runs/<id>"])
                raise api.ApiError(404, f"no API endpoint {path}; the API has: {known}")
        except api.ApiError as error:
            return _error(start_response, error.status, error.message, error.details)
        except StorageError as error:
            # A missing, foreign, damaged or newer-schema file: the page says what to do.
            return _error(start_response, 503, str(error))
        except TrackingError as error:
            return _error(start_response, 400, str(error))
        body = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/json; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
                *_SAFETY_HEADERS,
            ],
        )
        return [body]

    def _file(self, name: str, environ: Environ, start_response: StartResponse) -> list[bytes]:
        static = self.files[name]
        body, etag = static.body_and_etag()
        headers = [("ETag", etag), ("Cache-Control", "no-cache"), *_SAFETY_HEADERS]
        if environ.get("HTTP_IF_NONE_MATCH") == etag:
            start_response("304 Not Modified", headers)
            return []
        start_response(
            "200 OK",
            [("Content-Type", static.media_type), ("Content-Length", str(len(body))), *headers],
        )
        return [body]


_SAFETY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("Referrer-Policy", "no-referrer"),
)
_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    503: "Service Unavailable",
}


def _error(
    start_response: StartResponse,
    status: int,
    message: str,
    details: dict[str, Any] | None = None,
) -> list[bytes]:
    """A JSON error: its status and message, and details such as the parameter at fault
    and the position in it."""
    error = {"status": status, "message": message, **(details or {})}
    body = json.dumps({"error": error}).encode()
    headers = [
        ("Content-Type", "application/json; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        *_SAFETY_HEADERS,
    ]
    if status == 405:
        headers.append(("Allow", "GET, HEAD"))
    start_response(f"{status} {_REASONS[status]}", headers)
    return [body]


def _host_name(environ: Environ) -> str:
    host = str(environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or "")
    if host.startswith("["):  # [::1]:8600
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


# ---------------------------------------------------------------- serving


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    return bool(infos) and all(
        ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos
    )


class ExplorerServer(ThreadingMixIn, WSGIServer):
    """A threaded WSGI server for one ``Explorer``; ``close()`` also closes its database."""

    daemon_threads = True  # a slow browser tab never keeps the command from stopping
    allow_reuse_address = True
    explorer: Explorer

    def close(self) -> None:
        self.server_close()
        self.explorer.close()


class _IPv6ExplorerServer(ExplorerServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    """Logs only failed requests: a poll every few seconds would flood the terminal."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(code)[:1] in ("4", "5"):
            super().log_request(code, size)


def make_explorer_server(db_path: Path, host: str, port: int) -> ExplorerServer:
    """A server for ``db_path`` bound to (host, port), not yet serving; port 0 takes any
    free port. On a loopback host, requests must name a loopback host too."""
    allowed = {*LOOPBACK_NAMES, host} if is_loopback(host) else None
    explorer = Explorer(db_path, allowed_hosts=allowed)
    server_class = _IPv6ExplorerServer if ":" in host else ExplorerServer
    try:
        server = make_server(
            host.strip("[]"), port, explorer, server_class=server_class, handler_class=_QuietHandler
        )
    except BaseException:
        explorer.close()
        raise
    assert isinstance(server, ExplorerServer)
    server.explorer = explorer
    return server
