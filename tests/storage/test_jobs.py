"""Job and image state: transitions happen once, counts are by slot, views are plain data."""

from __future__ import annotations

import secrets
from datetime import timedelta

from pony.orm import db_session

from storage import idempotency, jobs, outbox
from storage.db import Job, OutboxEntry
from storage.images import Outcome, images_of, record_outcome
from storage.outbox import Publication
from storage.pending import Pending
from storage.sessions import now
from storage.split import NewSlot, SplitResult, add_images
from storage.webhook_attempts import (
    begin_webhook_attempt,
    claim_due_attempts,
    record_webhook_result,
)

HOLD = 30.0  # seconds an attempt in flight is left alone


def _event(subject: str = "image.failed"):
    return lambda image: Publication(subject, {"request_id": image.job_id, "image_id": image.id})


def _job(webhook: str | None = None) -> str:
    job_id = secrets.token_urlsafe(8)
    jobs.create_job(job_id, {"format": "original"}, 4, [{"row": 5, "reason": "no URL"}], webhook)
    return job_id


def _split(job_id: str, slots: list[NewSlot], counted: list[int] | None = None) -> SplitResult:
    heard = [] if counted is None else counted
    return add_images(job_id, lambda: slots, _event(), heard.append)


def test_images_are_created_once_and_counted_by_slot(pipeline) -> None:
    # Given a job whose first URL fills three slots and whose second is invalid
    job_id = _job()
    slots = [NewSlot("http://a/1.jpg"), NewSlot("nope", "invalid_url: x")] + [
        NewSlot("http://a/1.jpg")
    ] * 2
    counted: list[int] = []
    first = _split(job_id, slots, counted)
    # When the split runs again (a redelivery)
    again = _split(job_id, slots, counted)
    # Then one pending image exists, counted once, and the invalid URL counts as 1 failed slot
    assert first.pending == again.pending == Pending(1, 0) and counted == [1]
    assert [(i.url, i.slots) for i in images_of(job_id)] == [("http://a/1.jpg", 3), ("nope", 1)]
    view = jobs.get_job(job_id)
    assert view is not None
    assert (view.status, view.processed_images, view.failed_images) == ("processing", 0, 1)
    # And the invalid URL's event was recorded once, with its envelope
    [staged] = first.staged
    assert again.staged == [] and staged.payload["event_id"] == staged.event_id
    assert staged.payload["occurred_at"].endswith("Z")


def test_an_outcome_is_recorded_once(pipeline) -> None:
    job_id = _job()
    _split(job_id, [NewSlot("http://a/2.jpg")] * 2)
    [image] = images_of(job_id)
    event = Publication("image.compressed", {"request_id": job_id})
    assert record_outcome(image.id, Outcome("ok", input_bytes=10, output_bytes=4), event)
    # A late duplicate cannot overwrite the first outcome, nor record a second event
    assert record_outcome(image.id, Outcome("failed", error="timeout: late"), event) is None
    view = jobs.get_job(job_id)
    assert view is not None and (view.processed_images, view.failed_images) == (2, 0)


def test_a_job_ends_once_and_freezes_its_counts(pipeline) -> None:
    job_id = _job()
    _split(job_id, [NewSlot("bad", "invalid_url: x")] * 4)
    announcement = lambda view: Publication("job.completed", {"failed_images": view.failed_images})  # noqa: E731
    staged = jobs.end_job(job_id, "completed", announcement)
    ended = jobs.get_job(job_id)
    assert ended is not None and ended.completed_at is not None and ended.failed_images == 4
    # The event carries the frozen counts and was recorded in the job's last commit
    assert staged is not None and staged.payload["failed_images"] == 4 and ended.announced
    assert jobs.end_job(job_id, "failed", announcement, "late") is None
    view = jobs.get_job(job_id)
    assert view is not None and (view.status, view.error) == ("completed", None)


def _counts(job_id: str) -> tuple[int | None, int | None]:
    with db_session:
        job = Job[job_id]
        return job.processed_images, job.failed_images


def test_a_running_job_keeps_its_counts_in_its_row_and_they_freeze_when_it_ends(
    pipeline,
) -> None:
    # Given a split job: a URL in two slots, another in one, an invalid one
    job_id = _job()
    slots = [NewSlot("http://a/1.jpg")] * 2 + [NewSlot("http://a/2.jpg"), NewSlot("x", "bad")]
    _split(job_id, slots)
    one, two, _ = images_of(job_id)
    assert _counts(job_id) == (0, 1)
    # When its images settle, one of them twice (a redelivery)
    event = Publication("image.compressed", {"request_id": job_id})
    record_outcome(one.id, Outcome("ok"), event)
    record_outcome(one.id, Outcome("ok"), event)
    assert _counts(job_id) == (2, 1)
    record_outcome(two.id, Outcome("failed", error="timeout: slow"), event)
    # Then the row holds what counting the images says, and the view shows it
    assert _counts(job_id) == (2, 2)
    view = jobs.get_job(job_id)
    assert view is not None and (view.processed_images, view.failed_images) == (2, 2)
    # And once the job ended, its counts no longer move
    jobs.end_job(job_id, "failed", lambda view: Publication("job.failed", {}), "storage broke")
    with db_session:
        late = Job[job_id].images.select(lambda i: i.url == "x").first()
        late.status = "pending"  # as an image left pending by a job that failed
    record_outcome(late.id, Outcome("ok"), event)
    assert _counts(job_id) == (2, 2)


