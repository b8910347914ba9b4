"""Name lookups that wait only until the attempt's deadline.

getaddrinfo takes no timeout and cannot be interrupted (the system resolver's own limit is
5 s per try, times tries and servers), so it runs on a thread of a small pool and the
attempt waits for it only while its deadline lasts. A lookup left behind finishes on its
thread, and its answer is dropped.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from actors.errors import TransientFailure
from actors.fetch.deadline import Deadline
from actors.guard import Lookup, resolve_allowed
from storage.vocabulary import FailureReason

# About a worker's threads: a lookup waits for a thread only when that many hang at once.
_THREADS = 16


class Resolver:
    """The guard's resolution (`resolve_allowed`) under a deadline; shared by threads."""

    def __init__(self, allow_private: bool, lookup: Lookup | None = None) -> None:
        self._allow_private = allow_private
        self._lookup = lookup  # None: socket.getaddrinfo
        self._threads = ThreadPoolExecutor(_THREADS, thread_name_prefix="resolve")

    def addresses(self, host: str, port: int, deadline: Deadline) -> list[str]:
        """The allowed addresses of `host`, or TransientFailure("timeout") at the deadline."""
        wait = deadline.left()
        future = self._threads.submit(
            resolve_allowed, host, port, self._allow_private, self._lookup
        )
        try:
            return future.result(timeout=wait)
        except TimeoutError:  # concurrent.futures' own since Python 3.11
            future.cancel()
            message = f"could not resolve {host} within {deadline.seconds:g} s"
            raise TransientFailure(FailureReason.TIMEOUT, message) from None

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
