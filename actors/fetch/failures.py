"""What urllib3, sockets and HTTP statuses report, as the pipeline's failures (contract §4).

A failure that the next attempt may not see again is transient; one it would is permanent.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    InvalidHeader,
    NewConnectionError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.response import BaseHTTPResponse

from actors.errors import ImageFailure, PermanentFailure, TransientFailure
from actors.fetch.deadline import Deadline
from actors.fetch.responses import discard
from actors.guard import ParsedTarget
from storage.vocabulary import FailureReason


@contextmanager
def failures(target: ParsedTarget, deadline: Deadline) -> Iterator[None]:
    """Turn what urllib3 and sockets raise into the pipeline's failures (contract §4)."""
    host = target.host
    try:
        yield
    except ImageFailure:
        raise
    except NewConnectionError as exc:  # before its base class, ConnectTimeoutError
        raise TransientFailure(
            FailureReason.UPSTREAM_ERROR, f"could not connect to {host}: {exc}"
        ) from exc
    except (ConnectTimeoutError, ReadTimeoutError, TimeoutError) as exc:
        message = f"{host} did not answer completely within {deadline.seconds:g} s"
        raise TransientFailure(FailureReason.TIMEOUT, message) from exc
    except SSLError as exc:
        raise _tls_failure(host, exc) from exc
    except InvalidHeader as exc:  # urllib3 raises it for unequal repeated Content-Lengths
        raise invalid_answer(f"invalid Content-Length ({exc})") from exc
    except (HTTPError, OSError) as exc:
        raise TransientFailure(
            FailureReason.UPSTREAM_ERROR, f"the connection to {host} broke: {exc}"
        ) from exc


def _tls_failure(host: str, exc: SSLError) -> ImageFailure:
    # A certificate that does not verify will not verify on the next attempt either.
    causes = (*exc.args, exc.__cause__)
    if any(isinstance(cause, ssl.SSLCertVerificationError) for cause in causes):
        return PermanentFailure(
            FailureReason.UPSTREAM_ERROR, f"the certificate of {host} is not valid: {exc}"
        )
    return TransientFailure(FailureReason.UPSTREAM_ERROR, f"TLS with {host} failed: {exc}")


def raise_for_status(response: BaseHTTPResponse, target: ParsedTarget) -> None:
    status = response.status
    if 200 <= status < 300:
        return
    discard(response)
    message = f"the origin answered {status}"
    if status in (404, 410):
        raise PermanentFailure(FailureReason.NOT_FOUND, message)
    if status == 429 or status >= 500:
        raise TransientFailure(FailureReason.UPSTREAM_ERROR, message)
    raise PermanentFailure(FailureReason.UPSTREAM_ERROR, message)


def invalid_answer(detail: str) -> PermanentFailure:
    # A malformed answer is how this origin answers this URL: another attempt gets the same.
    return PermanentFailure(
        FailureReason.UPSTREAM_ERROR, f"the origin sent a malformed answer: {detail}"
    )


def too_large(limit: int, detail: str) -> PermanentFailure:
    return PermanentFailure(
        FailureReason.TOO_LARGE, f"the file is larger than {limit} bytes ({detail})"
    )
