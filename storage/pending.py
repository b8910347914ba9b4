"""What is left of a job: its pending images (how many, the last one's index, each index in
order), and whether the split has created all of its images. Plain SQL, in pages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from storage.reads import fetch, in_pages, scalar_in_session
from storage.vocabulary import ImageStatus

PENDING_PER_READ = 5_000


@dataclass(frozen=True)
class Pending:
    """A job's images still pending: how many, and the highest index among them."""

    count: int = 0
    last_index: int | None = None


def pending_summary(job_id: str, scalar: Callable[..., Any] = scalar_in_session) -> Pending:
    """How many of the job's images are pending, and the last one's index (by default inside
    the caller's session, to see what it has written)."""
    status = ImageStatus.PENDING
    count = scalar("SELECT COUNT(*) FROM image WHERE job = ? AND status = ?", job_id, status)
    if not count:
        return Pending()
    last = scalar('SELECT MAX("index") FROM image WHERE job = ? AND status = ?', job_id, status)
    return Pending(count, last)


def pending_of(job_id: str) -> Pending:
    """`pending_summary` outside any session, as committed."""
    return pending_summary(job_id, _committed_scalar)


def _committed_scalar(sql: str, *params: Any) -> Any:
    # A read on a connection of its own: a db_session's first statement on SQLite begins an
    # immediate (write) transaction under Pony's process-wide lock, and a read there waited
    # for any writer while holding that lock (a locked database hung every other thread).
    [(value,)] = fetch(sql, *params)
    return value


def pending_indexes(job_id: str) -> Iterator[int]:
    """The indexes of the job's pending images, in order, read a few thousand at a time."""
    rows = in_pages(
        'SELECT "index" FROM image WHERE job = ? AND status = ? AND "index" > ?'
        ' ORDER BY "index" LIMIT ?',
        job_id,
        ImageStatus.PENDING,
        size=PENDING_PER_READ,
    )
    return (index for (index,) in rows)


def slots_created(job_id: str) -> int:
    """How many of the job's slots its images name so far (inside a session): its
    `total_images` once the split has created them all, fewer between the split's two commits."""
    return scalar_in_session("SELECT SUM(slots) FROM image WHERE job = ?", job_id)


def all_created(job_id: str, total_slots: int) -> bool:
    """Whether the split has created every image of a job of `total_slots` slots (as
    committed, read outside any session)."""
    return _committed_scalar("SELECT SUM(slots) FROM image WHERE job = ?", job_id) == total_slots
