"""A loopback image origin: photo bytes at distinct paths on 127.0.0.1, with an optional delay.

Keep-alive (HTTP/1.1 with Content-Length) and TCP_NODELAY, so a download costs what a good CDN
costs over loopback and not a 40 ms delayed-ACK stall; the fixed `delay` before each response
stands for a distant origin (goal 2).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


class _Server(ThreadingHTTPServer):
    # Idle keep-alive handlers must not keep the benchmark alive once it is done.
    daemon_threads = True

    def __init__(self, origin: Origin) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.origin = origin


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 60  # an idle keep-alive connection ends its thread after this
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tens of thousands of lines would cost more than the requests

    def do_GET(self) -> None:
        origin = self.server.origin
        body = origin.body(self.path)
        if origin.delay:
            origin.stopping.wait(origin.delay)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header(
            "Content-Type", "image/png" if self.path.endswith(".png") else "image/jpeg"
        )
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Origin:
    """Serves `routes` (path -> bytes) on 127.0.0.1 from a background thread."""

    def __init__(self) -> None:
        self.delay = 0.0  # seconds before each response
        self.stopping = threading.Event()
        self._routes: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="bench-origin", daemon=True
        )
        self.requests = 0
        # When each top folder ("/c1/…" → "c1") was first asked for: a job's first fetch.
        self._first_asked: dict[str, float] = {}

    def serve(self, path: str, body: bytes) -> str:
        """Serve `body` at `path`; the absolute URL to ask for it."""
        with self._lock:
            self._routes[path] = body
        return self.url(path)

    def body(self, path: str) -> bytes | None:
        with self._lock:
            self.requests += 1
            self._first_asked.setdefault(path.split("/", 2)[1], time.perf_counter())
            return self._routes.get(path)

    def first_asked(self, folder: str) -> float | None:
        """The `time.perf_counter()` of the first request under `/<folder>/`, if any came."""
        with self._lock:
            return self._first_asked.get(folder)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def __enter__(self) -> Origin:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stopping.set()  # ends pending delays at once
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
