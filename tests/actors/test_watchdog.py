"""The watchdog ends jobs whose work was lost, and leaves alone jobs whose work is queued."""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import timedelta

from PIL import Image

from actors.compress_image import compress_image
from actors.watchdog import sweep
from storage import images, jobs
from storage.sessions import now
from storage.split import HeadImage, add_head
from tests.actors.test_exactly_once import _split_by_hand
from tests.images import encode
from tests.jobs import wait_until_announced
from tests.origin import Route
from tests.receiver import poll
from tests.recording_subscriber import seen


def _drain(pipeline, worker) -> None:
    for queue in ("images", "default"):
        pipeline.broker.join(queue)
    worker.join()


def test_a_job_whose_messages_were_lost_is_ended(origin, worker, pipeline) -> None:
    # Given a split job whose compress messages never reached the queue
    good = origin.url("/photos/coffee.jpg")
    job_id, tasks = _split_by_hand(f"name,url\nA,{good}\nB,{good}?2\nC,ftp://x\n")
    _drain(pipeline, worker)
    # When the watchdog sweeps (deadline 0: everything quiet counts as stuck)
    assert sweep(deadline=0) >= 1
    # Then the job completed, the lost images failed with `timeout`, once each
    job = wait_until_announced(job_id)
    assert (job.status, job.processed_images, job.failed_images) == ("completed", 0, 3)
    reasons = Counter(image.outcome.error.split(":")[0] for image in images.images_of(job_id))
    assert reasons == {"timeout": 2, "invalid_url": 1}
    poll(lambda: Counter(i["subject"] for i in seen(job_id))["job.completed"] == 1)


def test_a_job_that_never_started_ends_failed(worker, pipeline) -> None:
    job_id = secrets.token_urlsafe(12)
    jobs.create_job(job_id, {"format": "original", "quality": 50}, 1, [], None)
    _drain(pipeline, worker)
    sweep(deadline=0)
    job = wait_until_announced(job_id)
    assert job.status == "failed" and "never started" in job.error


def test_a_job_whose_split_stopped_after_its_head_ends_failed(worker, pipeline) -> None:
    # Given a job of 3 slots whose head (one image) was created, and whose split was lost
    job_id = secrets.token_urlsafe(12)
    jobs.create_job(job_id, {"format": "original", "quality": 50}, 3, [], None)
    add_head(job_id, [HeadImage("http://127.0.0.1:9/a.jpg", 1)], lambda _: None)
    _drain(pipeline, worker)
    # When the watchdog sweeps
    sweep(deadline=0)
    # Then the job failed, saying why: finish_job would wait for the split for ever
    job = wait_until_announced(job_id)
    assert job.status == "failed" and "not split to its end" in job.error


def _slow_urls(origin, tag: str, count: int, seconds: float) -> list[str]:
    """Distinct small JPEGs that each take about `seconds` to download."""
    urls = []
    for n in range(count):
        body = encode(Image.new("RGB", (40 + n, 30), (n * 9 % 256, 90, 150)), "JPEG")
        path = f"/watchdog-{tag}/{n}.jpg"
        route = Route(body=body, headers={"Content-Type": "image/jpeg"}, drip=seconds / len(body))
        origin.route(path, route)
        urls.append(origin.url(path))
    return urls


def test_a_stuck_job_ends_while_another_keeps_the_queues_busy(origin, worker, pipeline) -> None:
    # Given a large job keeping every worker thread and the images queue busy
    tag = secrets.token_hex(4)
    busy_csv = "name,url\n" + "".join(
        f"P{n},{u}\n" for n, u in enumerate(_slow_urls(origin, tag, 24, 1.0))
    )
    busy_id, busy_tasks = _split_by_hand(busy_csv)
    for task in busy_tasks:
        compress_image.send(task.as_message())
    # And a job whose compress messages were lost
    stuck_id, _ = _split_by_hand(f"name,url\nA,{origin.url('/photos/coffee.jpg')}?{tag}\n")
    deadline = 2.0
    poll(lambda: jobs.get_job(stuck_id).created_at < now() - timedelta(seconds=deadline))
    # When the watchdog sweeps while work is still queued
    assert pipeline.client.llen(f"{pipeline.broker.namespace}:images") > 0
    sweep(deadline=deadline)
    # Then the stuck job ends, its lost image failed with `timeout`, and the busy one goes on
    stuck = wait_until_announced(stuck_id)
    assert (stuck.status, stuck.processed_images, stuck.failed_images) == ("completed", 0, 1)
    assert jobs.get_job(busy_id).status == "processing"
    busy = wait_until_announced(busy_id, timeout=120)
    assert (busy.processed_images, busy.failed_images) == (24, 0)
