"""The watchdog ends jobs whose work was lost, and leaves alone jobs whose work is queued."""

from __future__ import annotations

import secrets
from collections import Counter

from actors.compress_image import compress_image
from actors.watchdog import sweep
from storage import images, jobs
from tests.actors.test_exactly_once import _split_by_hand
from tests.jobs import wait_until_announced
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


def test_queued_work_keeps_a_job_alive(origin, worker, pipeline) -> None:
    # Given a job whose messages are still waiting in the queue (the worker is paused)
    worker.pause()
    try:
        job_id, tasks = _split_by_hand(f"name,url\nA,{origin.url('/photos/rocket.jpg')}\n")
        compress_image.send(tasks[0].as_message())
        # Then even a zero deadline ends nothing
        assert sweep(deadline=0) == 0
    finally:
        worker.resume()
    assert wait_until_announced(job_id).processed_images == 1