def test_a_job_split_by_an_earlier_build_is_counted_from_its_images(pipeline) -> None:
    # Given a running job whose row holds no counts (split before the rows kept them)
    job_id = _job()
    _split(job_id, [NewSlot("http://a/1.jpg")] * 3 + [NewSlot("x", "bad")])
    with db_session:
        Job[job_id].set(processed_images=None, failed_images=None)
    [image, _] = images_of(job_id)
    record_outcome(image.id, Outcome("ok"), Publication("image.compressed", {}))
    # Then its view counts its images, and its row still holds none
    view = jobs.get_job(job_id)
    assert view is not None and (view.processed_images, view.failed_images) == (3, 1)
    assert _counts(job_id) == (None, None)


def test_webhook_attempts_are_counted_once_each(pipeline) -> None:
    job_id = _job(webhook="http://127.0.0.1:9/hook")
    assert begin_webhook_attempt(job_id, 1, HOLD)
    assert not begin_webhook_attempt(job_id, 1, HOLD)  # a duplicate while it runs
    assert not begin_webhook_attempt(job_id, 3, HOLD)  # out of order
    record_webhook_result(job_id, 1, "delivered", 204)
    assert record_webhook_result(job_id, 1, "failed", 500) is None  # a late duplicate
    view = jobs.get_job(job_id)
    assert view is not None and view.webhook is not None
    assert (view.webhook.state, view.webhook.attempts, view.webhook.last_status_code) == (
        "delivered",
        1,
        204,
    )


def _age_webhook_hold(job_id: str) -> None:
    with db_session:
        Job[job_id].webhook_began_at = now() - timedelta(seconds=HOLD + 1)


def test_an_attempt_interrupted_mid_post_is_made_again_not_counted_again(pipeline) -> None:
    # Given attempt 1 began and its worker died before recording an answer
    job_id = _job(webhook="http://127.0.0.1:9/hook")
    assert begin_webhook_attempt(job_id, 1, HOLD)
    # When its hold is over and the attempt arrives again (redelivered, or sent by the relay)
    _age_webhook_hold(job_id)
    assert begin_webhook_attempt(job_id, 1, HOLD)
    # Then it may be made, still as attempt 1, and its answer settles the delivery
    assert record_webhook_result(job_id, 1, "delivered", 200) is None  # no event was given
    view = jobs.get_job(job_id)
    assert view is not None and view.webhook is not None
    assert (view.webhook.state, view.webhook.attempts) == ("delivered", 1)


def test_an_overdue_delivery_is_claimed_once_for_the_right_attempt(pipeline) -> None:
    # Given an ended job whose attempt 1 failed and whose attempt 2 message was lost
    job_id = _job(webhook="http://127.0.0.1:9/hook")
    jobs.end_job(job_id, "completed", lambda view: Publication("job.completed", {}))
    assert begin_webhook_attempt(job_id, 1, HOLD)
    record_webhook_result(job_id, 1, "pending", 500, retry_in=0)
    # When the relay looks for overdue deliveries, twice
    due = now() + timedelta(seconds=1)
    claimed = [c for c in claim_due_attempts(due, HOLD) if c.job_id == job_id]
    again = [c for c in claim_due_attempts(due, HOLD) if c.job_id == job_id]
    # Then attempt 2 is claimed once, and held off while it runs
    assert [c.attempt for c in claimed] == [2] and again == []


def test_an_event_stays_unsent_until_marked_sent(pipeline) -> None:
    staged = outbox.record(Publication("csv.received", {"request_id": "x"}))
    later = now() + timedelta(seconds=1)
    assert staged.event_id in {s.event_id for s in outbox.unsent(later)}
    outbox.mark_sent(staged.event_id)
    assert staged.event_id not in {s.event_id for s in outbox.unsent(later)}
    with db_session:
        assert OutboxEntry.get(event_id=staged.event_id).payload["request_id"] == "x"


def test_an_event_nobody_hears_is_recorded_as_sent(pipeline) -> None:
    staged = outbox.record(Publication("image.compressed", {"request_id": "x"}, heard=False))
    later = now() + timedelta(seconds=1)
    assert staged.event_id not in {s.event_id for s in outbox.unsent(later)}
    with db_session:
        assert OutboxEntry.get(event_id=staged.event_id).sent_at is not None


def test_an_idempotency_key_keeps_its_first_response(pipeline) -> None:
    key = secrets.token_hex(8)
    first = idempotency.remember(key, "fp-1", "job-1", {"request_id": "job-1"})
    second = idempotency.remember(key, "fp-2", "job-2", {"request_id": "job-2"})
    assert first == second
    recalled = idempotency.recall(key)
    assert recalled is not None and recalled.job_id == "job-1"
