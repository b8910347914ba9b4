"""What becomes of a response's connection: drained and reused, or closed and dropped."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from urllib3.exceptions import HTTPError
from urllib3.response import BaseHTTPResponse

CHUNK = 64 * 1024
# A redirect or error body up to this size is read and dropped so the connection can be
# reused; a longer one is not worth the wait, and the connection is closed instead.
_DISCARD_LIMIT = 64 * 1024


def discard(response: BaseHTTPResponse) -> None:
    """Read a short body to its end so the connection can be reused; else close it.

    Only the status matters here, so a body that fails to arrive is no error: the connection
    is closed, and a deadline it used up is noticed by the next step of the attempt.
    """
    read = 0
    try:
        while read <= _DISCARD_LIMIT and (chunk := response.read1(CHUNK)):
            read += len(chunk)
    except (HTTPError, OSError):
        read = _DISCARD_LIMIT + 1
    if read > _DISCARD_LIMIT:
        abandon(response)
    response.release_conn()


def abandon(response: BaseHTTPResponse) -> None:
    """Close the connection: a half-read one must never go back to the pool for reuse."""
    response.close()
    response.release_conn()  # hands back the closed connection, which frees its pool slot


@contextmanager
def abandoned_on_error(response: BaseHTTPResponse) -> Iterator[None]:
    try:
        yield
    except BaseException:
        abandon(response)
        raise
