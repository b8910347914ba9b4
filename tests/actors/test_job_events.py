"""Every subject of contract §6 is published, failures of the job and of its webhook included."""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import timedelta
from pathlib import Path

from actors import events
from actors.happenings import CsvReceived
from storage import images, jobs, outbox
from storage.sessions import now
from tests.jobs import submit, wait_until_announced
from tests.receiver import Receiver, poll
from tests.recording_subscriber import seen


def _wait_for_subject(job_id: str, subject: str) -> Counter[str]:
    return poll(lambda: (c := Counter(i["subject"] for i in seen(job_id)))[subject] and c)


def test_a_job_whose_csv_vanished_ends_failed_with_the_reason(worker) -> None:
    # Given a job whose input CSV is gone before the split runs
    job_id = secrets.token_urlsafe(12)
    jobs.create_job(job_id, {"format": "original", "quality": 50}, 1, [], None)
    # When csv.received is published
    events.publish(CsvReceived(job_id))
    job = wait_until_announced(job_id)
    # Then the job failed, says why, and job.failed went out (not job.completed)
    assert job.status == "failed" and "could not be read" in job.error
    subjects = _wait_for_subject(job_id, "job.failed")
    assert subjects["job.completed"] == 0


def test_a_job_whose_csv_a_row_refuses_ends_failed_with_the_reason(
    worker: object, tmp_path: Path
) -> None:
    from actors.intake import open_job, summarise
    from actors.options import JobOptions

    # Given a job opened from a CSV that passed its checks, which then changed behind its back:
    # it still opens well, but holds an unclosed quote on row 3
    path = tmp_path / "upload.csv"
    path.write_text("name,url\nP,http://x.test/1.jpg\n")
    summary = summarise(path)
    path.write_text('name,url\nP,http://x.test/1.jpg\nQ,"http://x.test/2\n')
    job_id = secrets.token_urlsafe(12)
    # When the job is opened (csv.received goes out)
    open_job(job_id, path, summary, JobOptions(), None)
    job = wait_until_announced(job_id)
    # Then the split, which meets the refusal only while reading the rows, ends the job
    assert job.status == "failed"
    assert job.error == (
        "the uploaded CSV is no longer valid: row 3: a quoted cell is never closed "
        '(a closing " is missing)'
    )
    assert images.images_of(job_id) == []


def test_webhook_outcomes_are_published(origin, worker) -> None:
    photo = origin.url("/photos/coffee.jpg")
    with Receiver([200]) as good, Receiver([410]) as gone:
        delivered = submit(f"name,url\nP,{photo}\n", webhook_url=good.url)
        refused = submit(f"name,url\nP,{photo}\n", webhook_url=gone.url)
        _wait_for_subject(delivered, "webhook.delivered")
        _wait_for_subject(refused, "webhook.failed")
    [event] = [i["event"] for i in seen(delivered) if i["subject"] == "webhook.delivered"]
    assert (event["attempts"], event["status_code"], event["url"]) == (1, 200, good.url)


def test_a_transient_origin_error_is_retried_then_recorded(origin, worker) -> None:
    # Given an origin path that always answers 503 (IMGPRESS_FETCH_RETRIES=1 in the tests)
    path = f"/busy-{secrets.token_hex(4)}.jpg"
    origin.answer(path, 503)
    job = wait_until_announced(submit(f"name,url\nP,{origin.url(path)}\n"))
    # Then it was tried 1 + 1 times and failed with the vocabulary's reason
    assert sum(r.path == path for r in origin.requests) == 2
    [image] = images.images_of(job.id)
    assert image.status == "failed" and image.outcome.error.startswith("upstream_error: ")


def test_invalid_urls_are_counted_in_the_image_metrics(worker) -> None:
    from ops import metrics

    # Given the image metrics as they stand
    def failures() -> tuple[float, float]:
        failed = metrics.IMAGES.labels("failed")._value.get()
        invalid = metrics.IMAGE_FAILURES.labels("invalid_url")._value.get()
        return failed, invalid

    before = failures()
    # When a job of two invalid URLs completes
    job = wait_until_announced(submit("name,url\nP1,ftp://x/y.jpg\nP2,not-a-url\n"))
    # Then both count as failed images, with their reason, and each has its event
    assert job.failed_images == 2
    after = failures()
    assert (after[0] - before[0], after[1] - before[1]) == (2, 2)
    poll(lambda: Counter(i["subject"] for i in seen(job.id))["image.failed"] == 2)


def test_an_event_no_subscriber_hears_is_recorded_as_sent_and_sent_nowhere(
    pipeline, monkeypatch
) -> None:
    # Given a process whose subscribers match no subject (the suite's own match every one)
    monkeypatch.setattr(events, "_routes", [])
    # When an event is published
    staged = outbox.record(events.publication(CsvReceived(secrets.token_hex(4))))
    # Then it is kept, already sent: the relay has nothing to send again
    assert not staged.heard and events.send(staged) == 0
    later = now() + timedelta(seconds=1)
    assert staged.event_id not in {entry.event_id for entry in outbox.unsent(later)}
