"""A job's images, created once from its CSV's slots, in plain SQL.

One image per distinct URL, numbered in first-appearance order, valid URLs first (so the
dispatch window, which spans indexes up to the last pending image, sends no invalid one),
each with how many slots name it. The database does the de-duplication: the slots go, a batch
at a time, into a temporary table of the transaction, and one query groups them into images.
So no process holds the job's URLs: a 100,000-image split held 315 MiB more in its worker as
Pony entities and a dict of URLs, and took 17 s where this takes about 1.5.

A large CSV is split in two commits, so that its first images are sent at once rather than
after the whole file: `add_head` creates its first images (read from the file's start, each
with the slots seen so far), then `add_images` creates the rest and gives the head its slots
in the whole file. Each commit is whole or absent: a split killed midway is redone by its
redelivery from what is there, and a job's images are all there once their slots add up to
its `total_images` (storage/pending.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, NamedTuple

from pony.orm import db_session

from storage import outbox
from storage.db import Image, Job
from storage.images import ImageRecord, Outcome, add_to_job_counts
from storage.outbox import Publication, Staged
from storage.pending import Pending, pending_summary, slots_created
from storage.reads import in_session, scalar_in_session
from storage.sessions import RETRY
from storage.vocabulary import FINAL_STATUSES, ImageStatus, JobStatus

# Rows per INSERT: 3 to 5 parameters each, well under SQLite's 32,766.
ROWS_PER_STATEMENT = 500

_SLOTS_TABLE = (
    "CREATE TEMPORARY TABLE split_slot (seq INTEGER NOT NULL, url TEXT NOT NULL, failure TEXT)"
)
# A URL's first slot decides its place; a failure (invalid_url) is the URL's, so any slot's.
_IMAGES_TABLE = (
    "CREATE TEMPORARY TABLE split_image AS SELECT url, COUNT(*) AS slots, MAX(failure) AS failure,"
    ' ROW_NUMBER() OVER (ORDER BY MAX(failure) IS NOT NULL, MIN(seq)) - 1 AS "index"'
    " FROM split_slot GROUP BY url"
)
_IMAGES_FROM_TABLE = (
    'INSERT INTO image (job, "index", url, slots, status, error)'
    ' SELECT ?, "index", url, slots, CASE WHEN failure IS NULL THEN ? ELSE ? END, failure'
    ' FROM split_image WHERE "index" >= ? ORDER BY "index"'
)


class NewSlot(NamedTuple):
    """One URL position of the CSV, in row and position order."""

    url: str
    failure: str | None = None  # already failed at split time (invalid_url)


class HeadImage(NamedTuple):
    """One of the first distinct valid URLs, with the slots that name it so far."""

    url: str
    slots: int


@dataclass(frozen=True)
class SplitResult:
    pending: Pending = Pending()
    failed_now: list[ImageRecord] = field(default_factory=list)  # born failed, this call only
    staged: list[Staged] = field(default_factory=list)  # their events, committed with them
    already_done: bool = False
    first_time: bool = False  # this call created the (other) images
    counted: bool = False  # `counted` heard the number of images to process: the count is right


@db_session(**RETRY)
def add_head(job_id: str, head: Sequence[HeadImage], counted: Callable[[int], None]) -> bool:
    """Create a job's first images, and make it `processing`; False when it has images or
    has ended already. `counted` hears how many, before the commit."""
    job = Job.get_for_update(id=job_id)
    if job.status in FINAL_STATUSES or _images_of(job_id):
        return False
    rows = [
        (job_id, index, url, slots, ImageStatus.PENDING) for index, (url, slots) in enumerate(head)
    ]
    _insert('image (job, "index", url, slots, status)', rows)
    counted(len(head))
    # The running counts start here; each image's settlement adds to them (storage/images.py).
    job.set(status=JobStatus.PROCESSING, processed_images=0, failed_images=0)
    return True


@db_session(**RETRY)
def add_images(
    job_id: str,
    slots: Callable[[], Iterable[NewSlot]],
    failed_event: Callable[[ImageRecord], Publication],
    counted: Callable[[int], None],
) -> SplitResult:
    """Create the job's images, or those past its head; a redelivered split learns what is
    still pending.

    `slots` gives the CSV's slots afresh on each call (a retried transaction reads them
    again). Without a head, `counted` hears how many images need processing before the job
    becomes `processing`. An image born failed (invalid_url) has its event recorded in the
    same transaction.
    """
    [(status, total)] = in_session("SELECT status, total_images FROM job WHERE id = ?", job_id)
    existing = _images_of(job_id)
    if status in FINAL_STATUSES or (existing and slots_created(job_id) == total):
        return _redelivered(job_id, status)  # nothing to lock
    # The head's images first, then the job: the order in which a settling image locks both.
    head = list(Image.select(lambda i: i.job.id == job_id and i.index < existing).for_update())
    job = Job.get_for_update(id=job_id)
    if job.status in FINAL_STATUSES or (head and slots_created(job_id) == total):
        return _redelivered(job_id, job.status)  # a concurrent delivery got there first
    _create(job_id, slots(), len(head))
    pending, failed_now = pending_summary(job_id), _failed_images(job_id, since=len(head))
    failed = sum(record.slots for record in failed_now)
    if head:
        _complete_head(job_id, head)
        add_to_job_counts(job_id, ImageStatus.FAILED, failed)
    else:
        counted(pending.count)
        job.set(status=JobStatus.PROCESSING, processed_images=0, failed_images=failed)
    in_session("DROP TABLE split_image")
    staged = [outbox.stage(failed_event(record)) for record in failed_now]
    return SplitResult(pending, failed_now, staged, first_time=True, counted=not head)


def _images_of(job_id: str) -> int:
    return scalar_in_session("SELECT COUNT(*) FROM image WHERE job = ?", job_id)


def _redelivered(job_id: str, status: str) -> SplitResult:
    """Every image is there: what the job still has pending, or that it ended."""
    if status in FINAL_STATUSES:
        return SplitResult(already_done=True)
    return SplitResult(pending_summary(job_id))


def _insert(into: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """INSERT INTO `into` VALUES the rows, a statement per ROWS_PER_STATEMENT."""
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        batch = rows[start : start + ROWS_PER_STATEMENT]
        marks = ", ".join(["(" + ", ".join(["?"] * len(batch[0])) + ")"] * len(batch))
        in_session(f"INSERT INTO {into} VALUES {marks}", *(value for row in batch for value in row))


def _create(job_id: str, slots: Iterable[NewSlot], existing: int) -> None:
    """Every slot into split_slot, grouped into split_image; its images from `existing` on
    inserted. split_image stays for the head's slots, until the caller drops it."""
    in_session(_SLOTS_TABLE)
    numbered = enumerate(slots)
    while batch := list(islice(numbered, ROWS_PER_STATEMENT)):
        _insert(
            "split_slot (seq, url, failure)", [(seq, url, failure) for seq, (url, failure) in batch]
        )
    in_session(_IMAGES_TABLE)
    in_session("DROP TABLE split_slot")
    in_session(_IMAGES_FROM_TABLE, job_id, ImageStatus.PENDING, ImageStatus.FAILED, existing)


