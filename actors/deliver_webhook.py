"""deliver_webhook: one signed POST per attempt, on our own retry schedule.

Dramatiq's retries would compute their own backoff; the contract fixes the schedule
(IMGPRESS_WEBHOOK_RETRY_DELAYS), so each attempt schedules the next as a delayed message.
"""

from __future__ import annotations

import json
import time
from typing import Any

import dramatiq

from actors import events
from actors.broker import config
from actors.errors import PermanentFailure, TransientFailure
from actors.finish_job import job_ended
from actors.happenings import WebhookDelivered, WebhookFailed
from actors.runtime import fetcher
from actors.webhooks import signed_headers
from ops import metrics
from storage import jobs
from storage.webhook_attempts import begin_webhook_attempt, record_webhook_result


def webhook_id(job_id: str) -> str:
    """The same on every retry, so a receiver can drop duplicates."""
    return f"msg_{job_id}"


def _post(job: jobs.JobView) -> tuple[int | None, str | None, bool]:
    """(status code, error, whether retrying can help)."""
    assert job.webhook is not None
    body = json.dumps(job_ended(job).payload()).encode()
    headers = signed_headers(config.webhook_secret, webhook_id(job.id), int(time.time()), body)
    try:
        return fetcher.post_json(job.webhook.url, body, headers), None, True
    except TransientFailure as failure:
        return None, failure.report_text, True
    except PermanentFailure as failure:
        return None, failure.report_text, False


def _give_up(job: jobs.JobView, attempt: int, status: int | None, error: str) -> None:
    assert job.webhook is not None
    record_webhook_result(job.id, "failed", status)
    events.publish(WebhookFailed(job.id, job.webhook.url, attempt, status, error))


def _settle(
    job: jobs.JobView, attempt: int, status: int | None, error: str | None, retry: bool
) -> None:
    assert job.webhook is not None
    metrics.WEBHOOKS.labels("delivered" if status and 200 <= status < 300 else "failed").inc()
    if status is not None and 200 <= status < 300:
        record_webhook_result(job.id, "delivered", status)
        events.publish(WebhookDelivered(job.id, job.webhook.url, attempt, status))
    elif status == 410 or not retry or attempt > len(config.webhook_retry_delays):
        _give_up(job, attempt, status, error or f"the receiver answered {status}")
    else:
        record_webhook_result(job.id, "pending", status)
        delay_ms = int(config.webhook_retry_delays[attempt - 1] * 1000)
        attempt_webhook.send_with_options(args=(job.id, attempt + 1), delay=delay_ms)


@dramatiq.actor(queue_name="webhooks", max_retries=3, min_backoff=1_000, time_limit=60_000)
def attempt_webhook(job_id: str, attempt: int) -> None:
    job = jobs.get_job(job_id)
    if job is None or job.webhook is None or not begin_webhook_attempt(job_id, attempt):
        return
    _settle(job, attempt, *_post(job))


@events.subscriber("job.completed", "job.failed", queue_name="webhooks", max_retries=3)
def deliver_webhook(subject: str, event: dict[str, Any]) -> None:
    attempt_webhook.fn(event["request_id"], 1)
