"""A downloaded body: read under the byte cap into a spool, kept with what came with it."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import IO

from urllib3.response import BaseHTTPResponse

from actors.errors import TransientFailure
from actors.fetch.failures import invalid_answer, too_large
from actors.fetch.responses import CHUNK, abandon, abandoned_on_error
from storage.vocabulary import FailureReason

# A body up to this size is kept in memory; a larger one is written to an unlinked temporary
# file (in TMPDIR: local disk, where the data dir may be network storage). A worker's threads
# download while one of them compresses, and sixteen threads each holding a 6 MB camera JPEG
# would be ~100 MB of the worker's memory (issue 4).
_IN_MEMORY_BODY = 1024 * 1024
# ASCII digits only: int() and str.isdigit() also take other scripts' digits, and isdigit()
# takes "²", which int() then refuses.
_LENGTH = re.compile(r"[0-9]+")


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


def read_body(response: BaseHTTPResponse, limit: int) -> tuple[IO[bytes], int]:
    """The body spooled and its size, or PermanentFailure when it is over `limit` bytes."""
    announced = _content_length(response)
    if announced is not None and announced > limit:
        abandon(response)  # refused on the header alone: the body is never read
        raise too_large(limit, f"Content-Length is {announced}")
    body, size = _spool(), 0
    with abandoned_on_error(response), _closed_on_error(body):
        while chunk := response.read1(CHUNK):
            size += len(chunk)
            if size > limit:
                raise too_large(limit, "the body went on past it")
            _spooled(body, chunk)
    response.release_conn()
    return body, size


def _spool() -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=_IN_MEMORY_BODY)


def _spooled(body: IO[bytes], chunk: bytes) -> None:
    # Our disk, not the origin: ENOSPC or EIO may pass by the next attempt, and when the
    # retries run out the report must not blame the origin (as an OSError would, read as a
    # broken connection).
    try:
        body.write(chunk)
    except OSError as exc:
        raise TransientFailure(
            FailureReason.INTERNAL_ERROR, f"the download could not be spooled to local disk: {exc}"
        ) from exc


def _content_length(response: BaseHTTPResponse) -> int | None:
    """The announced length; a malformed one breaks the framing, so nothing can be trusted.

    Repeated equal values ("10, 10", or the header twice) are one length (RFC 9110 §8.6).
    """
    raw = response.headers.get("Content-Length")
    if raw is None:
        return None
    values = [value.strip() for value in raw.split(",")]
    if not all(_LENGTH.fullmatch(value) for value in values) or len(set(map(int, values))) > 1:
        abandon(response)
        raise invalid_answer(f"invalid Content-Length {raw[:40]!r}")
    return int(values[0])


@contextmanager
def _closed_on_error(body: IO[bytes]) -> Iterator[None]:
    try:
        yield
    except BaseException:
        body.close()
        raise
