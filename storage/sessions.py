"""What the state modules share: how their db_sessions retry, and the clock their rows record."""

from __future__ import annotations

from datetime import UTC, datetime

# SQLite answers "database is locked" past its busy timeout and PostgreSQL can abort a
# transaction on a serialisation conflict: both are worth another try.
RETRY = {"retry": 3}


def now() -> datetime:
    """The time in UTC, without tzinfo, as the datetime columns hold it."""
    return datetime.now(UTC).replace(tzinfo=None)
