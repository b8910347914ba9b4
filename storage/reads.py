"""The hot read: one job's view, in plain SQL.

`GET /status` is what clients poll. Loading the Pony entity costs ~90 µs against ~25 µs for
the same row through the connection Pony holds, so this one read skips the entity layer.
Values come back as each driver gives them (SQLite: text; psycopg2: datetimes, parsed JSON).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from storage.db import db

_COLUMNS = (
    "id, status, created_at, completed_at, error, options, total_images, skipped_rows,"
    " processed_images, failed_images, announced, webhook_url, webhook_state,"
    " webhook_attempts, webhook_last_status"
)


def _placeholder() -> str:
    return "?" if db.provider.paramstyle == "qmark" else "%s"


def fetch(sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run one read on the db_session's connection (call it inside a db_session)."""
    cursor = db.get_connection().cursor()
    cursor.execute(sql.replace("?", _placeholder()), params)
    return list(cursor.fetchall())


def job_row(job_id: str) -> dict[str, Any] | None:
    rows = fetch(f"SELECT {_COLUMNS} FROM job WHERE id = ?", job_id)
    return dict(zip(_COLUMNS.replace(" ", "").split(","), rows[0], strict=True)) if rows else None


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
