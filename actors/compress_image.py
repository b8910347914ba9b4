"""compress_image: fetch one image, compress it, store it, and settle its outcome."""

from __future__ import annotations

import re
import time
from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage

from actors import runtime
from actors.dispatch import COMPRESS_ACTOR, ImageTask
from actors.errors import ImageFailure, PermanentFailure, TransientFailure
from actors.fair_pool import FairPool
from actors.fetch import Download
from actors.happenings import Event, ImageCompressed, ImageFailed
from actors.imaging import FORMAT_EXTENSIONS, Compressed, compress
from actors.options import JobOptions
from actors.outcomes import count, settle
from ops import metrics
from storage import images
from storage.files import atomic_write_bytes
from storage.images import Outcome
from storage.vocabulary import FailureReason, ImageStatus

wired = runtime.current()  # an actor module: imported after bootstrap (actors.runtime)
config = wired.config
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
# Images are decoded and encoded on threads of their own, `compress_slots` per process, whatever
# Dramatiq thread took the message: the other threads only download, and a large image's
# buffers come and go in the same malloc arenas. When any thread compressed, buffers freed in
# one arena were not reused by the next image on a thread of the other, and each arena kept an
# image's worth (24 MP WebP, 16 threads: peak RSS 303 MiB, against 218 on a thread of its own).
# Jobs take turns on those threads (actors.fair_pool): a small job's image does not wait for
# every image a large job's threads have downloaded before it.
_compressor = FairPool(config.compress_slots, name="compress")


def output_name(task: ImageTask, fmt: str) -> str:
    """Deterministic per (job, image): a redelivered task overwrites its own file."""
    stem = _UNSAFE.sub("-", task.url.rsplit("/", 1)[-1].rsplit(".", 1)[0]).strip("-")[:40]
    return f"{task.job_id}/{task.index:06d}{'-' + stem if stem else ''}.{FORMAT_EXTENSIONS[fmt]}"


def _store(task: ImageTask, result: Compressed, input_bytes: int) -> tuple[Outcome, Event]:
    relative = output_name(task, result.format)
    atomic_write_bytes(wired.layout.image(relative), result.data)
    outcome = Outcome(
        status=ImageStatus.OK,
        input_bytes=input_bytes,
        output_bytes=len(result.data),
        width=result.width,
        height=result.height,
        format=result.format,
        output_path=relative,
    )
    event = ImageCompressed(
        task.job_id,
        task.image_id,
        task.url,
        wired.urls.image(relative),
        input_bytes,
        len(result.data),
        result.format,
    )
    return outcome, event


def _failed(
    task: ImageTask, failure: ImageFailure, input_bytes: int | None = None
) -> tuple[Outcome, Event]:
    outcome = Outcome(status=ImageStatus.FAILED, error=failure.report_text, input_bytes=input_bytes)
    event = ImageFailed(task.job_id, task.image_id, task.url, failure.reason, failure.message)
    return outcome, event


def _is_last_attempt() -> bool:
    message = CurrentMessage.get_current_message()
    return message is None or message.options.get("retries", 0) >= config.fetch_retries


def _attempt(task: ImageTask) -> tuple[Outcome, Event]:
    try:
        download = wired.fetcher.download(task.url)
    except PermanentFailure as failure:
        return _failed(task, failure)
    except TransientFailure as failure:
        if not _is_last_attempt():
            raise  # Dramatiq retries with backoff, freeing this thread meanwhile
        return _failed(task, failure)
    with download:
        try:
            options = JobOptions.from_json(task.options)
            result = _compressor.submit(task.job_id, _compressed, download, options).result()
        except PermanentFailure as failure:  # the report still shows what was downloaded
            return _failed(task, failure, download.size)
    return _store(task, result, download.size)


def _compressed(download: Download, options: JobOptions) -> Compressed:
    # The body comes into memory only here, one per compressing thread.
    return compress(download.read(), options, config.max_pixels)


@dramatiq.actor(
    broker=wired.broker,
    actor_name=COMPRESS_ACTOR,
    queue_name="images",
    max_retries=config.fetch_retries,
    min_backoff=500,  # contract §4: from 0.5 s doubling, never over 10 s
    max_backoff=10_000,
    time_limit=300_000,
    on_retry_exhausted="image_gave_up",
)
def compress_image(message: dict[str, Any]) -> None:
    task = ImageTask(**message)
    if images.is_settled(task.image_id):
        # A redelivery of finished work, before or after its job ended: count again (that may
        # end the job, if the first delivery died right after its commit) but never fetch or
        # write a second time. The database decides: Redis may have forgotten.
        count(task.job_id, task.image_id, task.index)
        return
    wired.counter.touch(task.job_id, time.time())  # progress, for the watchdog
    started = time.perf_counter()
    outcome, event = _attempt(task)
    settle(task.job_id, task.image_id, task.index, outcome, event)
    metrics.PROCESS_SECONDS.observe(time.perf_counter() - started)


@dramatiq.actor(
    broker=wired.broker, queue_name="images", max_retries=10, min_backoff=1_000, time_limit=60_000
)
def image_gave_up(message_data: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """An unexpected error outlasted every retry: the image fails, the job still ends."""
    task = ImageTask(**message_data["args"][0])
    failure = PermanentFailure(FailureReason.INTERNAL_ERROR, "the image could not be processed")
    settle(task.job_id, task.image_id, task.index, *_failed(task, failure))
