"""The pipeline dispatches through the window: never more than W of a job's messages in the
broker, in row order, and every image of the job goes out and settles exactly once."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from actors.runtime import current
from tests.images import make_png_rgba
from tests.jobs import submit, wait_until_announced
from tests.receiver import poll


def _queued_tasks(pipeline: Any, job_id: str) -> list[dict[str, Any]]:
    """The job's compress messages waiting in the images queue, in queue order."""
    import json

    broker = pipeline.broker
    ids = broker.client.lrange(f"{broker.namespace}:images", 0, -1)
    bodies = broker.client.hmget(f"{broker.namespace}:images.msgs", ids) if ids else []
    tasks = [json.loads(body)["args"][0] for body in bodies if body]
    return [task for task in tasks if task["job_id"] == job_id]


@contextmanager
def _paused(worker: Any) -> Iterator[None]:
    worker.pause()
    try:
        yield
    finally:
        worker.resume()


def _csv_of(origin: Any, count: int, prefix: str | None = None) -> str:
    """A CSV of `count` distinct small PNGs, served under /window/<prefix>/."""
    prefix = prefix or secrets.token_hex(4)
    body = make_png_rgba(4, 4)
    lines = ["Product Name,Image URLs"]
    for n in range(count):
        path = f"/window/{prefix}/{n}.png"
        origin.serve(path, body, "image/png")
        lines.append(f"P{n},{origin.url(path)}")
    return "\n".join(lines) + "\n"


def test_a_job_never_has_more_than_the_window_in_the_broker(origin, worker, pipeline) -> None:
    from actors.split_csv import split_csv

    window = current().config.dispatch_window
    images = window * 3 + 5
    # Given a job of three windows and a bit, split while no worker takes messages
    prefix = secrets.token_hex(4)
    with _paused(worker):
        job_id = submit(_csv_of(origin, images, prefix))
        split_csv.fn("csv.received", {"request_id": job_id})
        queued = _queued_tasks(pipeline, job_id)
        # Then exactly one window of its messages waits, the first images in row order
        assert [task["index"] for task in queued] == list(range(window))

    # And when the workers run, every image goes out once and the counts are exact
    job = wait_until_announced(job_id)
    assert (job.status, job.processed_images, job.failed_images) == ("completed", images, 0)
    fetched = Counter(r.path for r in origin.requests if r.path.startswith(f"/window/{prefix}/"))
    assert len(fetched) == images and set(fetched.values()) == {1}
    # And the ended job forgets its window (right after announcing it, so polled)
    poll(lambda: not current().window.exists(job_id))
    assert current().window.in_flight(job_id) == 0


def test_a_split_delivered_again_sends_nothing_more(origin, worker, pipeline) -> None:
    from actors.split_csv import split_csv

    window = current().config.dispatch_window
    with _paused(worker):
        job_id = submit(_csv_of(origin, window * 2))
        split_csv.fn("csv.received", {"request_id": job_id})
        split_csv.fn("csv.received", {"request_id": job_id})  # a redelivery
        assert len(_queued_tasks(pipeline, job_id)) == window
    assert wait_until_announced(job_id).processed_images == window * 2


def test_each_settled_image_lets_the_next_ones_out(origin, worker, pipeline) -> None:
    from actors.compress_image import compress_image
    from actors.split_csv import split_csv

    window = current().config.dispatch_window
    with _paused(worker):
        job_id = submit(_csv_of(origin, window + current().window.batch))
        split_csv.fn("csv.received", {"request_id": job_id})
        first = _queued_tasks(pipeline, job_id)
        assert len(first) == window
        # When a batch of the first window settles (run here, by hand)
        for task in first[: current().window.batch]:
            compress_image.fn(task)
        # Then the next images, in row order, take their place
        indexes = [task["index"] for task in _queued_tasks(pipeline, job_id)]
        assert indexes[-current().window.batch :] == list(
            range(window, window + current().window.batch)
        )
    assert wait_until_announced(job_id).status == "completed"
