"""Image state: a job's images, created once by the split (storage/split.py), each settled once
(pending → ok|failed) with its outcome; plain dataclasses out, Pony entities kept inside."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from pony.orm import db_session, select

from storage import outbox, reads
from storage.db import Image, Job, db
from storage.outbox import Publication, Staged
from storage.sessions import RETRY, now
from storage.vocabulary import ImageStatus, JobStatus


class Outcome(NamedTuple):
    """What became of one image: written by the compress step, read by the report. A
    NamedTuple: a finish makes one per image (a frozen dataclass cost four times as much)."""

    status: ImageStatus
    error: str | None = None
    input_bytes: int | None = None
    output_bytes: int | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    output_path: str | None = None


_OUTCOME_FIELDS = Outcome._fields
_STATUSES = {str(status): status for status in ImageStatus}  # a tenth of ImageStatus()'s cost
_COUNT_COLUMNS = {ImageStatus.OK: "processed_images", ImageStatus.FAILED: "failed_images"}
_OUTCOME_COLUMNS = ", ".join(f'"{name}"' for name in _OUTCOME_FIELDS)  # status first
OUTCOMES_PER_READ = 1_000


@dataclass(frozen=True)
class ImageRecord:
    id: int
    job_id: str
    index: int
    url: str
    slots: int
    outcome: Outcome

    @property
    def status(self) -> ImageStatus:
        return self.outcome.status


def pending_images(job: Job) -> list[ImageRecord]:
    """The job's images still pending, in index order; call inside a db_session."""
    query = select(i for i in job.images if i.status == ImageStatus.PENDING)
    return [_image_record(image) for image in query.order_by(Image.index)]


# One statement that settles only a pending image: of two deliveries racing, the second
# matches no row (PostgreSQL re-checks the WHERE once the first commits). Loading the entity
# and saving it through Pony cost twice the CPU, once per image.
_SETTLE = (
    f"UPDATE image SET {', '.join(f'{name} = ${name}' for name in _OUTCOME_FIELDS)},"
    " finished_at = $finished_at WHERE id = $image_id AND status = $pending"
)


@db_session(**RETRY)
def record_outcome(image_id: int, outcome: Outcome, event: Publication) -> Staged | None:
    """pending → ok|failed, once, with its event; None when an earlier delivery got there first."""
    values = {name: getattr(outcome, name) for name in _OUTCOME_FIELDS}
    values.update(finished_at=now(), image_id=image_id, pending=ImageStatus.PENDING.value)
    values["status"] = ImageStatus(outcome.status).value  # text, whatever the caller passed
    if db.execute(_SETTLE, values).rowcount != 1:  # the names of `$name` in _SETTLE
        return None
    [(job_id, slots)] = reads.in_session("SELECT job, slots FROM image WHERE id = ?", image_id)
    add_to_job_counts(job_id, ImageStatus(outcome.status), slots)
    return outbox.stage(event)


def add_to_job_counts(job_id: str, status: ImageStatus, slots: int) -> None:
    """Keep the running job's counts in the caller's commit, so `/status` reads one row
    instead of counting the job's images (15 ms for 100,000 of them). A NULL count (a job
    split by an earlier build) stays NULL and is counted; an ended job's counts are frozen."""
    if not slots:
        return
    column = _COUNT_COLUMNS[status]
    reads.in_session(
        f"UPDATE job SET {column} = {column} + ? WHERE id = ? AND status = ?",
        slots,
        job_id,
        JobStatus.PROCESSING,
    )


def is_settled(image_id: int) -> bool:
    """Whether the image left pending: the database, not Redis, says so (Redis may forget).

    Plain SQL, as for `/status`: it is asked once per image message.
    """
    rows = reads.fetch("SELECT status FROM image WHERE id = ?", image_id)
    return not rows or rows[0][0] != ImageStatus.PENDING


def to_dispatch(job_id: str, start: int, end: int) -> list[tuple[int, int, str]]:
    """(id, index, url) of the job's images with index in [start, end), in index order,
    settled ones included. Plain SQL on the (job, index) key: it runs once per window refill."""
    return reads.fetch(
        'SELECT id, "index", url FROM image WHERE job = ? AND "index" >= ? AND "index" < ?'
        ' ORDER BY "index"',
        job_id,
        start,
        end,
    )


def outcomes_in_order(job_id: str) -> Iterator[tuple[str, int, Outcome]]:
    """Each image's URL, slots and outcome, in index order, read a page at a time in plain
    SQL on the (job, index) key: a finish reads a job's every image, twice."""
    rows = reads.in_pages(
        f'SELECT "index", url, slots, {_OUTCOME_COLUMNS} FROM image'
        ' WHERE job = ? AND "index" > ? ORDER BY "index" LIMIT ?',
        job_id,
        size=OUTCOMES_PER_READ,
    )
    for row in rows:  # index, url, slots, then the outcome's columns
        yield row[1], row[2], Outcome(_STATUSES[row[3]], *row[4:])


@db_session(**RETRY)
def images_of(job_id: str) -> list[ImageRecord]:
    query = Image.select(lambda i: i.job.id == job_id).order_by(Image.index)
    return [_image_record(image) for image in query]


def _image_record(image: Image) -> ImageRecord:
    facts = {name: getattr(image, name) for name in _OUTCOME_FIELDS}
    outcome = Outcome(**{**facts, "status": ImageStatus(image.status)})  # the column holds text
    return ImageRecord(
        id=image.id,
        job_id=image.job.id,
        index=image.index,
        url=image.url,
        slots=image.slots,
        outcome=outcome,
    )
