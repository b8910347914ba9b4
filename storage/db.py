"""Pony entities and the database binding. Entities never leave `storage/`."""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pony.orm import (
    Database,
    Json,
    Optional,
    PrimaryKey,
    Required,
    Set,
    composite_index,
    composite_key,
)

from ops.config import redacted
from storage import migrations
from storage.vocabulary import ImageStatus

db = Database()
_log = logging.getLogger(__name__)
# Pony builds entity classes at run time; typed as Any so mypy checks our code, not Pony's.
Entity: Any = db.Entity
_SCHEMA_LOCK_KEY = 0x1E6_9E55  # any constant shared by every imgpress process


class Job(Entity):
    id = PrimaryKey(str)
    status = Required(str, index=True)  # a JobStatus
    created_at = Required(datetime)
    completed_at = Optional(datetime)
    error = Optional(str, nullable=True)
    options = Required(Json)
    total_images = Required(int)  # URL slots, duplicates counted
    skipped_rows = Required(Json)
    # Slots done so far: set by the split, added to by each image's settlement in its own
    # commit, counted again from the images and frozen when the job ends. NULL: a job not
    # split yet (or split by an earlier build), whose images are counted when asked.
    processed_images = Optional(int, nullable=True)
    failed_images = Optional(int, nullable=True)
    announced = Required(bool, default=False)  # its job.completed/failed event is recorded
    webhook_url = Optional(str, nullable=True)
    webhook_state = Optional(str, nullable=True)  # a WebhookState
    webhook_attempts = Required(int, default=0)
    webhook_last_status = Optional(int, nullable=True)
    # The last attempt whose answer was recorded: below webhook_attempts, one was interrupted.
    webhook_settled = Optional(int, nullable=True)
    # When the delivery must next make progress; past it (and a grace) the relay resends.
    webhook_due_at = Optional(datetime, nullable=True)
    webhook_began_at = Optional(datetime, nullable=True)  # when the last attempt began
    images = Set("Image")


class Image(Entity):
    """One distinct URL of a job; `slots` is how many CSV positions name it."""

    id = PrimaryKey(int, auto=True)
    job = Required(Job)
    index = Required(int)
    url = Required(str)
    slots = Required(int)
    status = Required(str, default=ImageStatus.PENDING)
    error = Optional(str, nullable=True)
    input_bytes = Optional(int, nullable=True)
    output_bytes = Optional(int, nullable=True)
    width = Optional(int, nullable=True)
    height = Optional(int, nullable=True)
    format = Optional(str, nullable=True)
    output_path = Optional(str, nullable=True)
    finished_at = Optional(datetime)  # when it stopped being pending: the watchdog's clock
    composite_key(job, index)
    composite_index(job, status, slots)  # status counts per job, read from the index alone


class OutboxEntry(Entity):
    """An event committed with the state change that caused it, until it has been sent."""

    _table_ = "outbox"
    id = PrimaryKey(int, auto=True)
    event_id = Required(str, unique=True)
    subject = Required(str)
    payload = Required(Json)
    created_at = Required(datetime)
    sent_at = Optional(datetime, nullable=True, index=True)


class IdempotencyKey(Entity):
    key = PrimaryKey(str)
    fingerprint = Required(str)
    job_id = Required(str)
    response = Required(Json)
    created_at = Required(datetime, index=True)


# Each thread has its own connections, each with its own page cache (SQLite's default: 2 MiB
# for the database, 2 MiB more for temporary tables). Over a worker's 16 threads they grew
# the worker with the job: a large transaction (the split's) keeps its dirty pages there up
# to the limit, and the split's temporary tables theirs. The kernel's page cache holds the
# file anyway; a page read again from it costs a system call.
SQLITE_CACHE = ("PRAGMA cache_size = -256", "PRAGMA temp.cache_size = -256")  # KiB


@db.on_connect(provider="sqlite")
def _sqlite_pragmas(database: Database, connection: Any) -> None:
    # WAL lets the API read while workers write; the busy timeout makes writers
    # queue for the lock instead of failing with "database is locked".
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.execute("PRAGMA synchronous = NORMAL")
    for pragma in SQLITE_CACHE:
        cursor.execute(pragma)


def _postgres_args(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    args: dict[str, Any] = {"provider": "postgres", "database": parts.path.lstrip("/")}
    for name, value in (
        ("host", parts.hostname),
        ("port", parts.port),
        ("user", parts.username and unquote(parts.username)),
        ("password", parts.password and unquote(parts.password)),
    ):
        if value:
            args[name] = value
    return args


def binding_args(url: str) -> dict[str, Any]:
    """Pony `bind` arguments for a `sqlite:///path` or `postgres://…` URL."""
    if url.startswith("sqlite:///"):
        return {"provider": "sqlite", "filename": url.removeprefix("sqlite:///"), "create_db": True}
    if url.startswith(("postgres://", "postgresql://")):
        return _postgres_args(url)
    raise ValueError(f"unsupported database URL {redacted(url)!r}: use sqlite:///… or postgres://…")


@contextmanager
def _schema_lock(args: dict[str, Any]) -> Iterator[None]:
    """Serialise table creation: the API and workers start at once and would race on it."""
    if args["provider"] == "sqlite":
        Path(args["filename"]).parent.mkdir(parents=True, exist_ok=True)
        with open(f"{args['filename']}.schema-lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
        return
    import psycopg2

    pg_args = {k: v for k, v in args.items() if k != "provider"}
    # `with connection` would only end the transaction; the connection must be closed too.
    with closing(psycopg2.connect(**pg_args)) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK_KEY,))
        try:
            yield
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK_KEY,))


def bind(url: str) -> None:
    """Bind once per process; later calls are no-ops (Pony allows a single binding)."""
    if db.provider is not None:
        return
    args = binding_args(url)
    with _schema_lock(args):
        db.bind(**args)
        db.generate_mapping(create_tables=True, check_tables=False)
        for column in migrations.checked_or_upgraded(db):
            _log.warning("database upgraded: added the column %s", column)
    global sqlite_file
    sqlite_file = args.get("filename")


# The SQLite file once bound (None on PostgreSQL): storage/reads.py opens it directly.
sqlite_file: str | None = None
