"""Issue 9's 100,000-image goal (contract §11): a job of IMGPRESS_MAX_IMAGES small product
photos against a 10,000-image job on the same service (quick: 20,000 against 2,000).

- Both complete with exact counts (every slot processed, none failed).
- Peak RSS (the kernel's VmHWM, reset before each job) of every API process, every worker
  process and Redis: the large job's over the small job's, process by process. Flat is ≤ 1.10.
- The first image starts ≤ 1 s after the 202: the origin's first request for the job's URLs.
- The last image settled → completed ≤ 5 s: the job row's completed_at against the latest
  finished_at of its images, read from the service's SQLite file (one clock wrote both).
- GET /status of the running job, as the client sees it: the median of the polls made while
  it is `processing`.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime

from ops.bench import photos, procs
from ops.bench.origin import Origin
from ops.bench.report import Check, GoalResult
from ops.bench.service import Service, ServiceError, image_csv
from ops.bench.settings import Settings
from storage.vocabulary import FINAL_STATUSES, JobStatus

RSS_GOAL = 1.10  # large job's peak ÷ small job's, per process
FIRST_IMAGE_GOAL_S = 1.0
FINISH_GOAL_S = 5.0
STATUS_GOAL_MS = 10.0
DISTINCT_PHOTOS = 24
FIELDS = {"format": "original", "quality": "50"}
WARMUP_IMAGES = 50
JOB_TIMEOUT_S = 7200.0
_POLL_S = 0.2
_FIRST_POLL_S = 0.02  # until the first image is done, so its time is read closely
ROLES = ("API", "worker", "Redis")


@dataclass(frozen=True)
class JobRun:
    """What one job showed: its final status, its timings and each process's peak RSS."""

    images: int
    status: dict[str, object]
    seconds: float  # 202 to completed, as /status showed it
    first_fetch_s: float  # 202 to the origin's first request for one of its images
    first_done_s: float  # 202 to the first /status with an image done
    finish_s: float  # last image settled to completed, from the database
    status_ms: list[float]  # each GET /status while the job was processing
    peaks: dict[str, dict[int, float]]  # role -> pid -> peak RSS (MiB) during the job


def run(settings: Settings) -> GoalResult:
    result = GoalResult("9 catalog")
    bodies = photos.load(photos.thumbnail_set(DISTINCT_PHOTOS))
    with (
        Origin() as origin,
        Service("catalog", settings.worker_threads, settings.keep_data) as service,
    ):
        service.start()
        warm = [_serve(origin, bodies, "warm", n) for n in range(WARMUP_IMAGES)]
        service.run_job(image_csv(warm), JOB_TIMEOUT_S, **FIELDS)
        runs = []
        for images in (settings.pick(10_000, 2_000), settings.pick(100_000, 20_000)):
            runs.append(_job(service, origin, bodies, images))
            _show(runs[-1], result)
    small, large = runs
    _flatness(small, large, result)
    _latencies(large, result)
    return result


def _serve(origin: Origin, bodies: list[bytes], folder: str, n: int) -> str:
    return origin.serve(f"/{folder}/{n:06d}.jpg", bodies[n % len(bodies)])


def _job(service: Service, origin: Origin, bodies: list[bytes], images: int) -> JobRun:
    """One job of `images` distinct URLs, from its upload to completed, watched throughout."""
    folder = f"catalog-{images}"
    csv = image_csv([_serve(origin, bodies, folder, n) for n in range(images)])
    roles = _processes(service)
    for pid in (pid for pids in roles.values() for pid in pids):
        procs.reset_peak(pid)
    request_id = service.upload(csv, **FIELDS)
    accepted = time.perf_counter()
    watched = _watch(service, request_id, accepted)
    seconds = time.perf_counter() - accepted
    peaks = {
        role: {pid: procs.memory(pid).peak_mib for pid in pids} for role, pids in roles.items()
    }
    first_fetch = origin.first_asked(folder)
    if first_fetch is None:
        raise ServiceError(f"job {request_id} completed without fetching any image")
    return JobRun(
        images,
        watched.status,
        seconds,
        first_fetch - accepted,
        watched.first_done - accepted,
        _settled_to_completed(service, request_id),
        watched.status_ms,
        peaks,
    )


def _processes(service: Service) -> dict[str, list[int]]:
    """The service's processes by role: each command with the processes it forked, and Redis."""
    assert service.api is not None and service.worker is not None
    redis = service.redis_pid()
    if redis is None:
        raise ServiceError("the embedded Redis left no pid file")
    return {
        "API": procs.tree(service.api.pid),
        "worker": procs.tree(service.worker.pid),
        "Redis": [redis],
    }


@dataclass(frozen=True)
class _Watched:
    status: dict[str, object]  # the last one: final
    first_done: float  # when /status first showed an image done
    status_ms: list[float]  # each poll's time while the job was processing


