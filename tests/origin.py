"""A loopback HTTP origin for tests: real sockets on 127.0.0.1, routes set per test.

It serves files (`serve`), redirects, bare status codes, and misbehaviour a real origin can
show: bodies that drip a byte at a time, headers that promise a body and then stall,
Content-Length values that lie, chunked or close-delimited bodies of any size. Every request
it receives is logged, with the client's port, so a test can tell connections apart, and so is
every answer's start and end, so a test can tell how many were under way at once.

    with Origin() as origin:
        origin.serve("/cat.jpg", jpeg_bytes, "image/jpeg")
        url = origin.url("/cat.jpg")
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import ssl
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import Any, Literal

# "length": Content-Length and keep-alive; "chunked"; "close": no length, the body ends when
# the origin closes the connection.
Framing = Literal["length", "chunked", "close"]


@dataclass(frozen=True)
class Route:
    """What the origin answers on one path."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    framing: Framing = "length"
    # A Content-Length to announce instead of the true one (a lie); the connection is closed
    # after the body so that a client waiting for more sees the truncation.
    content_length: int | None = None
    drip: float | None = None  # seconds between single bytes of the body
    drip_head: bool = False  # drip the status line and headers too
    stall: bool = False  # send the head, then nothing until the origin stops


@dataclass(frozen=True)
class Request:
    """One request the origin received."""

    method: str
    path: str  # with its query
    headers: dict[str, str]
    body: bytes
    connection: int  # the client's port: one value per TCP connection


class _Server(ThreadingMixIn, HTTPServer):
    # Handler threads are joined at stop, so no test leaves one behind.
    daemon_threads = False
    block_on_close = True

    def __init__(self, origin: Origin) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.origin = origin

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gives up mid-response (as the fetcher must) is expected here.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # head and body are separate writes: no 40 ms ACK waits
    server: _Server

    def setup(self) -> None:
        tls = self.server.origin.tls
        if tls is not None:
            self.request = tls.wrap_socket(self.request, server_side=True)
        super().setup()
        self.server.origin._opened(self.connection)

    def finish(self) -> None:
        self.server.origin._closed(self.connection)
        super().finish()
        if self.server.origin.tls is not None:
            self.connection.close()  # the server closes only the plain socket it accepted

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is `Origin.requests`

    def do_GET(self) -> None:
        self.server.origin._answer(self)

    do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = do_GET


