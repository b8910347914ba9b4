"""Job state: a job from pending to completed|failed, and the view the API and actors read.

Short db_sessions, plain dataclasses out, Pony entities kept inside. A job's images live in
`storage.images`, its webhook attempts in `storage.webhook_attempts`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pony.orm import db_session, select

from storage import outbox, reads
from storage.db import Job
from storage.outbox import Publication, Staged
from storage.sessions import RETRY, now
from storage.vocabulary import FINAL_STATUSES, ImageStatus, JobStatus, WebhookState


@dataclass(frozen=True)
class WebhookView:
    url: str
    state: WebhookState
    attempts: int
    last_status_code: int | None


@dataclass(frozen=True)
class JobView:
    id: str
    status: JobStatus
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


@db_session(**RETRY)
def create_job(
    job_id: str,
    options: dict[str, Any],
    total_images: int,
    skipped_rows: list[dict[str, Any]],
    webhook_url: str | None,
    event: Publication | None = None,
) -> Staged | None:
    """A new pending job, and the event that starts it (csv.received) in the same commit."""
    Job(
        id=job_id,
        status=JobStatus.PENDING,
        created_at=now(),
        options=options,
        total_images=total_images,
        skipped_rows=skipped_rows,
        webhook_url=webhook_url,
        webhook_state=WebhookState.PENDING if webhook_url else None,
    )
    return outbox.stage(event) if event else None


def options_of(job_id: str) -> dict[str, Any] | None:
    """The options a job was created with (they never change), or None for an unknown job."""
    rows = reads.fetch("SELECT options FROM job WHERE id = ?", job_id)
    return dict(reads.as_json(rows[0][0])) if rows else None


def get_job(job_id: str) -> JobView | None:
    row = reads.job_row(job_id)
    return _view_of_row(row) if row else None


def _view_of_row(row: dict[str, Any]) -> JobView:
    if row["processed_images"] is None:
        sums = reads.slot_counts(row["id"])
        row.update(
            processed_images=sums.get(ImageStatus.OK, 0),
            failed_images=sums.get(ImageStatus.FAILED, 0),
        )
    webhook = None
    if row["webhook_url"]:
        webhook = WebhookView(
            row["webhook_url"],
            WebhookState(row["webhook_state"] or WebhookState.PENDING),
            row["webhook_attempts"],
            row["webhook_last_status"],
        )
    return JobView(
        id=row["id"],
        status=JobStatus(row["status"]),
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


@db_session(**RETRY)
def end_job(
    job_id: str,
    status: JobStatus,
    announcement: Callable[[JobView], Publication],
    error: str | None = None,
) -> Staged | None:
    """processing|pending → completed|failed, once (counts frozen), with its event recorded in
    the same commit; None if it had ended already."""
    job = Job.get_for_update(id=job_id)
    if job is None or job.status in FINAL_STATUSES:
        return None
    job.processed_images, job.failed_images = _slot_counts(job)
    job.set(status=status, error=error, completed_at=now(), announced=True)
    if job.webhook_url:
        job.webhook_due_at = job.completed_at  # the first attempt is due at once
    return outbox.stage(announcement(_view_of_entity(job)))


def _view_of_entity(job: Job) -> JobView:
    return _view_of_row({name: getattr(job, name) for name in reads.JOB_COLUMNS})


def _slot_counts(job: Job) -> tuple[int, int]:
    sums = dict(select((i.status, sum(i.slots)) for i in job.images))
    return sums.get(ImageStatus.OK, 0), sums.get(ImageStatus.FAILED, 0)
