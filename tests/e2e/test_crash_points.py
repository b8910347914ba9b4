"""Contract §10 under a worker killed at the worst instants: a crash point (IMGPRESS_CRASH_AT)
makes the worker SIGKILL itself at a named instant on every run; a fresh worker takes over,
and counts show that nothing was lost, repeated or rewritten."""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from PIL import Image

from ops import embedded
from tests.e2e.service import Service
from tests.e2e.test_service import post_csv, wait_completed
from tests.images import encode
from tests.receiver import Receiver, poll

pytestmark = pytest.mark.slow

IMAGES = 6
ENV = {
    "IMGPRESS_REDELIVERY_MS": "2000",  # a dead worker's messages come back after 2 s
    "IMGPRESS_OUTBOX_GRACE": "1",  # the relay resends what is unsent 1 s after its commit
    "IMGPRESS_WEBHOOK_TIMEOUT": "2",
    "IMGPRESS_WEBHOOK_RETRY_DELAYS": "1,1",
    # A window smaller than the job: it completes only if a killed worker's credits come back.
    "IMGPRESS_DISPATCH_WINDOW": "2",
}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with Service(tmp_path / "var", worker=False, **ENV) as running:
        yield running


def _urls(origin, count: int = IMAGES) -> list[str]:
    tag = secrets.token_hex(4)
    urls = []
    for n in range(count):
        body = encode(Image.new("RGB", (64 + n, 48), (n * 30 % 256, 120, 60)), "JPEG")
        path = f"/crash-{tag}/{n}.jpg"
        origin.serve(path, body, "image/jpeg")
        urls.append(origin.url(path))
    return urls


def _csv(urls: list[str]) -> str:
    return "name,url\n" + "".join(f"P{n},{url}\n" for n, url in enumerate(urls))


def _crash_then_recover(service: Service, point: str) -> None:
    """A worker that dies at `point`, then a fresh one without the crash point.

    The one that dies has one thread, so the image it dies on is the only one in flight:
    any second fetch the origin sees would be of finished work.
    """
    service.start_worker(threads=1, IMGPRESS_CRASH_AT=point)
    assert service.wait_worker_exit() != 0  # it died at the point, it did not finish
    service.start_worker()


def _seen(service: Service, request_id: str) -> list[dict]:
    """Every delivery the test subscriber (subject `>`) received for the job."""
    client = redis.Redis.from_url(embedded.url_for(service.data_dir))
    return [json.loads(item) for item in client.lrange(f"test:events:{request_id}", 0, -1)]


def _recorded(service: Service, request_id: str) -> dict[str, tuple[str, bool]]:
    """The job's events as the outbox holds them: event_id -> (subject, sent)."""
    with sqlite3.connect(service.data_dir / "imgpress.sqlite3") as database:
        rows = database.execute("SELECT event_id, subject, payload, sent_at FROM outbox").fetchall()
    return {
        event_id: (subject, sent is not None)
        for event_id, subject, payload, sent in rows
        if json.loads(payload)["request_id"] == request_id
    }


def _all_delivered(service: Service, request_id: str, expected: Counter[str]) -> dict:
    """Wait until every recorded event of the job reached the subscriber; what it saw, by id."""

    def delivered() -> dict | None:
        recorded = _recorded(service, request_id)
        if Counter(subject for subject, _ in recorded.values()) != expected:
            return None
        seen = {item["event"]["event_id"]: item for item in _seen(service, request_id)}
        return seen if set(seen) == set(recorded) else None

    return poll(delivered, timeout=90, every=0.2)


def _fetches(origin, urls: list[str]) -> Counter[str]:
    paths = {url.split(str(origin.port), 1)[1] for url in urls}
    return Counter(r.path for r in origin.requests if r.path in paths)


def _expected(images: int = IMAGES, ended: str = "job.completed") -> Counter[str]:
    return Counter({"csv.received": 1, "image.compressed": images, ended: 1})


def test_an_event_committed_before_its_worker_died_is_still_delivered(service, origin) -> None:
    # Given a job, and a worker that dies right after the first image's commit
    urls = _urls(origin)
    accepted = post_csv(service, _csv(urls))
    # When it dies there and a fresh worker takes over
    _crash_then_recover(service, "image.committed")
    final = wait_completed(service, accepted["status_url"])
    # Then the job completed with exact counts, and every recorded event reached the
    # subscriber, each event_id at least once and no other event_id at all
    assert (final["status"], final["processed_images"], final["failed_images"]) == (
        "completed",
        IMAGES,
        0,
    )
    seen = _all_delivered(service, accepted["request_id"], _expected())
    images = {item["event"]["image_id"] for item in seen.values() if "image_id" in item["event"]}
    assert len(images) == IMAGES
    assert all(sent for _, sent in _recorded(service, accepted["request_id"]).values())
    # And no image was fetched twice: the one that died after its commit was not redone
    assert set(_fetches(origin, urls).values()) == {1}


