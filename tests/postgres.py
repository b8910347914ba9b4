"""A PostgreSQL database of a test's own on the server IMGPRESS_TEST_POSTGRES_URL names.

CI sets the variable when the local server answers; tests that need PostgreSQL skip without it,
so the default suite needs no external service.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

ADMIN_URL = os.environ.get("IMGPRESS_TEST_POSTGRES_URL")


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """The URL of a new, empty database, dropped (connections and all) afterwards."""
    import psycopg2

    assert ADMIN_URL, "IMGPRESS_TEST_POSTGRES_URL is not set"
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = psycopg2.connect(ADMIN_URL)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{name}"))
    finally:
        admin.cursor().execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()
