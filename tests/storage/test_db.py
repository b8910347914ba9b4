"""storage.db's binding on PostgreSQL: what a process holds once it has bound.

Pony binds once per process, so the binding runs in a process of its own that waits, bound,
while the test looks at the server.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.postgres import ADMIN_URL, fresh_database

_BIND_AND_WAIT = """
import sys
from storage import db
db.bind(sys.argv[1])
print("bound", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def postgres_database() -> Iterator[str]:
    if not ADMIN_URL:
        pytest.skip("IMGPRESS_TEST_POSTGRES_URL is not set")
    with fresh_database("imgpress_bind") as url:
        yield url


def _connections(url: str) -> list[str]:
    """The last query of every other connection to `url`'s database."""

    return [row[0] for row in _run(url, _OTHER_CONNECTIONS)]


_OTHER_CONNECTIONS = (
    "SELECT query FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def _run(url: str, sql: str) -> list[tuple[object, ...]]:
    import psycopg2

    connection = psycopg2.connect(url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def _while_up(url: str, script: str, says: str) -> list[str]:
    """The other connections to `url`'s database while a process running `script` is up."""
    process = subprocess.Popen(
        [sys.executable, "-c", script, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == f"{says}\n"
        return _connections(url)
    finally:
        process.communicate("")


@pytest.mark.postgres
def test_binding_a_fresh_database_keeps_no_connection_for_the_schema_lock(
    postgres_database: str,
) -> None:
    # Given a fresh PostgreSQL database nobody is connected to
    assert _connections(postgres_database) == []

    # When a process binds it (creating the tables under the schema lock) and stays up
    held = _while_up(postgres_database, _BIND_AND_WAIT, "bound")

    # Then the lock's connection is closed: at most Pony's own connection remains
    assert not [query for query in held if "pg_advisory" in query]
    assert len(held) <= 1
