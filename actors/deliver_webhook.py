"""deliver_webhook: one signed POST per attempt, on our own retry schedule.

Dramatiq's retries would compute their own backoff; the contract fixes the schedule
(IMGPRESS_WEBHOOK_RETRY_DELAYS), so each attempt schedules the next as a delayed message.
Every step is recorded first: an attempt begun and never settled (its worker died during
the POST) is made again, and a next attempt whose message was lost is sent by the relay once
it is overdue (storage.webhook_attempts.claim_due_attempts).
"""

from __future__ import annotations

import json
import time
from typing import Any

import dramatiq

from actors import events, runtime
from actors.errors import PermanentFailure, TransientFailure
from actors.finish_job import job_ended
from actors.happenings import Event, WebhookDelivered, WebhookFailed
from actors.webhooks import signed_headers
from ops import metrics
from ops.crashpoints import crash_point
from storage import jobs
from storage.vocabulary import FailureReason, WebhookState
from storage.webhook_attempts import begin_webhook_attempt, record_webhook_result

wired = runtime.current()  # an actor module: imported after bootstrap (actors.runtime)

# An attempt that has not settled this long after it began is taken to be dead.
IN_FLIGHT_SECONDS = wired.config.webhook_timeout + 5


def webhook_id(job_id: str) -> str:
    """The same on every retry, so a receiver can drop duplicates."""
    return f"msg_{job_id}"


def _post(job: jobs.JobView) -> tuple[int | None, str | None, bool]:
    """(status code, error, whether retrying can help)."""
    assert job.webhook is not None
    body = json.dumps(job_ended(job).payload()).encode()
    headers = signed_headers(
        wired.config.webhook_secret, webhook_id(job.id), int(time.time()), body
    )
    try:
        return wired.fetcher.post_json(job.webhook.url, body, headers), None, True
    except TransientFailure as failure:
        return None, failure.report_text, True
    except PermanentFailure as failure:
        return None, failure.report_text, False


def _record(
    job: jobs.JobView,
    attempt: int,
    state: WebhookState,
    status: int | None,
    event: Event | None = None,
) -> None:
    retry_in = (
        wired.config.webhook_retry_delays[attempt - 1] if state == WebhookState.PENDING else None
    )
    publication = events.publication(event) if event else None
    staged = record_webhook_result(job.id, attempt, state, status, retry_in, publication)
    if staged is not None:
        events.send(staged)
    if retry_in is not None:
        attempt_webhook.send_with_options(args=(job.id, attempt + 1), delay=int(retry_in * 1000))


def settle(
    job: jobs.JobView, attempt: int, status: int | None, error: str | None, retry: bool
) -> None:
    assert job.webhook is not None
    url = job.webhook.url
    delivered = status is not None and 200 <= status < 300
    metrics.WEBHOOKS.labels(WebhookState.DELIVERED if delivered else WebhookState.FAILED).inc()
    if delivered:
        assert status is not None
        delivery = WebhookDelivered(job.id, url, attempt, status)
        _record(job, attempt, WebhookState.DELIVERED, status, delivery)
    elif status == 410 or not retry or attempt > len(wired.config.webhook_retry_delays):
        error = error or f"the receiver answered {status}"
        failure = WebhookFailed(job.id, url, attempt, status, error)
        _record(job, attempt, WebhookState.FAILED, status, failure)
    else:
        _record(job, attempt, WebhookState.PENDING, status)


@dramatiq.actor(
    broker=wired.broker,
    queue_name="webhooks",
    max_retries=3,
    min_backoff=1_000,
    time_limit=60_000,
    on_retry_exhausted="attempt_gave_up",
)
def attempt_webhook(job_id: str, attempt: int) -> None:
    job = jobs.get_job(job_id)
    if job is None or job.webhook is None:
        return
    if not begin_webhook_attempt(job_id, attempt, IN_FLIGHT_SECONDS):
        return
    answer = _post(job)
    crash_point("webhook.posting")
    settle(job, attempt, *answer)


@dramatiq.actor(
    broker=wired.broker, queue_name="webhooks", max_retries=10, min_backoff=1_000, time_limit=60_000
)
def attempt_gave_up(message_data: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """An unexpected error outlasted every retry of an attempt: it counts as a failed one."""
    job_id, attempt = message_data["args"]
    job = jobs.get_job(job_id)
    if job is not None and job.webhook is not None:
        error = f"{FailureReason.INTERNAL_ERROR}: the attempt could not be made"
        settle(job, attempt, None, error, True)


@events.subscriber("job.completed", "job.failed", queue_name="webhooks", max_retries=3)
def deliver_webhook(subject: str, event: dict[str, Any]) -> None:
    attempt_webhook.fn(event["request_id"], 1)
