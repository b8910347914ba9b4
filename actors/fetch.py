"""The one module that makes outgoing HTTP requests: guarded downloads and webhook POSTs.

Every request goes through the guard (`actors.guard`) and is then sent to the very address
the guard checked: pools are built per resolved IP, with the name carried in the Host header
and in TLS (SNI and certificate check). Redirects are followed by hand so that each hop is
checked again. One deadline covers a whole attempt: connecting, every read of the headers and
of the body, and every redirect hop, so a server that drips bytes cannot hold a worker.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any
from urllib.parse import urljoin

from urllib3 import HTTPConnectionPool, HTTPHeaderDict, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.response import BaseHTTPResponse
from urllib3.util import Timeout

from actors.errors import ImageFailure, PermanentFailure, TransientFailure
from actors.guard import ParsedTarget, check_url, resolve_allowed
from ops.config import Config

USER_AGENT = "imgpress/0.1"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

_CHUNK = 64 * 1024
# A redirect or error body up to this size is read and dropped so the connection can be
# reused; a longer one is not worth the wait, and the connection is closed instead.
_DISCARD_LIMIT = 64 * 1024
# Pools kept open, least recently used closed first: a CSV naming thousands of hosts must not
# hold thousands of idle sockets.
_MAX_POOLS = 64
# Idle keep-alive connections kept per pool: about the number of worker threads per process.
_CONNECTIONS_PER_POOL = 8


# A body up to this size is kept in memory; a larger one is written to an unlinked temporary
# file (in TMPDIR: local disk, where the data dir may be network storage). A worker's threads
# download while one of them compresses, and sixteen threads each holding a 6 MB camera JPEG
# would be ~100 MB of the worker's memory (issue 4).
_IN_MEMORY_BODY = 1024 * 1024


@dataclass(frozen=True)
class Download:
    """A fetched body and what came with it; close it (or use `with`) to free its spool."""

    body: IO[bytes]
    size: int
    content_type: str | None
    final_url: str

    def read(self) -> bytes:
        self.body.seek(0)
        return self.body.read()

    def close(self) -> None:
        self.body.close()

    def __enter__(self) -> Download:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class _Deadline:
    """The end of one attempt; every blocking step gets only the time that is left."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def left(self) -> float:
        remaining = self._end - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"the {self.seconds:g} s deadline has passed")
        return remaining

    def timeout(self) -> Timeout:
        left = self.left()
        return Timeout(connect=left, read=left)


# The deadline of the attempt running in this thread. A context variable, because urllib3
# picks the connection inside `urlopen`, out of our reach; each thread has its own context.
_current_deadline: ContextVar[_Deadline | None] = ContextVar("imgpress_deadline", default=None)


@contextmanager
def _within(deadline: _Deadline) -> Iterator[None]:
    token = _current_deadline.set(deadline)
    try:
        yield
    finally:
        _current_deadline.reset(token)


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
        deadline = _current_deadline.get()
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


class _HTTPConnection(HTTPConnection):
    response_class = _DeadlineResponse