def _complete_head(job_id: str, head: list[Any]) -> None:
    """Give the head's images their slots in the whole file, and the job's counts the slots
    of those already settled."""
    sql = 'SELECT "index", url, slots FROM split_image WHERE "index" < ?'
    final = {index: (url, slots) for index, url, slots in in_session(sql, len(head))}
    for image in head:
        url, slots = final.get(image.index, (None, 0))
        if url != image.url:  # the stored CSV never changes: this is a bug, said so
            raise RuntimeError(f"image {image.index} of job {job_id} is not its CSV's")
        if slots > image.slots:
            if image.status != ImageStatus.PENDING:
                add_to_job_counts(job_id, ImageStatus(image.status), slots - image.slots)
            image.slots = slots


def _failed_images(job_id: str, since: int) -> list[ImageRecord]:
    """The images this call created failed (invalid URLs: nothing to fetch, never in the
    head), from index `since` on."""
    rows = in_session(
        'SELECT id, "index", url, slots, error FROM image'
        ' WHERE job = ? AND status = ? AND "index" >= ? ORDER BY "index"',
        job_id,
        ImageStatus.FAILED,
        since,
    ).fetchall()
    return [
        ImageRecord(id, job_id, index, url, slots, Outcome(ImageStatus.FAILED, error=error))
        for id, index, url, slots, error in rows
    ]
