"""Webhook delivery state: each attempt counted once, an interrupted one made again, and a due
time that lets the relay resume a delivery whose worker died or whose message was lost."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pony.orm import db_session

from storage import outbox
from storage.db import Job
from storage.outbox import Publication, Staged
from storage.sessions import RETRY, now
from storage.vocabulary import WebhookState


@db_session(**RETRY)
def begin_webhook_attempt(job_id: str, attempt: int, in_flight_seconds: float) -> bool:
    """Start attempt N: counted the first time; made again, uncounted, if it was interrupted
    (begun, never settled, its time in flight over). False for a duplicate."""
    job = Job.get_for_update(id=job_id)
    if job is None or job.webhook_state != WebhookState.PENDING:
        return False
    settled, started = job.webhook_settled or 0, now()
    in_flight = timedelta(seconds=in_flight_seconds)
    if job.webhook_attempts == attempt - 1 == settled:
        job.webhook_attempts = attempt
    elif not (job.webhook_attempts == attempt > settled and _over(job, started, in_flight)):
        return False  # a duplicate of a settled attempt, or of one still running
    job.set(webhook_began_at=started, webhook_due_at=started + in_flight)
    return True


def _over(job: Job, at: datetime, in_flight: timedelta) -> bool:
    """Whether the attempt in flight has had its time: only then may it be made again."""
    return job.webhook_began_at is None or job.webhook_began_at + in_flight <= at


@db_session(**RETRY)
def record_webhook_result(
    job_id: str,
    attempt: int,
    state: WebhookState,
    status_code: int | None,
    retry_in: float | None = None,
    event: Publication | None = None,
) -> Staged | None:
    """Settle attempt N once, with its event; `retry_in`: when the next attempt is due."""
    job = Job.get_for_update(id=job_id)
    if job is None or job.webhook_state != WebhookState.PENDING or job.webhook_attempts < attempt:
        return None  # no such delivery, or it ended, or this attempt never began
    if (job.webhook_settled or 0) >= attempt:
        return None  # a duplicate settled it already
    due = None if retry_in is None else now() + timedelta(seconds=retry_in)
    job.set(
        webhook_state=state,
        webhook_last_status=status_code,
        webhook_settled=attempt,
        webhook_due_at=due,
    )
    return outbox.stage(event) if event else None


@dataclass(frozen=True)
class DueAttempt:
    job_id: str
    attempt: int


@db_session(**RETRY)
def claim_due_attempts(due_before: datetime, hold_seconds: float) -> list[DueAttempt]:
    """Deliveries that should have moved by now: the attempt to send, each held off for
    `hold_seconds` so the next sweep does not send it again while it runs."""
    query = Job.select(
        lambda j: (
            j.webhook_state == WebhookState.PENDING
            and j.announced
            and j.webhook_due_at < due_before
        )
    )
    claimed = []
    for job in query.for_update()[:100]:
        interrupted = (job.webhook_settled or 0) < job.webhook_attempts
        attempt = job.webhook_attempts if interrupted else job.webhook_attempts + 1
        job.webhook_due_at = now() + timedelta(seconds=hold_seconds)
        claimed.append(DueAttempt(job.id, attempt))
    return claimed