class Origin:
    """A threaded HTTP (or HTTPS, given a server TLS context) origin on 127.0.0.1, port 0."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self._routes: dict[str, Route] = {}
        self._requests: list[Request] = []
        # (path, +1) when an answer starts, (path, -1) when it ends, in the order they happened.
        self._answer_steps: list[tuple[str, int]] = []
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # Life cycle

    def start(self) -> Origin:
        self._server = _Server(self)
        # A short poll interval: `stop` waits for the accept loop to notice it.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.01,), name="origin"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._stopping.set()  # ends drips and stalls
        self._server.shutdown()
        self._thread.join()
        with self._lock:
            idle = list(self._sockets)
        for sock in idle:  # keep-alive connections waiting for a next request
            _shut(sock)
        self._server.server_close()  # joins the handler threads
        self._server = None

    def __enter__(self) -> Origin:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Addresses

    @property
    def port(self) -> int:
        assert self._server is not None, "the origin is not started"
        return int(self._server.server_address[1])

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        """An absolute URL on this origin; `host` may be another name for 127.0.0.1."""
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    # Routes

    def route(self, path: str, route: Route) -> None:
        with self._lock:
            self._routes[path] = route

    def serve(self, path: str, body: bytes, content_type: str = "application/octet-stream") -> None:
        """Serve `body` on `path` with status 200 and the given Content-Type."""
        self.route(path, Route(body=body, headers={"Content-Type": content_type}))

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.route(path, Route(status=status, headers={"Location": location}))

    def answer(self, path: str, status: int, body: bytes = b"") -> None:
        """Answer `path` with a bare status code (and an optional short body)."""
        self.route(path, Route(status=status, body=body))

    # What happened

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    @property
    def connections(self) -> set[int]:
        """The client ports seen: one per TCP connection made to the origin."""
        return {request.connection for request in self.requests}

    def answering(self, prefix: str) -> int:
        """How many answers on paths starting with `prefix` are being written now."""
        return next(reversed(self._answers_under_way(prefix)), 0)

    def most_answering(self, prefix: str) -> int:
        """The most answers on paths starting with `prefix` that were ever written at once."""
        return max(self._answers_under_way(prefix), default=0)

    def _answers_under_way(self, prefix: str) -> list[int]:
        """How many answers under `prefix` were under way after each of their starts and ends."""
        with self._lock:
            steps = [step for path, step in self._answer_steps if path.startswith(prefix)]
        return list(itertools.accumulate(steps))

    # The handler's side

    def _opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)
            if self._stopping.is_set():  # opened after `stop` looked: it would wait for ever
                _shut(sock)

    def _closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def _answer(self, handler: _Handler) -> None:
        request = _record(handler)
        path = request.path.split("?")[0]
        with self._lock:
            self._requests.append(request)
            route = self._routes.get(path, Route(status=404))
            self._answer_steps.append((path, 1))
        try:
            _Responder(handler, route, self._stopping).send()
        finally:  # a client that went away mid-answer ends it too (the write raised)
            with self._lock:
                self._answer_steps.append((path, -1))


def _record(handler: _Handler) -> Request:
    length = int(handler.headers.get("Content-Length") or 0)
    body = handler.rfile.read(length) if length else b""
    return Request(
        method=handler.command,
        path=handler.path,
        headers=dict(handler.headers.items()),
        body=body,
        connection=int(handler.client_address[1]),
    )


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already gone
        sock.shutdown(socket.SHUT_RDWR)


class _Responder:
    """Writes one response exactly as the route says, misbehaviour included."""

    def __init__(self, handler: _Handler, route: Route, stopping: threading.Event) -> None:
        self.handler = handler
        self.route = route
        self.stopping = stopping

    def send(self) -> None:
        route = self.route
        closes = route.framing == "close" or route.stall or route.content_length is not None
        self.handler.close_connection = closes or route.drip is not None
        self._write(self._head(), drip=route.drip if route.drip_head else None)
        if route.stall:
            self.stopping.wait()
            return
        if self.handler.command != "HEAD":
            self._write_body()

    def _head(self) -> bytes:
        route = self.route
        reason = _reason(route.status)
        headers = dict(route.headers)
        if route.framing == "chunked":
            headers["Transfer-Encoding"] = "chunked"
        elif route.framing == "length" or route.content_length is not None:
            length = route.content_length
            headers["Content-Length"] = str(len(route.body) if length is None else length)
        if self.handler.close_connection:
            headers["Connection"] = "close"
        lines = [f"HTTP/1.1 {route.status} {reason}", *(f"{k}: {v}" for k, v in headers.items())]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _write_body(self) -> None:
        if self.route.framing != "chunked":
            self._write(self.route.body, drip=self.route.drip)
            return
        for piece in _pieces(self.route.body, 64 * 1024):
            self._write(b"%x\r\n%s\r\n" % (len(piece), piece), drip=self.route.drip)
        self._write(b"0\r\n\r\n", drip=self.route.drip)

    def _write(self, data: bytes, drip: float | None) -> None:
        out = self.handler.wfile
        if drip is None:
            out.write(data)
            out.flush()
            return
        for byte in _pieces(data, 1):
            # Waiting on the stop event (not sleeping) lets the origin stop at once.
            if self.stopping.wait(drip):
                return
            out.write(byte)
            out.flush()


def _pieces(data: bytes, size: int) -> Iterator[bytes]:
    return (data[start : start + size] for start in range(0, len(data), size))
