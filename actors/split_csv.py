"""split_csv: turn a received CSV into image records and one compress message per distinct URL."""

from __future__ import annotations

import functools
from collections.abc import Generator
from contextlib import closing
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
from actors.outcomes import measure
from actors.report import INVALID_URL_ERROR
from ops.crashpoints import crash_point
from storage import jobs
from storage.images import ImageRecord
from storage.outbox import Publication
from storage.pending import pending_indexes
from storage.split import HeadImage, NewSlot, SplitResult, add_head, add_images

wired = runtime.current()  # an actor module: imported after bootstrap (actors.runtime)
# A file with more distinct URLs than this many windows has its first ones created and sent
# before the rest is split: enough to keep the workers busy meanwhile (1,024 images by
# default; the rest of a 100,000-image file takes 1.5 s).
HEAD_WINDOWS = 16


def new_slots(manifest: ManifestReader) -> Generator[NewSlot, None, None]:
    """Every slot's URL in row and position order, read afresh; invalid ones failed already."""
    for row in manifest.rows():
        for slot in row.slots:
            yield NewSlot(slot.url, None if slot.valid else INVALID_URL_ERROR)


def first_images(manifest: ManifestReader, limit: int) -> list[HeadImage] | None:
    """The first `limit` distinct valid URLs with the slots that name them so far, read from
    the file's start; None when it has no more than that (one commit then does it all)."""
    seen: dict[str, int] = {}
    with closing(new_slots(manifest)) as slots:
        for url, failure in slots:
            if failure is None and url in seen:
                seen[url] += 1
            elif failure is None and len(seen) < limit:
                seen[url] = 1
            elif failure is None:
                return [HeadImage(url, count) for url, count in seen.items()]
    return None


def _split(job_id: str) -> SplitResult | None:
    """The job's images, created now or found; None when its CSV can no longer be read.

    A large file's first images go out while the rest of it is split (storage/split.py).
    """
    # Reading the rows can refuse the file too (a row, a limit), hence one `try` for all.
    try:
        manifest = read_manifest(wired.layout.input_csv(job_id))
        # The count exists before the job is `processing`, so a processing job without one
        # is a job whose count Redis lost (the watchdog rebuilds it).
        counted = functools.partial(wired.counter.start, job_id)
        head = first_images(manifest, HEAD_WINDOWS * wired.window.size)
        if head is not None and add_head(job_id, head, counted):
            open_window(job_id, len(head) - 1)
            crash_point("split.head")
        return add_images(job_id, lambda: new_slots(manifest), invalid_url_event, counted)
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
    split = _split(job_id)
    if split is None or split.already_done:
        return
    for image, staged in zip(split.failed_now, split.staged, strict=True):
        measure(image.outcome)
        events.send(staged)
    if not split.counted:  # counted for a head, or by an earlier delivery: the rows decide
        wired.counter.restart(job_id, pending_indexes(job_id))
    if not split.pending.count:
        finish_job.send(job_id)
    open_window(job_id, split.pending.last_index)


@dramatiq.actor(
    broker=wired.broker, queue_name="default", max_retries=10, min_backoff=1_000, time_limit=60_000
)
def split_gave_up(message_data: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """An unexpected error outlasted every retry of the split: the job ends failed, saying so."""
    _, event = message_data["args"]
    fail_job(event["request_id"], "the uploaded CSV could not be split into images")
