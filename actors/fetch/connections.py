"""urllib3 connections whose responses read the socket only until the current deadline."""

from __future__ import annotations

import http.client
import io
import socket
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection

from actors.fetch.deadline import current_deadline


class _DeadlineReader(io.RawIOBase):
    """A socket reader whose every receive waits at most until the current deadline.

    A per-read timeout alone lets a server that sends one byte per second keep a response
    (status line, headers, chunk sizes or body) alive for ever; this bounds the sum.
    """

    def __init__(self, inner: io.RawIOBase, sock: socket.socket) -> None:
        super().__init__()
        self._inner = inner
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        deadline = current_deadline()
        if deadline is not None:
            self._sock.settimeout(deadline.left())
        return self._inner.readinto(buffer)

    def fileno(self) -> int:
        return self._inner.fileno()

    def close(self) -> None:
        # Closing the inner SocketIO releases its hold on the socket, as http.client expects.
        self._inner.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    """http.client's response, reading through a `_DeadlineReader`."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        raw = self.fp.detach()  # nothing is buffered yet
        self.fp = io.BufferedReader(_DeadlineReader(raw, sock))


class DeadlineHTTPConnection(HTTPConnection):
    response_class = _DeadlineResponse


class DeadlineHTTPSConnection(HTTPSConnection):
    response_class = _DeadlineResponse
