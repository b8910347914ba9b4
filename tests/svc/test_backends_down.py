"""When the database or Redis does not answer: 503 with Retry-After, never a 500, and no
backend error text in any answer (the log has it)."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.svc import test_api
from tests.svc.test_api import upload

client = test_api.client  # the Falcon TestClient fixture, as test_api builds it


class _Impatience:
    """Makes the connections of one thread give up on a lock at once, instead of after the
    service's 30 s busy timeout. Pony opens a new connection after each failed attempt, so
    it is set where connections are made: a hook after the service's own, active for one
    thread only (the worker threads of other tests keep their patience)."""

    def __init__(self) -> None:
        self.thread: int | None = None
        self.installed = False

    def on_connect(self, connection: Any) -> None:
        if threading.get_ident() == self.thread:
            connection.execute("PRAGMA busy_timeout = 0")

    @contextmanager
    def in_this_thread(self) -> Iterator[None]:
        from storage.db import db

        if not self.installed:  # Pony takes only functions
            db.on_connect(provider="sqlite")(lambda _, connection: self.on_connect(connection))
            self.installed = True
        # This thread's connection is closed on the way in and out (Pony's pool is one per
        # thread), so the next one is made with or without the hook: no statement has to
        # wait for the lock to change it.
        db.disconnect()
        self.thread = threading.get_ident()
        try:
            yield
        finally:
            self.thread = None
            db.disconnect()


_impatience = _Impatience()


@contextmanager
def _database_locked() -> Iterator[None]:
    """Another connection holds the write lock on the service's SQLite file; the test client
    runs requests in this thread, whose connections give up on it at once."""
    from storage.db import sqlite_file

    assert sqlite_file is not None
    with _impatience.in_this_thread():
        holder = sqlite3.connect(sqlite_file, timeout=30, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            yield
        finally:
            holder.close()


def test_an_upload_while_the_database_is_locked_is_503_with_retry_after(client) -> None:
    # Given a database that another connection holds locked
    with _database_locked():
        # When a good upload arrives
        result = upload(client)
    # Then it is refused as unavailable, to be retried, without the database's own words
    assert result.status_code == 503, result.text
    assert result.headers["retry-after"] == "5"
    assert "locked" not in result.text
    # And once the lock is gone, the same upload is accepted
    assert upload(client).status_code == 202


def test_readiness_names_what_is_down_but_not_its_error(caplog) -> None:
    import falcon.testing
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from svc import errors
    from svc.resources import ReadyResource
    from tests.e2e.service import free_port

    # Given a Redis nobody answers for, and a database that answers
    port = free_port()
    dead = redis.Redis(port=port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    app = falcon.App()
    errors.install(app)
    app.add_route("/readyz", ReadyResource({"redis": dead.ping, "database": lambda: None}))
    # When anyone asks whether the service is ready
    with caplog.at_level(logging.WARNING, logger="imgpress.api"):
        answer = falcon.testing.TestClient(app).simulate_get("/readyz")
    # Then it is 503 naming redis, with none of the client's own words (host, port, errno)
    assert answer.status_code == 503
    assert str(port) not in answer.text and "refused" not in answer.text.lower(), answer.text
    assert answer.json["status"] == "unavailable" and list(answer.json["failures"]) == ["redis"]
    assert "redis" in answer.json["description"] and "database" not in answer.json["description"]
    # And the log has the detail for the operator
    assert str(port) in caplog.text and "redis" in caplog.text