class _HTTPSConnection(HTTPSConnection):
    response_class = _DeadlineResponse


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _Pools:
    """Connection pools per (scheme, IP, port, host name), shared by the worker's threads."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self._ssl_context = ssl_context
        self._lock = threading.Lock()
        self._pools: OrderedDict[tuple[str, str, int, str], HTTPConnectionPool] = OrderedDict()

    def get(self, target: ParsedTarget, ip: str) -> HTTPConnectionPool:
        key = (target.scheme, ip, target.port, target.host)
        with self._lock:
            if key not in self._pools:
                self._pools[key] = self._new(target, ip)
            self._pools.move_to_end(key)
            pool = self._pools[key]
            evicted = self._pools.popitem(last=False)[1] if len(self._pools) > _MAX_POOLS else None
        if evicted is not None:
            evicted.close()  # connections still in use are closed when they come back
        return pool

    def _new(self, target: ParsedTarget, ip: str) -> HTTPConnectionPool:
        options: dict[str, Any] = {"maxsize": _CONNECTIONS_PER_POOL, "retries": False}
        if target.scheme == "http":
            return _HTTPPool(ip, target.port, **options)
        # The socket goes to `ip`; SNI and the certificate check use the name from the URL.
        return _HTTPSPool(
            ip, target.port, server_hostname=target.host, ssl_context=self._ssl_context, **options
        )

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            pool.close()


class Fetcher:
    """Guarded HTTP for the pipeline: one instance per process, safe to share between threads."""

    def __init__(self, config: Config, ssl_context: ssl.SSLContext | None = None) -> None:
        self._config = config
        # `ssl_context` is for tests that trust their own certificate authority.
        self._pools = _Pools(ssl_context or ssl.create_default_context())

    def download(self, url: str) -> Download:
        """Fetch `url` in ONE attempt (retrying is the caller's business) or raise ImageFailure."""
        target = check_url(url)
        deadline = _Deadline(self._config.fetch_timeout)
        with _failures(target, deadline), _within(deadline):
            response, target = self._follow(target, deadline)
            body, size = self._read_body(response)
        return Download(body, size, response.headers.get("Content-Type"), target.url)

    def post_json(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST `body` to `url` and return the status; redirects are answers, not followed."""
        target = check_url(url)
        deadline = _Deadline(self._config.webhook_timeout)
        with _failures(target, deadline), _within(deadline):
            response = self._send("POST", target, deadline, body, headers)
            _discard(response)
        return response.status

    def close(self) -> None:
        self._pools.close()

    def _follow(
        self, target: ParsedTarget, deadline: _Deadline
    ) -> tuple[BaseHTTPResponse, ParsedTarget]:
        for _hop in range(self._config.max_redirects + 1):
            response = self._send("GET", target, deadline)
            location = response.headers.get("Location")
            if response.status not in REDIRECT_STATUSES or not location:
                _raise_for_status(response, target)
                return response, target
            _discard(response)
            target = check_url(urljoin(target.url, location))  # every hop is checked again
        raise PermanentFailure(
            "too_many_redirects", f"more than {self._config.max_redirects} redirects"
        )

    def _send(
        self,
        method: str,
        target: ParsedTarget,
        deadline: _Deadline,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> BaseHTTPResponse:
        addresses = resolve_allowed(target.host, target.port, self._config.allow_private_urls)
        for ip in addresses[:-1]:
            try:
                return self._urlopen(method, target, ip, deadline, body, headers)
            except NewConnectionError:
                continue  # refused or unreachable at once: the next address may answer
        return self._urlopen(method, target, addresses[-1], deadline, body, headers)

    def _urlopen(
        self,
        method: str,
        target: ParsedTarget,
        ip: str,
        deadline: _Deadline,
        body: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> BaseHTTPResponse:
        # Case-insensitive, so a caller's own user-agent replaces ours rather than doubling it.
        sent = HTTPHeaderDict({"User-Agent": USER_AGENT})
        sent.update(headers or {})
        sent["Host"] = target.host_header  # the name; the socket goes to `ip`
        return self._pools.get(target, ip).urlopen(
            method,
            target.path,
            body=body,
            headers=sent,
            retries=False,
            redirect=False,
            assert_same_host=False,
            timeout=deadline.timeout(),
            preload_content=False,
            release_conn=False,
        )

    def _read_body(self, response: BaseHTTPResponse) -> tuple[IO[bytes], int]:
        limit = self._config.max_image_bytes
        announced = _content_length(response)
        if announced is not None and announced > limit:
            _abandon(response)  # refused on the header alone: the body is never read
            raise _too_large(limit, f"Content-Length is {announced}")
        body, size = _spool(), 0
        with _abandoned_on_error(response), _closed_on_error(body):
            while chunk := response.read1(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit, "the body went on past it")
                body.write(chunk)
        response.release_conn()
        return body, size


def _spool() -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=_IN_MEMORY_BODY)


def _too_large(limit: int, detail: str) -> PermanentFailure:
    return PermanentFailure("too_large", f"the file is larger than {limit} bytes ({detail})")


def _content_length(response: BaseHTTPResponse) -> int | None:
    raw = response.headers.get("Content-Length", "")
    return int(raw) if raw.strip().isdigit() else None


def _raise_for_status(response: BaseHTTPResponse, target: ParsedTarget) -> None:
    status = response.status
    if 200 <= status < 300:
        return
    _discard(response)
    message = f"the origin answered {status}"
    if status in (404, 410):
        raise PermanentFailure("not_found", message)
    if status == 429 or status >= 500:
        raise TransientFailure("upstream_error", message)
    raise PermanentFailure("upstream_error", message)


def _discard(response: BaseHTTPResponse) -> None:
    """Read a short body to its end so the connection can be reused; else close it.

    Only the status matters here, so a body that fails to arrive is no error: the connection
    is closed, and a deadline it used up is noticed by the next step of the attempt.
    """
    read = 0
    try:
        while read <= _DISCARD_LIMIT and (chunk := response.read1(_CHUNK)):
            read += len(chunk)
    except (HTTPError, OSError):
        read = _DISCARD_LIMIT + 1
    if read > _DISCARD_LIMIT:
        _abandon(response)
    response.release_conn()


def _abandon(response: BaseHTTPResponse) -> None:
    """Close the connection: a half-read one must never go back to the pool for reuse."""
    response.close()
    response.release_conn()  # hands back the closed connection, which frees its pool slot


@contextmanager
def _abandoned_on_error(response: BaseHTTPResponse) -> Iterator[None]:
    try:
        yield
    except BaseException:
        _abandon(response)
        raise


@contextmanager
def _closed_on_error(body: IO[bytes]) -> Iterator[None]:
    try:
        yield
    except BaseException:
        body.close()
        raise


@contextmanager
def _failures(target: ParsedTarget, deadline: _Deadline) -> Iterator[None]:
    """Turn what urllib3 and sockets raise into the pipeline's failures (contract §4)."""
    host = target.host
    try:
        yield
    except ImageFailure:
        raise
    except NewConnectionError as exc:  # before its base class, ConnectTimeoutError
        raise TransientFailure("upstream_error", f"could not connect to {host}: {exc}") from exc
    except (ConnectTimeoutError, ReadTimeoutError, TimeoutError) as exc:
        message = f"{host} did not answer completely within {deadline.seconds:g} s"
        raise TransientFailure("timeout", message) from exc
    except SSLError as exc:
        raise _tls_failure(host, exc) from exc
    except (HTTPError, OSError) as exc:
        raise TransientFailure("upstream_error", f"the connection to {host} broke: {exc}") from exc


def _tls_failure(host: str, exc: SSLError) -> ImageFailure:
    # A certificate that does not verify will not verify on the next attempt either.
    causes = (*exc.args, exc.__cause__)
    if any(isinstance(cause, ssl.SSLCertVerificationError) for cause in causes):
        return PermanentFailure("upstream_error", f"the certificate of {host} is not valid: {exc}")
    return TransientFailure("upstream_error", f"TLS with {host} failed: {exc}")
