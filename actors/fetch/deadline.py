"""The deadline of one fetch attempt, and the attempt running in this thread.

One deadline covers connecting, every read and every redirect hop; each blocking step gets
only the time that is left.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from urllib3.util import Timeout


class Deadline:
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
_current_deadline: ContextVar[Deadline | None] = ContextVar("imgpress_deadline", default=None)


def current_deadline() -> Deadline | None:
    return _current_deadline.get()


@contextmanager
def within(deadline: Deadline) -> Iterator[None]:
    token = _current_deadline.set(deadline)
    try:
        yield
    finally:
        _current_deadline.reset(token)
