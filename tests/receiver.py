"""A loopback webhook receiver: records every POST and answers with scripted status codes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """`answers` are used in turn (the last one repeats): e.g. [503, 503, 200]."""

    def __init__(self, answers: list[int] | None = None, port: int = 0) -> None:
        self.answers = list(answers or [200])
        self.deliveries: list[Delivery] = []
        self._lock = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver._record(Delivery(self.path, dict(self.headers), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def _record(self, delivery: Delivery) -> int:
        with self._lock:
            self.deliveries.append(delivery)
            index = min(len(self.deliveries), len(self.answers)) - 1
            self._lock.notify_all()
            return self.answers[index]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Delivery]:
        """Block until `count` deliveries arrived (polled condition, not a sleep)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.deliveries) >= count, timeout):
                raise AssertionError(f"{len(self.deliveries)} deliveries, expected {count}")
            return list(self.deliveries)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def poll(condition: Callable[[], Any], timeout: float = 60.0, every: float = 0.05) -> Any:
    """Wait until `condition()` is truthy and return it; fail the test when it never is."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(every)
