"""Issue 9's fairness goal (contract §11): jobs share the workers, whatever their size.

- A 10-image job posted while a large job of small product photos runs: its time from POST to
  completed, against the same job's on the idle service (best of a few rounds each).
- Two equal large jobs, the second posted a few seconds after the first: once both run, the
  images per second each gets, over the stretch in which both are running (read from
  /status, polled every 0.25 s), as the slower's rate ÷ the faster's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ops.bench import photos
from ops.bench.origin import Origin
from ops.bench.report import Check, GoalResult
from ops.bench.service import Service, ServiceError, image_csv
from ops.bench.settings import Settings
from storage.vocabulary import FINAL_STATUSES

SMALL_GOAL = 3.0  # loaded ÷ idle, at most
SHARE_GOAL = 0.80  # slower ÷ faster images/s, at least
SMALL_IMAGES = 10
FIELDS = {"format": "original", "quality": "50"}
JOB_TIMEOUT_S = 1800.0
_POLL_S = 0.25


def run(settings: Settings) -> GoalResult:
    result = GoalResult("9 fairness")
    bodies = photos.load(photos.product_set(24))
    with (
        Origin() as origin,
        Service("fairness", settings.worker_threads, settings.keep_data) as service,
    ):
        service.start()
        urls = _UrlMaker(origin, bodies)
        _small_beside_large(service, urls, settings, result)
        _two_large(service, urls, settings, result)
    return result


class _UrlMaker:
    """Distinct URLs on the origin (no two images of any job alike), cycling a few photos."""

    def __init__(self, origin: Origin, bodies: list[bytes]) -> None:
        self._origin, self._bodies, self._made = origin, bodies, 0

    def make(self, count: int) -> list[str]:
        start, self._made = self._made, self._made + count
        return [
            self._origin.serve(f"/f/{n:07d}.jpg", self._bodies[n % len(self._bodies)])
            for n in range(start, start + count)
        ]


def _small_beside_large(
    service: Service, urls: _UrlMaker, settings: Settings, result: GoalResult
) -> None:
    rounds = settings.pick(3, 2)
    service.run_job(image_csv(urls.make(SMALL_IMAGES)), JOB_TIMEOUT_S, **FIELDS)  # warm-up
    idle = min(_small_job(service, urls) for _ in range(rounds))
    large_images = settings.pick(20_000, 3_000)
    large = service.upload(image_csv(urls.make(large_images)), **FIELDS)
    _wait_running(service, large, at_least=200)
    loaded = []
    for _ in range(rounds):
        if _status(service, large)["status"] in FINAL_STATUSES:
            raise ServiceError("the large job ended before the small jobs were measured")
        loaded.append(_small_job(service, urls))
    best_loaded = min(loaded)
    service.wait_done(large, JOB_TIMEOUT_S, every=1.0)
    result.add(f"{SMALL_IMAGES}-image job, idle service, best of {rounds}", idle, "s")
    result.add(f"same, while a {large_images:,}-image job runs, best of {rounds}", best_loaded, "s")
    result.add("same, while it runs, worst round", max(loaded), "s")
    ratio = best_loaded / idle
    basis = f"{best_loaded:.2f} s beside {large_images:,} images vs {idle:.2f} s idle"
    result.checks.append(Check("small job: loaded ÷ idle", ratio, "x", SMALL_GOAL, False, basis))


def _small_job(service: Service, urls: _UrlMaker) -> float:
    return service.run_job(image_csv(urls.make(SMALL_IMAGES)), JOB_TIMEOUT_S, **FIELDS)[1]


@dataclass(frozen=True)
class _Sample:
    at: float
    done: tuple[int, int]


def _two_large(service: Service, urls: _UrlMaker, settings: Settings, result: GoalResult) -> None:
    images, apart = settings.pick(8_000, 1_500), 3.0 if settings.quick else 10.0
    first = service.upload(image_csv(urls.make(images)), **FIELDS)
    time.sleep(apart)  # the goal's own gap between the two uploads, not a synchronisation
    second = service.upload(image_csv(urls.make(images)), **FIELDS)
    _wait_running(service, second, at_least=1)
    samples = _sample_while_both_run(service, first, second)
    service.wait_done(first, JOB_TIMEOUT_S, every=1.0)
    service.wait_done(second, JOB_TIMEOUT_S, every=1.0)
    if len(samples) < 2:
        raise ServiceError("the two large jobs never ran at the same time long enough to measure")
    seconds = samples[-1].at - samples[0].at
    rates = [(samples[-1].done[n] - samples[0].done[n]) / seconds for n in (0, 1)]
    result.add(f"two {images:,}-image jobs posted {apart:g} s apart: both ran for", seconds, "s")
    result.add("first job meanwhile", rates[0], "images/s")
    result.add("second job meanwhile", rates[1], "images/s")
    share = min(rates) / max(rates) if max(rates) else 0.0
    basis = f"{rates[0]:.1f} vs {rates[1]:.1f} images/s over {seconds:.1f} s"
    result.checks.append(
        Check("two large jobs: slower ÷ faster", share, "x", SHARE_GOAL, True, basis)
    )


def _sample_while_both_run(service: Service, first: str, second: str) -> list[_Sample]:
    samples: list[_Sample] = []
    while True:
        a, b = _status(service, first), _status(service, second)
        if a["status"] in FINAL_STATUSES or b["status"] in FINAL_STATUSES:
            return samples  # each taken while both were still running
        samples.append(_Sample(time.perf_counter(), (_done(a), _done(b))))
        time.sleep(_POLL_S)


def _wait_running(service: Service, request_id: str, at_least: int) -> None:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        status = _status(service, request_id)
        if _done(status) >= at_least or status["status"] in FINAL_STATUSES:
            return
        time.sleep(_POLL_S)
    raise ServiceError(f"job {request_id} did not start within {JOB_TIMEOUT_S:g} s")


def _status(service: Service, request_id: str) -> dict[str, object]:
    return service.get_json(f"/status/{request_id}")


def _done(status: dict[str, object]) -> int:
    return int(str(status["processed_images"])) + int(str(status["failed_images"]))
