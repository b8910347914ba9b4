"""Completion is counted exactly once: duplicates and permanent failures leave counts exact."""

from __future__ import annotations

import functools
import secrets
from collections import Counter

from actors.compress_image import compress_image
from actors.dispatch import ImageTask
from actors.intake import read_manifest, summarise
from actors.runtime import current
from actors.split_csv import invalid_url_event, new_slots
from storage import images, jobs
from storage.split import add_images
from tests.jobs import DEFAULT_OPTIONS, submit, wait_until_announced
from tests.receiver import poll
from tests.recording_subscriber import seen


def _split_by_hand(csv_text: str) -> tuple[str, list[ImageTask]]:
    """What split_csv does, minus the sending: so the test can send each message twice."""
    job_id = secrets.token_urlsafe(12)
    path = current().layout.input_csv(job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(csv_text)
    jobs.create_job(job_id, DEFAULT_OPTIONS, summarise(path).total_slots, [], None)
    manifest = read_manifest(path)
    counter = functools.partial(current().counter.start, job_id)
    split = add_images(job_id, lambda: new_slots(manifest), invalid_url_event, counter)
    pending = images.to_dispatch(job_id, 0, split.pending.count)
    tasks = [ImageTask(job_id, id, index, url, DEFAULT_OPTIONS) for id, index, url in pending]
    return job_id, tasks


def _subjects(job_id: str) -> Counter[str]:
    return Counter(item["subject"] for item in seen(job_id))


def _drain(pipeline, worker) -> None:
    for queue in ("images", "default", "events"):
        pipeline.broker.join(queue)
    worker.join()


def test_each_message_delivered_twice_counts_once(origin, worker, pipeline) -> None:
    # Given a job of two images, one of which fails permanently (404)
    good, gone = origin.url("/photos/rocket.jpg"), origin.url("/missing.jpg")
    job_id, tasks = _split_by_hand(f"name,url\nP1,{good}\nP2,{gone}\nP3,{good}\n")
    # When every compress message is delivered twice, concurrently
    for task in tasks + tasks:
        compress_image.send(task.as_message())
    job = wait_until_announced(job_id)
    # Then the counts are exact and job.completed went out once
    assert (job.status, job.total_images) == ("completed", 3)
    assert (job.processed_images, job.failed_images) == (2, 1)
    _drain(pipeline, worker)
    subjects = _subjects(job_id)
    assert subjects["job.completed"] == 1
    assert (subjects["image.compressed"], subjects["image.failed"]) == (1, 1)


def _fetches(origin, path: str) -> int:
    return sum(1 for request in origin.requests if request.path == path)


def test_a_redelivery_after_the_job_ended_changes_nothing(origin, worker, pipeline) -> None:
    # Given a finished job
    path = f"/photos/coffee.jpg?{secrets.token_hex(4)}"
    job_id = submit(f"name,url\nP1,{origin.url(path)}\n")
    before = wait_until_announced(job_id)
    [image] = images.images_of(job_id)
    stored = current().layout.image(image.outcome.output_path)
    written = (stored.read_bytes(), stored.stat().st_mtime_ns)
    # When its compress message arrives once more (a worker died before acking it)
    compress_image.send(ImageTask(job_id, image.id, 0, image.url, DEFAULT_OPTIONS).as_message())
    _drain(pipeline, worker)
    # Then nothing moved and no second job.completed was published
    after = jobs.get_job(job_id)
    assert after == before
    assert poll(lambda: _subjects(job_id)["job.completed"]) == 1
    assert _subjects(job_id)["image.compressed"] == 1
    # And the image was neither fetched again nor written again
    assert _fetches(origin, path) == 1
    assert (stored.read_bytes(), stored.stat().st_mtime_ns) == written


def test_a_count_redis_lost_never_completes_a_job_with_pending_images(origin, worker) -> None:
    # Given a split job of two images whose count Redis lost, and only one message sent
    tag = secrets.token_hex(4)
    a, b = (origin.url(f"/photos/{name}.jpg?{tag}") for name in ("rocket", "coffee"))
    csv = f"name,url\nA,{a}\nB,{b}\n"
    job_id, tasks = _split_by_hand(csv)
    current().counter.forget(job_id)
    compress_image.send(tasks[0].as_message())
    # When that image counts against the missing count (which reads as "look")
    job = wait_until_announced(job_id)
    # Then the rows decided: the other image was sent again, and both are done
    assert (job.status, job.processed_images, job.failed_images) == ("completed", 2, 0)
    assert all(image.status == "ok" for image in images.images_of(job_id))


def test_a_job_of_only_invalid_urls_still_completes(worker) -> None:
    job = wait_until_announced(submit("name,url\nP1,ftp://x/y.jpg\nP2,not-a-url\n"))
    assert (job.status, job.total_images, job.failed_images) == ("completed", 2, 2)
