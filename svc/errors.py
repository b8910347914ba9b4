"""Domain errors of the API and their one mapping to HTTP."""

from __future__ import annotations

import logging
from typing import Any

import falcon
import redis
from pony.orm import core as orm
from pony.orm import dbapiprovider

from actors.errors import OptionError
from actors.manifest.errors import ManifestError

log = logging.getLogger("imgpress.api")
# A database locked past its busy timeout, or unreachable (PostgreSQL's lost connection is an
# InterfaceError as often as an OperationalError).
_DATABASE_DOWN = (dbapiprovider.OperationalError, dbapiprovider.InterfaceError)


class ApiError(Exception):
    """Raised when a request cannot be served; carries the HTTP status and a precise description."""

    def __init__(self, status: int, title: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.title = title
        self.description = description


def bad_request(description: str) -> ApiError:
    return ApiError(400, "Bad request", description)


def _answer(resp: falcon.Response, status: int, title: str, description: str) -> None:
    resp.status = status
    resp.media = {"title": title, "description": description}


def _api_error(req: falcon.Request, resp: falcon.Response, error: ApiError, params: Any) -> None:
    _answer(resp, error.status, error.title, error.description)


def _manifest_error(
    req: falcon.Request, resp: falcon.Response, error: ManifestError, params: Any
) -> None:
    _answer(resp, error.status, error.title, error.description)


def _option_error(
    req: falcon.Request, resp: falcon.Response, error: OptionError, params: Any
) -> None:
    _answer(resp, 400, "Bad request", str(error))


def _unexpected(req: falcon.Request, resp: falcon.Response, error: Exception, params: Any) -> None:
    log.exception("unexpected error on %s %s", req.method, req.path)
    _answer(resp, 500, "Internal error", "the server failed; the error was logged")


def _serialize_falcon_error(
    req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError
) -> None:
    """Falcon's own errors (404 for an unknown route, 405, a malformed body) in our shape."""
    description = error.description or f"{req.method} {req.path}: {error.title}"
    resp.content_type = falcon.MEDIA_JSON
    resp.media = {"title": error.title, "description": description}


def _backend_down(
    req: falcon.Request, resp: falcon.Response, error: Exception, params: Any
) -> None:
    # Redis or the database is unreachable: the request did nothing, so it is safe to retry.
    log.warning("backend unavailable on %s %s: %s", req.method, req.path, error)
    _answer(resp, 503, "Service unavailable", "the queue or the database is unavailable; retry")
    resp.retry_after = 5


def _causes(error: orm.TransactionError) -> list[BaseException]:
    """What Pony wrapped: a failed save (UnexpectedError) or a failed commit (CommitException
    and its kin) carry the database's own error."""
    if isinstance(error, orm.UnexpectedError):
        return [error.original_exc]
    return [exc for _, exc, _ in getattr(error, "exceptions", ())]


def _transaction_failed(
    req: falcon.Request, resp: falcon.Response, error: orm.TransactionError, params: Any
) -> None:
    down = isinstance(error, orm.ConnectionClosedError) or any(
        isinstance(cause, _DATABASE_DOWN) for cause in _causes(error)
    )
    (_backend_down if down else _unexpected)(req, resp, error, params)


def install(app: falcon.App) -> None:
    """Handlers are searched most-specific first: Falcon's own for HTTPError still wins over
    the catch-all, which only sees the unforeseen (and answers without a traceback)."""
    app.set_error_serializer(_serialize_falcon_error)
    app.add_error_handler(Exception, _unexpected)
    app.add_error_handler(ApiError, _api_error)
    app.add_error_handler(ManifestError, _manifest_error)
    app.add_error_handler(OptionError, _option_error)
    app.add_error_handler(redis.RedisError, _backend_down)
    app.add_error_handler(_DATABASE_DOWN, _backend_down)
    app.add_error_handler(orm.TransactionError, _transaction_failed)
