"""A small HTTP load generator: N threads, each with one keep-alive connection, in a process of
its own (so it does not share a GIL with anything else of the benchmark).

It speaks just enough HTTP/1.1 (GET, Content-Length bodies) to cost a few tens of microseconds
a request: on a 2-core machine the client shares the CPU with the server, and a heavy client
would pull the ratio of two endpoints towards 1.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import dataclass

_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_CONNECT_TIMEOUT_S = 5.0
_READ_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Round:
    path: str
    requests: int
    seconds: float
    errors: int  # answers other than 200, and connections the server closed
    client_cpu_s: float  # the generator's own CPU time: how much it took from the server

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def hammer(port: int, path: str, requests: int, connections: int) -> Round:
    """Send `requests` GETs of `path` over `connections` keep-alive connections at once."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    start = threading.Barrier(connections + 1, timeout=_CONNECT_TIMEOUT_S * 2)
    errors = [0] * connections
    shares = [requests // connections + (n < requests % connections) for n in range(connections)]
    threads = [
        threading.Thread(target=_client, args=(port, request, share, start, errors, n))
        for n, share in enumerate(shares)
    ]
    for thread in threads:
        thread.start()
    start.wait()  # every connection is open: the clock starts
    cpu, started = time.process_time(), time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    return Round(path, requests, seconds, sum(errors), time.process_time() - cpu)


def _client(
    port: int, request: bytes, count: int, start: threading.Barrier, errors: list[int], slot: int
) -> None:
    sock = _connect(port)
    try:
        start.wait()
        for _ in range(count):
            try:
                if _exchange(sock, request) != 200:
                    errors[slot] += 1
            except ConnectionError:  # the server closed a keep-alive connection: open another
                errors[slot] += 1
                sock.close()
                sock = _connect(port)
    finally:
        sock.close()


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=_CONNECT_TIMEOUT_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(_READ_TIMEOUT_S)
    return sock


def _exchange(sock: socket.socket, request: bytes) -> int:
    """Send one request and read its whole answer; the status code."""
    sock.sendall(request)
    data = b""
    while (end := data.find(b"\r\n\r\n")) < 0:
        data += _receive(sock)
    length = _LENGTH.search(data, 0, end + 2)
    if length is None:
        raise ConnectionError("an answer without Content-Length")
    body_end = end + 4 + int(length.group(1))
    while len(data) < body_end:
        data += _receive(sock)
    return int(data[9:12])


def _receive(sock: socket.socket) -> bytes:
    chunk = sock.recv(65536)
    if not chunk:
        raise ConnectionError("closed by the server")
    return chunk
