"""split_csv: turn a received CSV into image records and one compress message per distinct URL."""

from __future__ import annotations

from typing import Any

import dramatiq

from actors import events, runtime
from actors.dispatch import open_window
from actors.events import subscriber
from actors.finish_job import fail_job, finish_job
from actors.happenings import ImageFailed
from actors.intake import read_manifest
from actors.manifest.errors import ManifestError
from actors.manifest.reader import ManifestReader
from actors.manifest.urls import distinct_urls
from actors.outcomes import measure
from actors.report import INVALID_URL_ERROR
from storage import jobs
from storage.images import ImageRecord, NewImage, add_images
from storage.outbox import Publication

wired = runtime.current()  # an actor module: imported after bootstrap (actors.runtime)


def new_images(manifest: ManifestReader) -> list[NewImage]:
    """Distinct URLs in first-appearance order, valid ones first (so the dispatch window,
    which spans indexes up to the last pending image, sends no invalid one); each remembers
    how many slots name it."""
    urls = distinct_urls(manifest)
    valid = [NewImage(url, slots) for url, slots in urls.valid.items()]
    invalid = [NewImage(url, slots, INVALID_URL_ERROR) for url, slots in urls.invalid.items()]
    return valid + invalid


def _plan(job_id: str) -> list[NewImage] | None:
    # Reading the rows can refuse the file too (a row, a limit), hence one `try` for both.
    try:
        return new_images(read_manifest(wired.layout.input_csv(job_id)))
    except OSError as error:
        fail_job(job_id, f"the uploaded CSV could not be read: {error.strerror or error}")
    except ManifestError as error:
        fail_job(job_id, f"the uploaded CSV is no longer valid: {error.description}")
    return None


def invalid_url_event(image: ImageRecord) -> Publication:
    reason, message = INVALID_URL_ERROR.split(": ", 1)
    return events.publication(ImageFailed(image.job_id, image.id, image.url, reason, message))


@subscriber(
    "csv.received",
    queue_name="default",
    max_retries=5,
    time_limit=600_000,
    on_retry_exhausted="split_gave_up",
)
def split_csv(subject: str, event: dict[str, Any]) -> None:
    job_id = event["request_id"]
    job = jobs.get_job(job_id)
    if job is None or job.status in jobs.FINAL_STATUSES:
        return
    planned = _plan(job_id)
    if planned is None:
        return
    # The count exists before the job is `processing`, so a processing job without one is a
    # job whose count Redis lost (the watchdog rebuilds it).
    wired.counter.start(job_id, sum(1 for image in planned if image.failure is None))
    split = add_images(job_id, planned, invalid_url_event)
    if split.already_done:
        return
    if split.first_time:
        for image, staged in zip(split.failed_now, split.staged, strict=True):
            measure(image.outcome)
            events.send(staged)
    else:  # a redelivered split: the count may be older than what the rows say
        wired.counter.restart(job_id, [image.index for image in split.pending])
    if not split.pending:
        finish_job.send(job_id)
    open_window(job_id, split.pending)


@dramatiq.actor(
    broker=wired.broker, queue_name="default", max_retries=10, min_backoff=1_000, time_limit=60_000
)
def split_gave_up(message_data: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """An unexpected error outlasted every retry of the split: the job ends failed, saying so."""
    _, event = message_data["args"]
    fail_job(event["request_id"], "the uploaded CSV could not be split into images")
