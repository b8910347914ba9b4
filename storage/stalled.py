"""The watchdog's query: unfinished jobs in which nothing has happened for a while."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pony.orm import db_session, select

from storage.db import Job
from storage.images import ImageRecord, pending_images
from storage.pending import slots_created
from storage.sessions import RETRY
from storage.vocabulary import JobStatus


@dataclass(frozen=True)
class Stalled:
    job_id: str
    status: JobStatus  # pending: never split; processing: images stopped moving
    pending_images: list[ImageRecord]
    all_created: bool = True  # False: its split stopped between its two commits


@db_session(**RETRY)
def stalled_jobs(quiet_since: datetime) -> list[Stalled]:
    """Unfinished jobs in which nothing has happened since `quiet_since`."""
    unfinished = Job.select(lambda j: j.status in (JobStatus.PENDING, JobStatus.PROCESSING))
    return [
        Stalled(
            job.id,
            JobStatus(job.status),
            pending_images(job) if job.status == JobStatus.PROCESSING else [],
            slots_created(job.id) == job.total_images,
        )
        for job in unfinished.order_by(Job.created_at)
        if job.created_at < quiet_since and _last_progress(job) < quiet_since
    ]


@db_session(**RETRY)
def processing_jobs() -> list[str]:
    processing = JobStatus.PROCESSING
    return list(select(j.id for j in Job if j.status == processing))  # type: ignore[attr-defined]


def _last_progress(job: Job) -> datetime:
    latest = select(i.finished_at for i in job.images).max()
    return max(latest, job.created_at) if latest else job.created_at
