"""Goal 4, memory: each worker process's peak RSS while it compresses 24 MP photos, and whether
the API's RSS grows with the size of an uploaded CSV.

Peaks are the kernel's own (VmHWM in /proc/<pid>/status), reset before each job through
/proc/<pid>/clear_refs, so each job's figure is its own. All the photos of a job are queued at
once, so every worker thread holds one: threads x image size is what is measured.
"""

from __future__ import annotations

import time

from ops.bench import photos, procs
from ops.bench.origin import Origin
from ops.bench.report import Check, GoalResult
from ops.bench.service import Service, ServiceError, image_csv, multipart
from ops.bench.settings import Settings

WORKER_GOAL_MIB = 300.0
# "Does not grow with the CSV's size": the API worker's peak growth during a 10 MiB upload,
# less its growth during a 1 MiB one, over the 9 MiB between them. A file held in memory costs at
# least its size (ratio >= 1, ~11 before uploads were streamed); the constant costs of an upload
# (buffers, a database connection) cancel out.
API_GROWTH_GOAL = 0.10
CSV_SIZES = (1024 * 1024, 10 * 1024 * 1024)
JOBS = (
    ("original", {"format": "original"}),
    ("webp", {"format": "webp"}),
    ("original, max_width=2000", {"format": "original", "max_width": "2000"}),
)
JOB_TIMEOUT_S = 900.0
_CHILDREN_TIMEOUT_S = 30.0


def run(settings: Settings) -> GoalResult:
    result = GoalResult("4 memory")
    specs = photos.huge_set(settings.pick(8, 4))
    bodies = photos.load(specs)
    with (
        Origin() as origin,
        Service("memory", settings.worker_threads, settings.keep_data) as service,
    ):
        service.start()
        workers = _worker_processes(service)
        result.add(
            f"{len(workers)} worker processes x {service.threads_used} threads, idle RSS",
            max(procs.memory(pid).rss_mib for pid in workers),
            "MiB",
        )
        worst = 0.0
        for job, (label, fields) in enumerate(JOBS):
            urls = [origin.serve(f"/job{job}/{n}.jpg", body) for n, body in enumerate(bodies)]
            worst = max(worst, _job_peak(service, workers, urls, label, fields, result))
        basis = f"highest worker VmHWM over {len(JOBS)} jobs of {len(bodies)} x 24 MP"
        result.checks.append(Check("worker peak RSS", worst, "MiB", WORKER_GOAL_MIB, False, basis))
        service.stop_worker()  # the big CSVs' rows must not be worked on: the API alone now
        _api_growth(service, result)
    return result


def _worker_processes(service: Service) -> list[int]:
    """The Dramatiq worker processes: the children of the `imgpress worker` process."""
    assert service.worker is not None
    deadline = time.monotonic() + _CHILDREN_TIMEOUT_S
    while time.monotonic() < deadline:
        found = procs.children(service.worker.pid)
        if found:
            return found
        time.sleep(0.1)
    raise ServiceError("the worker started no processes")


def _job_peak(
    service: Service,
    workers: list[int],
    urls: list[str],
    label: str,
    fields: dict[str, str],
    result: GoalResult,
) -> float:
    reset = all(procs.reset_peak(pid) for pid in workers)
    _, seconds = service.run_job(image_csv(urls), JOB_TIMEOUT_S, **fields)
    peaks = [procs.memory(pid).peak_mib for pid in workers]
    since = "this job" if reset else "process start (clear_refs refused)"
    shown = ", ".join(f"{peak:.0f}" for peak in peaks)
    result.add(
        f"{label}, {len(urls)} x 24 MP in {seconds:.1f} s, peak RSS since {since} ({shown})",
        max(peaks),
        "MiB",
    )
    return max(peaks)


# The API


def _api_growth(service: Service, result: GoalResult) -> None:
    assert service.api is not None
    api_workers = procs.children(service.api.pid)
    service.upload(big_csv(4096))  # first-upload costs (imports, connections) are not the CSV's
    small, large = (_upload_growth(service, api_workers, size, result) for size in CSV_SIZES)
    ratio = (large - small) * 2**20 / (CSV_SIZES[1] - CSV_SIZES[0])
    basis = f"peak grew {small:.1f} MiB for the 1 MiB CSV, {large:.1f} MiB for the 10 MiB one"
    result.checks.append(
        Check("API peak RSS growth ÷ CSV size", ratio, "x", API_GROWTH_GOAL, False, basis)
    )


def _upload_growth(
    service: Service, api_workers: list[int], size: int, result: GoalResult
) -> float:
    """How far the peak RSS of the API worker that took a `size`-byte upload rose above its RSS
    before it (MiB)."""
    before = {pid: procs.memory(pid) for pid in api_workers}
    for pid in api_workers:
        procs.reset_peak(pid)
    body, content_type = multipart(big_csv(size))
    status, answer, seconds = service.post_upload(body, content_type)
    if status != 202:
        raise ServiceError(f"the {size:,}-byte CSV was answered {status}: {answer}")
    after = {pid: procs.memory(pid) for pid in api_workers}
    growth = {pid: after[pid].peak_mib - before[pid].rss_mib for pid in api_workers}
    pid = max(growth, key=lambda key: growth[key])  # the gunicorn worker that took the upload
    result.add(
        f"API worker, {size / 2**20:g} MiB CSV in {seconds * 1000:.0f} ms: RSS before, "
        f"peak during, after ({before[pid].rss_mib:.1f}, {after[pid].peak_mib:.1f}, "
        f"{after[pid].rss_mib:.1f}); peak growth",
        growth[pid],
        "MiB",
    )
    return growth[pid]


def big_csv(size: int) -> bytes:
    """About `size` bytes of valid rows, each ~110 bytes so that 10 MiB stays under 100,000 rows
    (IMGPRESS_MAX_ROWS). The URLs are never fetched: no worker runs any more."""
    lines = ["S. No,Product Name,Input URLs"]
    total, n = 0, 0
    while total < size:
        n += 1
        product = f"Product {n:07d} of the big catalogue (bench)"
        line = f"{n},{product},http://127.0.0.1:9/catalogue/images/{n:07d}-front-view.jpg"
        lines.append(line)
        total += len(line) + 1
    return ("\n".join(lines) + "\n").encode()
