"""Connection pools per resolved IP, shared by a worker's threads, least recently used closed.

A pool is built for the address the guard checked, so the socket goes there and nowhere else.
"""

from __future__ import annotations

import ssl
import threading
from collections import OrderedDict
from typing import Any

from urllib3 import HTTPConnectionPool, HTTPSConnectionPool

from actors.fetch.connections import DeadlineHTTPConnection, DeadlineHTTPSConnection
from actors.guard import ParsedTarget

# Pools kept open, least recently used closed first: a CSV naming thousands of hosts must not
# hold thousands of idle sockets.
_MAX_POOLS = 64
# Idle keep-alive connections kept per pool: about the number of worker threads per process.
_CONNECTIONS_PER_POOL = 8


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = DeadlineHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = DeadlineHTTPSConnection


class Pools:
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
