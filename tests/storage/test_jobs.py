"""Job and image state: transitions happen once, counts are by slot, views are plain data."""

from __future__ import annotations

import secrets

from storage import idempotency, jobs
from storage.images import NewImage, Outcome, add_images, record_outcome
from storage.webhook_attempts import begin_webhook_attempt, record_webhook_result


def _job(webhook: str | None = None) -> str:
    job_id = secrets.token_urlsafe(8)
    jobs.create_job(job_id, {"format": "original"}, 4, [{"row": 5, "reason": "no URL"}], webhook)
    return job_id


def test_images_are_created_once_and_counted_by_slot(pipeline) -> None:
    # Given a job whose first URL fills three slots and whose second is invalid
    job_id = _job()
    images = [NewImage("http://a/1.jpg", 3), NewImage("nope", 1, "invalid_url: x")]
    first = add_images(job_id, images)
    # When the split runs again (a redelivery)
    again = add_images(job_id, images)
    # Then one pending image exists, and the invalid URL already counts as 1 failed slot
    assert [i.url for i in first.pending] == [i.url for i in again.pending] == ["http://a/1.jpg"]
    view = jobs.get_job(job_id)
    assert view is not None
    assert (view.status, view.processed_images, view.failed_images) == ("processing", 0, 1)


def test_an_outcome_is_recorded_once(pipeline) -> None:
    job_id = _job()
    [image] = add_images(job_id, [NewImage("http://a/2.jpg", 2)]).pending
    assert record_outcome(image.id, Outcome("ok", input_bytes=10, output_bytes=4))
    # A late duplicate cannot overwrite the first outcome
    assert not record_outcome(image.id, Outcome("failed", error="timeout: late"))
    view = jobs.get_job(job_id)
    assert view is not None and (view.processed_images, view.failed_images) == (2, 0)


def test_a_job_ends_once_and_freezes_its_counts(pipeline) -> None:
    job_id = _job()
    add_images(job_id, [NewImage("bad", 4, "invalid_url: x")])
    assert jobs.end_job(job_id, "completed")
    ended = jobs.get_job(job_id)
    assert ended is not None and ended.completed_at is not None and ended.failed_images == 4
    assert not jobs.end_job(job_id, "failed", "late")
    view = jobs.get_job(job_id)
    assert view is not None and (view.status, view.error) == ("completed", None)


def test_webhook_attempts_are_counted_once_each(pipeline) -> None:
    job_id = _job(webhook="http://127.0.0.1:9/hook")
    assert begin_webhook_attempt(job_id, 1)
    assert not begin_webhook_attempt(job_id, 1)  # redelivered attempt 1
    assert not begin_webhook_attempt(job_id, 3)  # out of order
    record_webhook_result(job_id, "delivered", 204)
    view = jobs.get_job(job_id)
    assert view is not None and view.webhook is not None
    assert (view.webhook.state, view.webhook.attempts, view.webhook.last_status_code) == (
        "delivered",
        1,
        204,
    )


def test_an_idempotency_key_keeps_its_first_response(pipeline) -> None:
    key = secrets.token_hex(8)
    first = idempotency.remember(key, "fp-1", "job-1", {"request_id": "job-1"})
    second = idempotency.remember(key, "fp-2", "job-2", {"request_id": "job-2"})
    assert first == second
    recalled = idempotency.recall(key)
    assert recalled is not None and recalled.job_id == "job-1"
