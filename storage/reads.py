"""The hot read: one job's view, in plain SQL.

`GET /status` is what clients poll. Loading the Pony entity costs ~90 µs, the same row through
Pony's connection ~25 µs (most of it the db_session around it), and through a read-only SQLite
connection of the thread's own ~5 µs. So this one read skips the entity layer, and on SQLite
Pony too; on PostgreSQL it runs inside a db_session on Pony's connection.
Values come back as each driver gives them (SQLite: text; psycopg2: datetimes, parsed JSON).
`in_session` runs plain SQL inside a caller's transaction, for writes of many rows at once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pony.orm import db_session

from storage import db as storage_db
from storage.db import db

_COLUMNS = (
    "id, status, created_at, completed_at, error, options, total_images, skipped_rows,"
    " processed_images, failed_images, announced, webhook_url, webhook_state,"
    " webhook_attempts, webhook_last_status"
)


_local = threading.local()


def _sqlite_connection(filename: str) -> sqlite3.Connection:
    connection = getattr(_local, "connection", None)
    if connection is None:
        # Autocommit: each SELECT reads its own WAL snapshot and holds no lock after it.
        connection = sqlite3.connect(filename, isolation_level=None)
        for pragma in storage_db.SQLITE_CACHE:
            connection.execute(pragma)
        _local.connection = connection
    return connection


def fetch(sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run one read, outside any Pony session."""
    if storage_db.sqlite_file is not None:
        return _sqlite_connection(storage_db.sqlite_file).execute(sql, params).fetchall()
    with db_session:
        return list(in_session(sql, *params).fetchall())


def in_pages(sql: str, *params: Any, size: int) -> Iterator[tuple[Any, ...]]:
    """Every row of a keyset query, `size` at a time: `sql` ends in `> ? ORDER BY <key>
    LIMIT ?` and selects the key first, so each page starts after the last one's key."""
    after: Any = -1
    while page := fetch(sql, *params, after, size):
        yield from page
        after = page[-1][0]


def scalar_in_session(sql: str, *params: Any) -> int:
    """The one number a query of the caller's db_session answers; 0 for NULL."""
    [(value,)] = in_session(sql, *params).fetchall()
    return int(value or 0)


def in_session(sql: str, *params: Any) -> Any:
    """Run one statement in the caller's db_session, inside its transaction, with `?`
    placeholders on SQLite and PostgreSQL alike; the DB-API cursor, for its rows."""
    cursor = db.get_connection().cursor()
    cursor.execute(sql if storage_db.sqlite_file is not None else sql.replace("?", "%s"), params)
    return cursor


JOB_COLUMNS = tuple(_COLUMNS.replace(" ", "").split(","))


def job_row(job_id: str) -> dict[str, Any] | None:
    rows = fetch(f"SELECT {_COLUMNS} FROM job WHERE id = ?", job_id)
    return dict(zip(JOB_COLUMNS, rows[0], strict=True)) if rows else None


def slot_counts(job_id: str) -> dict[str, int]:
    """Slots per image status; an index on (job, status, slots) answers it alone."""
    rows = fetch("SELECT status, SUM(slots) FROM image WHERE job = ? GROUP BY status", job_id)
    return {status: int(total) for status, total in rows}


def as_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def as_optional_datetime(value: Any) -> datetime | None:
    return None if value is None else as_datetime(value)