def _watch(service: Service, request_id: str, accepted: float) -> _Watched:
    """Poll /status until the job is final, closely until its first image is done."""
    first_done: float | None = None
    latencies: list[float] = []
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        started = time.perf_counter()
        status = service.get_json(f"/status/{request_id}")
        answered = time.perf_counter()
        if status["status"] in FINAL_STATUSES:
            return _Watched(status, first_done or answered, latencies)
        if status["status"] == JobStatus.PROCESSING:
            latencies.append((answered - started) * 1000)
        if first_done is None and _done(status):
            first_done = answered
        service.check_alive()
        time.sleep(_FIRST_POLL_S if first_done is None else _POLL_S)
    raise ServiceError(f"job {request_id} not done after {JOB_TIMEOUT_S:g} s")


def _done(status: dict[str, object]) -> int:
    return int(str(status["processed_images"])) + int(str(status["failed_images"]))


def _settled_to_completed(service: Service, request_id: str) -> float:
    """Seconds from the job's last image settling to the job ending, as its rows say."""
    with closing(sqlite3.connect(service.data_dir / "imgpress.sqlite3")) as database:
        [(completed,)] = database.execute(
            "SELECT completed_at FROM job WHERE id = ?", (request_id,)
        )
        [(settled,)] = database.execute(
            "SELECT MAX(finished_at) FROM image WHERE job = ?", (request_id,)
        )
    if completed is None or settled is None:
        raise ServiceError(f"job {request_id} has no completed_at or no settled image")
    return (datetime.fromisoformat(completed) - datetime.fromisoformat(settled)).total_seconds()


def _show(done: JobRun, result: GoalResult) -> None:
    label = f"{done.images:,}-image job"
    result.add(f"{label}: 202 to completed", done.seconds, "s")
    for role in ROLES:
        peaks = done.peaks[role]
        shown = ", ".join(f"{peak:.0f}" for peak in peaks.values())
        result.add(f"{label}: {role} peak RSS, highest of ({shown})", max(peaks.values()), "MiB")
    result.add(f"{label}: 202 to the first image fetched", done.first_fetch_s, "s")
    result.add(f"{label}: 202 to the first image done (/status)", done.first_done_s, "s")
    result.add(f"{label}: last image settled to completed", done.finish_s, "s")
    if done.status_ms:
        polls = f"median of {len(done.status_ms):,}"
        median = statistics.median(done.status_ms)
        result.add(f"{label}: GET /status while processing, {polls}", median, "ms")
    result.checks.append(_exact_count(label, done.status))


def _exact_count(label: str, status: dict[str, object]) -> Check:
    """How many slots a completed job is off its exact count: none processed twice or lost,
    none failed (every URL serves a photo)."""
    processed, failed = int(str(status["processed_images"])), int(str(status["failed_images"]))
    total = int(str(status["total_images"]))
    off = abs(total - processed) + failed
    if status["status"] != JobStatus.COMPLETED:
        off = max(off, 1)
    basis = f"{status['status']}: {processed:,} processed, {failed:,} failed of {total:,}"
    return Check(f"{label}: slots off the exact count", off, "", 0, False, basis)


def _flatness(small: JobRun, large: JobRun, result: GoalResult) -> None:
    for role in ROLES:
        ratios = {
            pid: peak / small.peaks[role][pid]
            for pid, peak in large.peaks[role].items()
            if pid in small.peaks[role]
        }
        if not ratios:
            raise ServiceError(f"no {role} process lived through both jobs")
        pid = max(ratios, key=lambda key: ratios[key])
        basis = (
            f"pid {pid}: {large.peaks[role][pid]:.0f} MiB for {large.images:,} images vs "
            f"{small.peaks[role][pid]:.0f} MiB for {small.images:,}"
        )
        name = f"{role} peak RSS, {large.images:,} ÷ {small.images:,} images, worst process"
        result.checks.append(Check(name, ratios[pid], "x", RSS_GOAL, False, basis))


def _latencies(large: JobRun, result: GoalResult) -> None:
    label = f"{large.images:,} images"
    result.checks.append(
        Check(
            f"{label}: 202 to the first image started",
            large.first_fetch_s,
            "s",
            FIRST_IMAGE_GOAL_S,
            False,
            f"first done {large.first_done_s:.2f} s after the 202",
        )
    )
    result.checks.append(
        Check(
            f"{label}: last settled to completed",
            large.finish_s,
            "s",
            FINISH_GOAL_S,
            False,
            "job.completed_at - max(image.finished_at)",
        )
    )
    if not large.status_ms:
        raise ServiceError("no GET /status answered while the large job was processing")
    median = statistics.median(large.status_ms)
    p90 = statistics.quantiles(large.status_ms, n=10)[-1] if len(large.status_ms) > 1 else median
    result.checks.append(
        Check(
            f"{label}: GET /status while running, median",
            median,
            "ms",
            STATUS_GOAL_MS,
            False,
            f"{len(large.status_ms):,} polls, p90 {p90:.1f} ms",
        )
    )
