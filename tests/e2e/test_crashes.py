"""Crashes with nothing lost: a worker SIGKILLed mid-job, Redis restarted mid-job, a webhook
receiver that is down for a while. Each runs against the service as users start it."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import redis
from PIL import Image

from ops import embedded
from tests.e2e.service import Service, free_port
from tests.e2e.test_service import post_csv, wait_completed
from tests.images import encode
from tests.origin import Route
from tests.receiver import Receiver, poll

pytestmark = pytest.mark.slow

IMAGES = 24
DRIP_SECONDS = 0.0005  # per byte: each ~2 KB image takes about a second to download


def _slow_images(origin, tag: str) -> list[str]:
    """Distinct small JPEGs that download slowly, so a job is still running when we strike."""
    urls = []
    for n in range(IMAGES):
        body = encode(Image.new("RGB", (48 + n, 40), (n * 10 % 256, 80, 160)), "JPEG")
        path = f"/slow-{tag}/{n}.jpg"
        origin.route(
            path, Route(body=body, headers={"Content-Type": "image/jpeg"}, drip=DRIP_SECONDS)
        )
        urls.append(origin.url(path))
    return urls


def _csv(urls: list[str]) -> str:
    return "name,url\n" + "".join(f"P{n},{url}\n" for n, url in enumerate(urls))


def _status(service: Service, request_id: str) -> dict:
    return json.loads(service.get(f"/status/{request_id}").data)


def _events(service: Service, request_id: str) -> Counter[str]:
    """The job's distinct events by subject. Delivery is at least once (contract §10): a
    message the killed worker held comes back, so a subscriber may see one event twice."""
    client = redis.Redis.from_url(embedded.url_for(service.data_dir))
    seen = (json.loads(item) for item in client.lrange(f"test:events:{request_id}", 0, -1))
    distinct = {item["event"]["event_id"]: item["subject"] for item in seen}
    return Counter(distinct.values())


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    # Dead workers' messages come back after 2 s instead of a minute.
    with Service(tmp_path / "var", IMGPRESS_REDELIVERY_MS="2000") as running:
        yield running


def test_a_worker_killed_mid_job_is_replaced_and_the_job_completes(service, origin) -> None:
    # Given a job of slow images, partly done
    accepted = post_csv(service, _csv(_slow_images(origin, "kill")))
    request_id = accepted["request_id"]
    poll(lambda: _status(service, request_id)["processed_images"] >= 4, timeout=60)
    # When the worker is SIGKILLed mid-job and a new one starts
    service.kill_worker()
    killed = time.monotonic()
    service.start_worker()
    final = wait_completed(service, accepted["status_url"])
    print(f"\nkill to completed: {time.monotonic() - killed:.1f} s")
    # Then every image counted exactly once and job.completed went out once
    assert (final["status"], final["processed_images"], final["failed_images"]) == (
        "completed",
        IMAGES,
        0,
    )

    # (subscriber messages the dead worker held come back too, in their own time)
    def all_seen() -> Counter[str] | None:
        events = _events(service, request_id)
        return events if events["image.compressed"] >= IMAGES and events["job.completed"] else None

    events = poll(all_seen)
    assert events["job.completed"] == 1 and events["image.compressed"] == IMAGES


def test_a_redis_restart_mid_job_loses_nothing(service, origin) -> None:
    # Given a job of slow images, partly done
    accepted = post_csv(service, _csv(_slow_images(origin, "redis")))
    request_id = accepted["request_id"]
    poll(lambda: _status(service, request_id)["processed_images"] >= 4, timeout=60)
    # When Redis stops (writing its append-only file) and starts again
    embedded.stop(service.data_dir)
    embedded.ensure_running(service.data_dir)
    # Then the job completes with exact counts
    final = wait_completed(service, accepted["status_url"])
    assert (final["status"], final["processed_images"], final["failed_images"]) == (
        "completed",
        IMAGES,
        0,
    )
    assert _events(service, request_id)["job.completed"] <= 1


def test_a_webhook_receiver_down_for_a_while_gets_it_when_back(tmp_path, origin) -> None:
    port = free_port()
    env = {"IMGPRESS_WEBHOOK_RETRY_DELAYS": "1,1,1,1,1,1"}
    with Service(tmp_path / "var", **env) as service:
        # Given a receiver that is not there yet
        hook = f"http://127.0.0.1:{port}/hook"
        accepted = post_csv(service, _csv(_slow_images(origin, "hook")[:2]), webhook_url=hook)
        poll(
            lambda: (
                (_status(service, accepted["request_id"])["webhook"] or {}).get("attempts", 0) >= 2
            ),
            timeout=60,
        )
        # When it comes up on its address
        with Receiver([200], port=port) as receiver:
            [delivery] = receiver.wait_for(1)
            state = poll(
                lambda: (
                    (w := _status(service, accepted["request_id"])["webhook"])["state"]
                    == "delivered"
                    and w
                )
            )
    # Then the webhook arrived once it was back, within the retry schedule
    assert json.loads(delivery.body)["request_id"] == accepted["request_id"]
    assert state["attempts"] >= 3 and state["last_status_code"] == 200


def test_a_redis_flushed_mid_job_loses_no_image(tmp_path, origin) -> None:
    # The watchdog sweeps every 2 s, so a count Redis lost is rebuilt quickly.
    env = {"IMGPRESS_REDELIVERY_MS": "2000", "IMGPRESS_JOB_DEADLINE": "8"}
    with Service(tmp_path / "var", **env) as service:
        # Given a job of slow images, partly done
        accepted = post_csv(service, _csv(_slow_images(origin, "flush")))
        request_id = accepted["request_id"]
        poll(lambda: _status(service, request_id)["processed_images"] >= 4, timeout=60)
        # When Redis forgets everything: queues, messages in flight, the completion count
        redis.Redis.from_url(embedded.url_for(service.data_dir)).flushall()
        # Then the images whose messages were lost are sent again and the job completes whole
        final = wait_completed(service, accepted["status_url"])
    assert (final["status"], final["processed_images"], final["failed_images"]) == (
        "completed",
        IMAGES,
        0,
    )


def _outbox(service: Service, request_id: str) -> dict[str, bool]:
    """The job's events as the outbox holds them: subject -> whether it was marked sent."""
    with closing(sqlite3.connect(service.data_dir / "imgpress.sqlite3")) as database:
        rows = database.execute("SELECT subject, payload, sent_at FROM outbox").fetchall()
    return {
        subject: sent is not None
        for subject, payload, sent in rows
        if json.loads(payload)["request_id"] == request_id
    }


def test_an_upload_while_redis_is_down_is_started_by_the_relay(tmp_path, origin) -> None:
    env = {"IMGPRESS_OUTBOX_GRACE": "1"}  # the relay resends what is unsent 1 s after commit
    with Service(tmp_path / "var", **env) as service:
        # Given a running service whose Redis is down
        embedded.stop(service.data_dir)
        # When a CSV is uploaded (the API's send of csv.received fails after its retries)
        accepted = post_csv(service, f"name,url\nP,{origin.url('/photos/coffee.jpg')}\n")
        request_id = accepted["request_id"]
        # Then it was accepted anyway: the job and its event are committed, the event unsent
        assert _status(service, request_id)["status"] == "pending"
        assert _outbox(service, request_id) == {"csv.received": False}
        # When Redis is back
        embedded.ensure_running(service.data_dir)
        # Then the relay sends csv.received, and the job runs and completes
        final = wait_completed(service, accepted["status_url"])
        events = poll(lambda: (seen := _events(service, request_id))["job.completed"] and seen)
    assert (final["status"], final["processed_images"], final["failed_images"]) == (
        "completed",
        1,
        0,
    )
    assert events["csv.received"] >= 1 and _outbox(service, request_id)["csv.received"]