def test_a_split_killed_between_its_two_commits_is_finished_and_counts_every_slot(
    service, origin
) -> None:
    # Given a CSV of more images than the split's head (16 windows of 2), whose first URL
    # is named again after the head and which holds an invalid URL; and a worker that dies
    # once the head is committed and sent, before the rest is split
    urls = _urls(origin, 40)
    text = _csv(urls) + f"again,{urls[0]}\nbad,ftp://x.test/a.jpg\n"
    accepted = post_csv(service, text)
    _crash_then_recover(service, "split.head")
    # Then the redelivered split created the rest, and every slot counted once
    final = wait_completed(service, accepted["status_url"])
    assert (final["status"], final["total_images"]) == ("completed", 42)
    assert (final["processed_images"], final["failed_images"]) == (41, 1)
    expected = _expected(40) + Counter({"image.failed": 1})
    _all_delivered(service, accepted["request_id"], expected)
    # And no image was fetched twice: the head was not sent again
    assert set(_fetches(origin, urls).values()) == {1}


def test_the_last_count_lost_before_finish_job_still_ends_the_job_once(service, origin) -> None:
    # Given a job, and a worker that dies between the last image's count and finish_job
    urls = _urls(origin)
    accepted = post_csv(service, _csv(urls))
    _crash_then_recover(service, "job.counted")
    # Then the redelivered message finds its image settled, counts again, and ends the job
    final = wait_completed(service, accepted["status_url"])
    assert (final["processed_images"], final["failed_images"]) == (IMAGES, 0)
    _all_delivered(service, accepted["request_id"], _expected())
    assert set(_fetches(origin, urls).values()) == {1}


def _output_files(service: Service, status: dict) -> dict[str, str]:
    """Every image the output CSV names, by URL, with a digest of its bytes."""
    answer = service.get(status["output_csv_url"])
    assert answer.status == 200
    rows = answer.data.decode().splitlines()[1:]
    named = [url for row in rows for url in row.rsplit(",", 1)[1].split(",") if url]
    return {url: hashlib.sha256(service.get(url).data).hexdigest() for url in named}


@pytest.mark.parametrize("point", ["job.finishing", "job.ended"])
def test_finish_job_killed_midway_ends_the_job_exactly_once(service, origin, point) -> None:
    # Given a job, and a worker that dies in finish_job (CSVs written, job not ended) or
    # after the job ended but before its message was acknowledged
    urls = _urls(origin)
    accepted = post_csv(service, _csv(urls))
    _crash_then_recover(service, point)
    final = wait_completed(service, accepted["status_url"])
    # Then the job ended once: one job.completed event_id, the outputs whole and unchanged
    assert (final["processed_images"], final["failed_images"]) == (IMAGES, 0)
    seen = _all_delivered(service, accepted["request_id"], _expected())
    assert Counter(item["subject"] for item in seen.values())["job.completed"] == 1
    files = _output_files(service, final)
    assert len(files) == IMAGES
    assert _output_files(service, final) == files
    assert set(_fetches(origin, urls).values()) == {1}


def test_a_webhook_interrupted_mid_post_is_delivered_within_its_budget(service, origin) -> None:
    # Given a job with a webhook, and a worker that dies after the POST, before its answer
    with Receiver([200]) as receiver:
        accepted = post_csv(service, _csv(_urls(origin, 1)), webhook_url=receiver.url)
        _crash_then_recover(service, "webhook.posting")

        # Then the attempt is made again and the delivery ends `delivered`
        def delivered() -> dict | None:
            hook = json.loads(service.get(accepted["status_url"]).data)["webhook"]
            return hook if hook["state"] == "delivered" else None

        hook = poll(delivered, timeout=90, every=0.2)
        deliveries = receiver.deliveries
    budget = 1 + len(ENV["IMGPRESS_WEBHOOK_RETRY_DELAYS"].split(","))
    assert 1 <= hook["attempts"] <= budget and hook["last_status_code"] == 200
    # And the receiver got it at least twice (the interrupted POST, then the repeat), every
    # time with the same webhook-id and body
    assert len(deliveries) >= 2
    assert len({d.headers["webhook-id"] for d in deliveries}) == 1
    assert len({d.body for d in deliveries}) == 1
    expected = _expected(1) + Counter({"webhook.delivered": 1})
    _all_delivered(service, accepted["request_id"], expected)
