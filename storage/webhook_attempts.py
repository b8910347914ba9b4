"""Webhook delivery state: each attempt counted once, the last result kept for the job's view."""

from __future__ import annotations

from pony.orm import db_session

from storage.db import Job
from storage.sessions import RETRY


@db_session(**RETRY)
def begin_webhook_attempt(job_id: str, attempt: int) -> bool:
    """Count attempt N once: a redelivered attempt message must not POST twice."""
    job = Job.get_for_update(id=job_id)
    if job is None or job.webhook_state != "pending" or job.webhook_attempts != attempt - 1:
        return False
    job.webhook_attempts = attempt
    return True


@db_session(**RETRY)
def record_webhook_result(job_id: str, state: str, status_code: int | None) -> None:
    Job.get(id=job_id).set(webhook_state=state, webhook_last_status=status_code)
