"""The dispatch window (contract §11, storage/window.py) seen from outside the service.

The origin counts a job's downloads under way at once. An image is downloaded only by a
message, and a message holds its credit until its image is settled, so that count can never
pass the window, W, however many threads the worker has; with more threads than W, it
reaches W. The origin measures it, rather than the window's keys reporting it, so the test
holds the mechanism to account instead of agreeing with it.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator

import pytest
import redis
from PIL import Image

from ops import embedded
from tests.e2e.service import Service
from tests.e2e.test_crashes import DRIP_SECONDS, _csv
from tests.e2e.test_service import post_csv, wait_completed
from tests.images import encode
from tests.origin import Origin, Route
from tests.receiver import poll

pytestmark = pytest.mark.slow

WINDOW = 3
IMAGES = 12  # four windows' worth
PACES = 3  # download speeds, in turn (SlowJob)
# Threads for every image of two jobs at once: only the window holds them back.
PROCESSES, THREADS = 2, 8
ENV = {
    "IMGPRESS_DISPATCH_WINDOW": str(WINDOW),
    "IMGPRESS_REDELIVERY_MS": "2000",  # a dead worker's messages come back after 2 s
}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    # One service for the module (each start and stop costs seconds); jobs keep apart by id.
    folder = tmp_path_factory.mktemp("window")
    with Service(folder / "var", worker=False, **ENV) as service:
        yield service


@pytest.fixture
def service(running: Service) -> Service:
    """The module's service with its usual worker, whatever the test before did to it."""
    if "worker" not in running.processes:
        running.start_worker(PROCESSES, THREADS)
    return running


class SlowJob:
    """A job of IMAGES slow downloads, under a path prefix of its own on the origin.

    Downloads take one, two or three times as long in turn, so a window's downloads never run
    in step: each ends while others are under way, and a credit wrongly given back at that
    instant shows as one download too many at the origin. (In step, all would end together,
    and too many credits would go unseen.)
    """

    def __init__(self, origin: Origin, tag: str) -> None:
        self.origin = origin
        self.prefix = f"/slow-{tag}/"
        self.paths = [f"{self.prefix}{n}.jpg" for n in range(IMAGES)]
        for n, path in enumerate(self.paths):
            body = encode(Image.new("RGB", (48 + n, 40), (n * 20 % 256, 80, 160)), "JPEG")
            drip = DRIP_SECONDS * (1 + n % PACES)
            origin.route(path, Route(body=body, headers={"Content-Type": "image/jpeg"}, drip=drip))
        self.urls = [origin.url(path) for path in self.paths]

    def post(self, service: Service) -> dict:
        accepted = post_csv(service, _csv(self.urls))
        self.request_id: str = accepted["request_id"]
        return accepted

    def downloading(self) -> int:
        return self.origin.answering(self.prefix)

    def most_at_once(self) -> int:
        return self.origin.most_answering(self.prefix)

    def fetches(self) -> Counter[str]:
        """How many times each of the job's images was requested."""
        return Counter(r.path for r in self.origin.requests if r.path.startswith(self.prefix))


def _tag() -> str:
    # The origin is shared by the whole session: every job gets paths of its own.
    return f"window-{secrets.token_hex(4)}"


def _assert_completed_whole(final: dict) -> None:
    assert (final["status"], final["processed_images"], final["failed_images"]) == (
        "completed",
        IMAGES,
        0,
    )


def _window_keys(service: Service, request_id: str) -> list[bytes]:
    client = redis.Redis.from_url(embedded.url_for(service.data_dir))
    return list(client.scan_iter(f"imgpress:job:{request_id}:window:*"))


def _wait_window_forgotten(service: Service, job: SlowJob) -> None:
    # Forgotten right after the job's announcement, which /status may show first.
    poll(lambda: not _window_keys(service, job.request_id))


def test_a_job_never_has_more_than_the_window_downloading(service: Service, origin: Origin) -> None:
    # Given a job of four windows' worth of slow images, and threads for all of them
    job = SlowJob(origin, _tag())
    # When it runs
    final = wait_completed(service, job.post(service)["status_url"])
    # Then the origin saw at most W of its downloads at once, and W at some point
    assert job.most_at_once() == WINDOW
    # And every image was dispatched, fetched once and counted once
    _assert_completed_whole(final)
    assert job.fetches() == Counter(job.paths)
    _wait_window_forgotten(service, job)


def test_two_jobs_at_once_each_keep_to_a_window_of_their_own(
    service: Service, origin: Origin
) -> None:
    # Given two jobs of slow images, under one prefix and each under one of its own
    tag = _tag()
    jobs = [SlowJob(origin, f"{tag}-a"), SlowJob(origin, f"{tag}-b")]
    # When both run at once
    accepted = [job.post(service) for job in jobs]
    finals = [wait_completed(service, job["status_url"]) for job in accepted]
    # Then each job had at most W downloads at once, and both had W at the same time
    assert [job.most_at_once() for job in jobs] == [WINDOW, WINDOW]
    assert origin.most_answering(f"/slow-{tag}-") == 2 * WINDOW
    for job, final in zip(jobs, finals, strict=True):
        _assert_completed_whole(final)
        assert job.fetches() == Counter(job.paths)
        _wait_window_forgotten(service, job)


def test_a_killed_workers_credits_come_back(service: Service, origin: Origin) -> None:
    # Given a job whose window is full: W downloads under way in one worker
    job = SlowJob(origin, _tag())
    accepted = job.post(service)
    poll(lambda: job.downloading() == WINDOW)
    # When that worker is SIGKILLed holding them, and a fresh one starts
    service.kill_worker()
    poll(lambda: job.downloading() == 0)  # the origin saw the killed downloads cut off
    service.start_worker(PROCESSES, THREADS)
    # Then their messages come back with their credits: the window fills again
    poll(lambda: job.downloading() == WINDOW)
    final = wait_completed(service, accepted["status_url"])
    # And never more than W: no redelivered message took a credit beside the one it held
    assert job.most_at_once() == WINDOW
    # And the job completed whole: the W downloads killed (the job's first) were made again,
    # every other one once
    _assert_completed_whole(final)
    assert job.fetches() == Counter(job.paths) + Counter(job.paths[:WINDOW])
    _wait_window_forgotten(service, job)


def test_a_settled_images_second_delivery_returns_no_second_credit(
    service: Service, origin: Origin
) -> None:
    # Given a job, and a worker that dies once an image was counted and its credit returned,
    # before its message was acknowledged (so that message is delivered again)
    service.kill_worker()  # idle: the job must reach the dying worker alone
    job = SlowJob(origin, _tag())
    accepted = job.post(service)
    service.start_worker(1, THREADS, IMGPRESS_CRASH_AT="image.counted")
    assert service.wait_worker_exit() != 0
    # When a fresh worker takes over
    service.start_worker(PROCESSES, THREADS)
    final = wait_completed(service, accepted["status_url"])
    # Then that second delivery freed no credit held by another image: never more than W
    # downloads at once, and the job completed whole
    assert job.most_at_once() == WINDOW
    _assert_completed_whole(final)
    _wait_window_forgotten(service, job)
