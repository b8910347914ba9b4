"""split_csv: turn a received CSV into image records and one compress message per distinct URL."""

from __future__ import annotations

from collections import Counter
from typing import Any

from actors import events
from actors.compress_image import ImageTask, compress_image
from actors.events import subscriber
from actors.finish_job import fail_job, finish_job
from actors.happenings import ImageFailed
from actors.intake import read_manifest
from actors.manifest.errors import ManifestError
from actors.manifest.parser import Manifest
from actors.report import INVALID_URL_ERROR
from actors.runtime import counter, layout
from storage import jobs
from storage.images import NewImage, add_images


def new_images(manifest: Manifest) -> list[NewImage]:
    """Distinct URLs in first-appearance order; each remembers how many slots name it."""
    slots = Counter(slot.url for slot in manifest.slots)
    valid = [NewImage(url, slots[url]) for url in manifest.distinct_urls()]
    invalid = [NewImage(url, slots[url], INVALID_URL_ERROR) for url in manifest.invalid_urls()]
    return valid + invalid


def _read_manifest(job_id: str) -> Manifest | None:
    try:
        return read_manifest(layout.input_csv(job_id))
    except OSError as error:
        fail_job(job_id, f"the uploaded CSV could not be read: {error.strerror or error}")
    except ManifestError as error:
        fail_job(job_id, f"the uploaded CSV is no longer valid: {error.description}")
    return None


@subscriber("csv.received", queue_name="default", max_retries=5, time_limit=600_000)
def split_csv(subject: str, event: dict[str, Any]) -> None:
    job_id = event["request_id"]
    job = jobs.get_job(job_id)
    if job is None or job.status in jobs.FINAL_STATUSES:
        return
    manifest = _read_manifest(job_id)
    if manifest is None:
        return
    split = add_images(job_id, new_images(manifest))
    if split.already_done:
        return
    for image in split.failed_now:
        events.publish(ImageFailed(job_id, image.id, image.url, *INVALID_URL_ERROR.split(": ", 1)))
    counter.start(job_id, len(split.pending))
    if not split.pending:
        finish_job.send(job_id)
    for image in split.pending:
        task = ImageTask(job_id, image.id, image.index, image.url, job.options)
        compress_image.send(task.as_message())
