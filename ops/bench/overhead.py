"""Goal 1, overhead: a job through the deployed service against a bare Pillow loop.

Both sides compress the same list of real 2-8 MP photos with `actors.imaging.compress`
(format original, quality 50), which is the service's own decode and encode. The bare side
is that call in a `multiprocessing.Pool(2)` over bytes already in memory: the machine's limit.
The service side is everything a user sees, timed from POST /upload until /status (polled every
50 ms) says completed: upload, split, queueing, downloads from a loopback origin, the
compression, files, SQLite and Redis bookkeeping, the output CSV and report.

The machine is shared and noisy, so the two sides alternate for a few rounds and each keeps its
best round: interference only ever makes a round slower.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass
from multiprocessing.pool import Pool
from multiprocessing.synchronize import Barrier
from pathlib import Path
from types import TracebackType

from actors.imaging import JobOptions, compress
from ops.bench import photos, procs
from ops.bench.origin import Origin
from ops.bench.report import Check, GoalResult, disturbed
from ops.bench.service import Service, image_csv
from ops.bench.settings import Settings
from ops.config import from_env

GOAL = 0.95  # issue 9 (issue 4 asked 0.90)
BARE_PROCESSES = 2  # as many as the service's worker processes
WARMUP_IMAGES = 8  # one small job first: first-request costs are not the steady state
OPTIONS = JobOptions(format="original", quality=50)
FIELDS = {"format": "original", "quality": "50"}
JOB_TIMEOUT_S = 900.0
_START_TIMEOUT_S = 120.0


def run(settings: Settings) -> GoalResult:
    specs = photos.mixed_set(settings.pick(48, 14))
    order = [n % len(specs) for n in range(settings.pick(400, 80))]
    rounds = settings.pick(3, 1)
    return compare(GoalResult("1 overhead"), settings, specs, order, rounds, GOAL, "2-8 MP")


def compare(
    result: GoalResult,
    settings: Settings,
    specs: list[photos.PhotoSpec],
    order: list[int],
    rounds: int,
    goal: float,
    kind: str,
) -> GoalResult:
    """The service against the bare loop on `order` (indexes into `specs`), best of `rounds`."""
    paths = photos.ensure(specs)
    megapixels = sum(specs[i].megapixels for i in order)
    result.add(
        f"job: {len(order)} images of {kind}, {len(specs)} distinct photos", megapixels, "MP"
    )
    bare, service, threads = _measure(settings, paths, order, rounds, result)
    service_rate, bare_rate = len(order) / service.seconds, len(order) / bare.seconds
    result.add(f"service, best round ({threads} threads/process)", service_rate, "images/s")
    result.add(f"bare Pillow loop, Pool({BARE_PROCESSES}), best round", bare_rate, "images/s")
    # CPU against wall time tells lost work (more CPU per image) from lost overlap (idle cores).
    per_image = 1000 / len(order)
    result.add("service CPU per image, all its processes", service.cpu * per_image, "ms")
    result.add("bare CPU per image, in compress()", bare.cpu * per_image, "ms")
    for name, timing in (("service", service), ("bare", bare)):
        busy = timing.cpu / timing.seconds / BARE_PROCESSES * 100
        result.add(f"{name}: cores busy in its best round", busy, "%")
    basis = f"service {service_rate:.1f} img/s vs bare {bare_rate:.1f} img/s, {threads} threads"
    basis += disturbed([service.others, bare.others])
    ratio = service_rate / bare_rate
    result.checks.append(Check(f"service ÷ bare images/s, {kind}", ratio, "x", goal, True, basis))
    return result


@dataclass(frozen=True)
class Timing:
    seconds: float  # wall time of a round
    cpu: float  # CPU seconds it used
    others: float  # cores kept busy meanwhile by processes outside the benchmark

    def show(self, result: GoalResult, label: str) -> None:
        result.add(f"{label} (others used {self.others:.1f} cores)", self.seconds, "s")


def _measure(
    settings: Settings, paths: list[Path], order: list[int], rounds: int, result: GoalResult
) -> tuple[Timing, Timing, int]:
    """Alternate bare and service rounds; the best of each, and the worker threads used."""
    bodies = [path.read_bytes() for path in paths]
    bare_rounds: list[Timing] = []
    service_rounds: list[Timing] = []
    with (
        Origin() as origin,
        Service("overhead", settings.worker_threads, settings.keep_data) as service,
        BarePool(paths) as bare,
    ):
        service.start()
        warm = [origin.serve(f"/w/{n}.jpg", bodies[n % len(bodies)]) for n in range(WARMUP_IMAGES)]
        service.run_job(image_csv(warm), JOB_TIMEOUT_S, **FIELDS)
        for round_ in range(rounds):
            bare_rounds.append(bare.run(order))
            bare_rounds[-1].show(result, f"round {round_ + 1}: bare loop")
            urls = [
                origin.serve(f"/r{round_}/{n:06d}/{paths[i].stem}.jpg", bodies[i])
                for n, i in enumerate(order)
            ]
            service_rounds.append(_service_round(service, urls))
            service_rounds[-1].show(result, f"round {round_ + 1}: service, upload to completed")
        return _best(bare_rounds), _best(service_rounds), service.threads_used


def _service_round(service: Service, urls: list[str]) -> Timing:
    pids = service.pids()  # the processes exist before the job: none is started by it
    cpu = procs.cpu_seconds(pids)
    with procs.OtherLoad(pids) as others:
        seconds = service.run_job(image_csv(urls), JOB_TIMEOUT_S, **FIELDS)[1]
    return Timing(seconds, procs.cpu_seconds(pids) - cpu, others.cores)


def _best(rounds: list[Timing]) -> Timing:
    return min(rounds, key=lambda timing: timing.seconds)


class BarePool:
    """Processes holding every photo in memory, compressing the indices they are handed."""

    def __init__(self, paths: list[Path]) -> None:
        # spawn, not fork: the parent runs threads (the origin), which fork does not copy safely.
        context = multiprocessing.get_context("spawn")
        self._barrier = context.Barrier(BARE_PROCESSES + 1)
        names = [str(path) for path in paths]
        self._pool: Pool = context.Pool(
            BARE_PROCESSES, initializer=_load, initargs=(names, self._barrier)
        )

    def __enter__(self) -> BarePool:
        try:
            self._barrier.wait(timeout=_START_TIMEOUT_S)  # every process has loaded the photos
        except BaseException:
            self._pool.terminate()  # __exit__ is not called when __enter__ fails
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._pool.terminate()
        self._pool.join()

    def run(self, order: list[int]) -> Timing:
        with procs.OtherLoad() as others:
            started = time.perf_counter()
            # chunksize 1: photos differ in size, so hand them out one at a time, as a queue does.
            cpu = sum(self._pool.imap_unordered(_compress, order, chunksize=1))
            seconds = time.perf_counter() - started
        return Timing(seconds, cpu, others.cores)


# The pool's side: module-level, as spawned processes find them by name.

_photos: list[bytes] = []
_max_pixels = 0


def _load(paths: list[str], barrier: Barrier) -> None:
    global _max_pixels
    _photos.extend(Path(path).read_bytes() for path in paths)
    _max_pixels = from_env(os.environ).max_pixels  # the service's own limit
    compress(_photos[0], OPTIONS, _max_pixels)  # first-call costs (plugin imports) not timed
    barrier.wait(timeout=_START_TIMEOUT_S)


def _compress(index: int) -> float:
    """Compress one photo; the CPU seconds it took."""
    started = time.process_time()
    compress(_photos[index], OPTIONS, _max_pixels)
    return time.process_time() - started
