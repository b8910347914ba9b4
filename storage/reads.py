"""The hot read: one job's view, in plain SQL.

`GET /status` is what clients poll. Loading the Pony entity costs ~90 µs, the same row through
Pony's connection ~25 µs (most of it the db_session around it), and through a read-only SQLite
connection of the thread's own ~5 µs. So this one read skips the entity layer, and on SQLite
Pony too; on PostgreSQL it runs inside a db_session on Pony's connection.
Values come back as each driver gives them (SQLite: text; psycopg2: datetimes, parsed JSON).
"""

from __future__ import annotations

import json
import sqlite3
import threading
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
        _local.connection = connection
    return connection


def fetch(sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run one read, outside any Pony session."""
    if storage_db.sqlite_file is not None:
        return _sqlite_connection(storage_db.sqlite_file).execute(sql, params).fetchall()
    with db_session:
        cursor = db.get_connection().cursor()
        cursor.execute(sql.replace("?", "%s"), params)
        return list(cursor.fetchall())


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
