"""Image state: a job's images, created once by the split, each settled once
(pending → ok|failed) with its outcome; plain dataclasses out, Pony entities kept inside."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields

from pony.orm import db_session, flush, select

from storage import outbox, reads
from storage.db import Image, Job, db
from storage.outbox import Publication, Staged
from storage.sessions import RETRY, now
from storage.vocabulary import FINAL_STATUSES, ImageStatus, JobStatus


@dataclass(frozen=True)
class Outcome:
    """What became of one image: written by the compress step, read by the report."""

    status: ImageStatus
    error: str | None = None
    input_bytes: int | None = None
    output_bytes: int | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    output_path: str | None = None


_OUTCOME_FIELDS = tuple(f.name for f in fields(Outcome))


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


@dataclass(frozen=True)
class NewImage:
    url: str
    slots: int
    failure: str | None = None  # already failed at split time (invalid_url)


@dataclass(frozen=True)
class SplitResult:
    pending: list[ImageRecord] = field(default_factory=list)
    failed_now: list[ImageRecord] = field(default_factory=list)  # born failed, this call only
    staged: list[Staged] = field(default_factory=list)  # their events, committed with them
    already_done: bool = False
    first_time: bool = False  # this call created the images


@db_session(**RETRY)
def add_images(
    job_id: str,
    images: Iterable[NewImage],
    failed_event: Callable[[ImageRecord], Publication],
) -> SplitResult:
    """Create the job's images once; a redelivered split gets back the ones still pending.

    An image born failed (invalid_url) has its event recorded in the same transaction.
    """
    job = Job.get(id=job_id)
    if job.status in FINAL_STATUSES:
        return SplitResult(already_done=True)
    if not job.images.is_empty():
        return SplitResult(pending=pending_images(job))
    failed = []
    for index, new in enumerate(images):
        status = ImageStatus.FAILED if new.failure else ImageStatus.PENDING
        image = Image(
            job=job, index=index, url=new.url, slots=new.slots, status=status, error=new.failure
        )
        if new.failure:
            failed.append(image)
    job.status = JobStatus.PROCESSING
    flush()  # the images' ids, for their events, in this same transaction
    failed_now = [_image_record(i) for i in failed]
    staged = [outbox.stage(failed_event(record)) for record in failed_now]
    return SplitResult(pending_images(job), failed_now, staged, first_time=True)


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
    return outbox.stage(event)


def is_settled(image_id: int) -> bool:
    """Whether the image left pending: the database, not Redis, says so (Redis may forget).

    Plain SQL, as for `/status`: it is asked once per image message.
    """
    rows = reads.fetch("SELECT status FROM image WHERE id = ?", image_id)
    return not rows or rows[0][0] != ImageStatus.PENDING


@db_session(**RETRY)
def pending_of(job_id: str) -> list[ImageRecord]:
    job = Job.get(id=job_id)
    return [] if job is None else pending_images(job)


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
