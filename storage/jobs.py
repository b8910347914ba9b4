"""Job and image state: short db_sessions, plain dataclasses out, Pony entities kept inside."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from pony.orm import commit, db_session, select

from storage import reads
from storage.db import Image, Job

# SQLite answers "database is locked" past its busy timeout and PostgreSQL can abort a
# transaction on a serialisation conflict: both are worth another try.
_RETRY = {"retry": 3}

FINAL_STATUSES = ("completed", "failed")


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class WebhookView:
    url: str
    state: str
    attempts: int
    last_status_code: int | None


@dataclass(frozen=True)
class JobView:
    id: str
    status: str
    created_at: datetime
    completed_at: datetime | None
    error: str | None
    options: dict[str, Any]
    total_images: int
    processed_images: int
    failed_images: int
    skipped_rows: list[dict[str, Any]]
    webhook: WebhookView | None
    announced: bool = False


@dataclass(frozen=True)
class Outcome:
    """What became of one image: written by the compress step, read by the report."""

    status: str  # pending | ok | failed
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
    def status(self) -> str:
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
    already_done: bool = False


def _slot_counts(job: Job) -> tuple[int, int]:
    sums = dict(select((i.status, sum(i.slots)) for i in job.images))
    return sums.get("ok", 0), sums.get("failed", 0)


def _image_record(image: Image) -> ImageRecord:
    outcome = Outcome(**{name: getattr(image, name) for name in _OUTCOME_FIELDS})
    return ImageRecord(
        id=image.id,
        job_id=image.job.id,
        index=image.index,
        url=image.url,
        slots=image.slots,
        outcome=outcome,
    )


@db_session(**_RETRY)
def create_job(
    job_id: str,
    options: dict[str, Any],
    total_images: int,
    skipped_rows: list[dict[str, Any]],
    webhook_url: str | None,
) -> None:
    Job(
        id=job_id,
        status="pending",
        created_at=now(),
        options=options,
        total_images=total_images,
        skipped_rows=skipped_rows,
        webhook_url=webhook_url,
        webhook_state="pending" if webhook_url else None,
    )


@db_session(**_RETRY)
def delete_job(job_id: str) -> None:
    job = Job.get(id=job_id)
    if job is not None:
        job.images.clear()
        job.delete()


def get_job(job_id: str) -> JobView | None:
    row = reads.job_row(job_id)
    return _view_of_row(row) if row else None


def _view_of_row(row: dict[str, Any]) -> JobView:
    if row["processed_images"] is None:
        sums = reads.slot_counts(row["id"])
        row.update(processed_images=sums.get("ok", 0), failed_images=sums.get("failed", 0))
    webhook = None
    if row["webhook_url"]:
        webhook = WebhookView(
            row["webhook_url"],
            row["webhook_state"] or "pending",
            row["webhook_attempts"],
            row["webhook_last_status"],
        )
    return JobView(
        id=row["id"],
        status=row["status"],
        created_at=reads.as_datetime(row["created_at"]),
        completed_at=reads.as_optional_datetime(row["completed_at"]),
        error=row["error"],
        options=reads.as_json(row["options"]),
        total_images=row["total_images"],
        processed_images=row["processed_images"],
        failed_images=row["failed_images"] or 0,
        skipped_rows=reads.as_json(row["skipped_rows"]),
        webhook=webhook,
        announced=bool(row["announced"]),
    )


@db_session(**_RETRY)
def add_images(job_id: str, images: Iterable[NewImage]) -> SplitResult:
    """Create the job's images once; a redelivered split gets back the ones still pending."""
    job = Job.get(id=job_id)
    if job.status in FINAL_STATUSES:
        return SplitResult(already_done=True)
    if not job.images.is_empty():
        return SplitResult(pending=_pending(job))
    failed = []
    for index, new in enumerate(images):
        status = "failed" if new.failure else "pending"
        image = Image(
            job=job, index=index, url=new.url, slots=new.slots, status=status, error=new.failure
        )
        if new.failure:
            failed.append(image)
    job.status = "processing"
    commit()
    return SplitResult(pending=_pending(job), failed_now=[_image_record(i) for i in failed])


def _pending(job: Job) -> list[ImageRecord]:
    query = select(i for i in job.images if i.status == "pending")
    return [_image_record(image) for image in query.order_by(Image.index)]


@db_session(**_RETRY)
def get_image(image_id: int) -> ImageRecord | None:
    image = Image.get(id=image_id)
    return _image_record(image) if image else None


@db_session(**_RETRY)
def record_outcome(image_id: int, outcome: Outcome) -> bool:
    """pending → ok|failed, once. Returns False when an earlier delivery got there first."""
    image = Image.get_for_update(id=image_id)
    if image is None or image.status != "pending":
        return False
    image.set(finished_at=now(), **{name: getattr(outcome, name) for name in _OUTCOME_FIELDS})
    return True


@db_session(**_RETRY)
def count_pending(job_id: str) -> int:
    return Image.select(lambda i: i.job.id == job_id and i.status == "pending").count()


@db_session(**_RETRY)
def images_of(job_id: str) -> list[ImageRecord]:
    query = Image.select(lambda i: i.job.id == job_id).order_by(Image.index)
    return [_image_record(image) for image in query]


@db_session(**_RETRY)
def end_job(job_id: str, status: str, error: str | None = None) -> bool:
    """processing|pending → completed|failed, once (counts frozen); False if it had ended."""
    job = Job.get_for_update(id=job_id)
    if job is None or job.status in FINAL_STATUSES:
        return False
    job.processed_images, job.failed_images = _slot_counts(job)
    job.set(status=status, error=error, completed_at=now())
    return True


@db_session(**_RETRY)
def mark_announced(job_id: str) -> None:
    Job.get(id=job_id).announced = True


@db_session(**_RETRY)
def begin_webhook_attempt(job_id: str, attempt: int) -> bool:
    """Count attempt N once: a redelivered attempt message must not POST twice."""
    job = Job.get_for_update(id=job_id)
    if job is None or job.webhook_state != "pending" or job.webhook_attempts != attempt - 1:
        return False
    job.webhook_attempts = attempt
    return True


@db_session(**_RETRY)
def record_webhook_result(job_id: str, state: str, status_code: int | None) -> None:
    Job.get(id=job_id).set(webhook_state=state, webhook_last_status=status_code)


@dataclass(frozen=True)
class Stalled:
    job_id: str
    status: str  # pending: never split; processing: images stopped moving
    pending_images: list[ImageRecord]


def _last_progress(job: Job) -> datetime:
    latest = select(i.finished_at for i in job.images).max()
    return max(latest, job.created_at) if latest else job.created_at


@db_session(**_RETRY)
def stalled_jobs(quiet_since: datetime) -> list[Stalled]:
    """Unfinished jobs in which nothing has happened since `quiet_since`."""
    unfinished = Job.select(lambda j: j.status in ("pending", "processing"))
    return [
        Stalled(job.id, job.status, _pending(job) if job.status == "processing" else [])
        for job in unfinished.order_by(Job.created_at)
        if job.created_at < quiet_since and _last_progress(job) < quiet_since
    ]
