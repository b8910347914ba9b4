"""A job's images, created once from its CSV's slots, in one transaction of plain SQL.

One image per distinct URL, numbered in first-appearance order, valid URLs first (so the
dispatch window, which spans indexes up to the last pending image, sends no invalid one),
each with how many slots name it. The database does the de-duplication: the slots go, a batch
at a time, into a temporary table of this transaction, and one INSERT … SELECT groups them
into images. So no process holds the job's URLs: a 100,000-image split held 315 MiB more in
its worker as Pony entities and a dict of URLs, and took 17 s where this takes about 1.
Everything commits at once or not at all, so a split killed midway is redone from nothing by
its redelivery, and a redelivery after the commit finds the images there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import NamedTuple

from pony.orm import db_session

from storage import outbox
from storage.db import Job
from storage.images import ImageRecord, Outcome
from storage.outbox import Publication, Staged
from storage.reads import in_pages, in_session
from storage.sessions import RETRY
from storage.vocabulary import FINAL_STATUSES, ImageStatus, JobStatus

# Slots per INSERT into the temporary table: 3 parameters each, well under SQLite's 32,766.
SLOTS_PER_STATEMENT = 500
PENDING_PER_READ = 5_000

_SLOTS_TABLE = (
    "CREATE TEMPORARY TABLE split_slot (seq INTEGER NOT NULL, url TEXT NOT NULL, failure TEXT)"
)
# A URL's first slot decides its place; a failure (invalid_url) is the URL's, so any slot's.
_IMAGES_FROM_SLOTS = (
    'INSERT INTO image (job, "index", url, slots, status, error)'
    " SELECT ?, ROW_NUMBER() OVER (ORDER BY MAX(failure) IS NOT NULL, MIN(seq)) - 1, url,"
    " COUNT(*), CASE WHEN MAX(failure) IS NULL THEN ? ELSE ? END, MAX(failure)"
    " FROM split_slot GROUP BY url ORDER BY MAX(failure) IS NOT NULL, MIN(seq)"
)


class NewSlot(NamedTuple):
    """One URL position of the CSV, in row and position order."""

    url: str
    failure: str | None = None  # already failed at split time (invalid_url)


@dataclass(frozen=True)
class Pending:
    """A job's images still pending: how many, and the highest index among them."""

    count: int = 0
    last_index: int | None = None


@dataclass(frozen=True)
class SplitResult:
    pending: Pending = Pending()
    failed_now: list[ImageRecord] = field(default_factory=list)  # born failed, this call only
    staged: list[Staged] = field(default_factory=list)  # their events, committed with them
    already_done: bool = False
    first_time: bool = False  # this call created the images


@db_session(**RETRY)
def add_images(
    job_id: str,
    slots: Callable[[], Iterable[NewSlot]],
    failed_event: Callable[[ImageRecord], Publication],
    counted: Callable[[int], None],
) -> SplitResult:
    """Create the job's images once; a redelivered split learns what is still pending.

    `slots` gives the CSV's slots afresh on each call (a retried transaction reads them
    again). `counted` hears how many images need processing before the job becomes
    `processing`. An image born failed (invalid_url) has its event recorded in the same
    transaction.
    """
    job = Job.get_for_update(id=job_id)  # one split of a job at a time
    if job.status in FINAL_STATUSES:
        return SplitResult(already_done=True)
    if _scalar('SELECT COUNT(*) FROM image WHERE job = ? AND "index" = 0', job_id):
        return SplitResult(pending_summary(job_id))
    _create(job_id, slots())
    pending = pending_summary(job_id)
    counted(pending.count)
    failed_now = _failed_images(job_id)
    staged = [outbox.stage(failed_event(record)) for record in failed_now]
    # The running counts start here; each image's settlement adds to them (storage/images.py).
    failed = sum(record.slots for record in failed_now)
    job.set(status=JobStatus.PROCESSING, processed_images=0, failed_images=failed)
    return SplitResult(pending, failed_now, staged, first_time=True)


def _create(job_id: str, slots: Iterable[NewSlot]) -> None:
    in_session(_SLOTS_TABLE)
    numbered = enumerate(slots)
    while batch := list(islice(numbered, SLOTS_PER_STATEMENT)):
        rows = ", ".join(["(?, ?, ?)"] * len(batch))
        values = [value for seq, slot in batch for value in (seq, slot.url, slot.failure)]
        in_session(f"INSERT INTO split_slot (seq, url, failure) VALUES {rows}", *values)
    in_session(_IMAGES_FROM_SLOTS, job_id, ImageStatus.PENDING, ImageStatus.FAILED)
    in_session("DROP TABLE split_slot")


def _failed_images(job_id: str) -> list[ImageRecord]:
    # Only invalid URLs have failed at split time: they have no fetch to wait for.
    rows = in_session(
        'SELECT id, "index", url, slots, error FROM image WHERE job = ? AND status = ?'
        ' ORDER BY "index"',
        job_id,
        ImageStatus.FAILED,
    ).fetchall()
    return [
        ImageRecord(id, job_id, index, url, slots, Outcome(ImageStatus.FAILED, error=error))
        for id, index, url, slots, error in rows
    ]


def _scalar(sql: str, *params: object) -> int:
    [(value,)] = in_session(sql, *params).fetchall()
    return int(value or 0)


def pending_summary(job_id: str) -> Pending:
    """How many of the job's images are pending, and the last one's index (inside a session)."""
    status = ImageStatus.PENDING
    count = _scalar("SELECT COUNT(*) FROM image WHERE job = ? AND status = ?", job_id, status)
    if not count:
        return Pending()
    last = _scalar('SELECT MAX("index") FROM image WHERE job = ? AND status = ?', job_id, status)
    return Pending(count, last)


@db_session(**RETRY)
def pending_of(job_id: str) -> Pending:
    return pending_summary(job_id)


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
