"""finish_job: write the output CSV and the report, end the job, announce it once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dramatiq

from actors import events, runtime
from actors.dispatch import open_window
from actors.happenings import JobCompleted, JobEnded, JobFailed
from actors.intake import read_manifest
from actors.manifest.errors import ManifestError
from actors.outcome_stream import ImageResult, InIndexOrder
from actors.report import ImageOutcome, write_files
from ops import metrics
from ops.crashpoints import crash_point
from storage import images, jobs
from storage.outbox import Publication
from storage.pending import Pending, all_created, pending_indexes, pending_of
from storage.vocabulary import JobStatus

wired = runtime.current()  # an actor module: imported after bootstrap (actors.runtime)

_TIME_LIMIT_S = 600


def outcomes(job_id: str, link: Callable[[str], str]) -> InIndexOrder:
    """Each slot's result, streamed from the job's images in index order, for one pass over
    its rows; `link` turns a stored image's path into what the CSVs show."""
    return InIndexOrder(
        ImageResult(url, slots, _report_entry(outcome, link))
        for url, slots, outcome in images.outcomes_in_order(job_id)
    )


def _report_entry(outcome: images.Outcome, link: Callable[[str], str]) -> ImageOutcome:
    # Field by field, in ImageOutcome's order: dataclasses.asdict deep-copied, and cost 15 s
    # of a 100,000-image finish; keywords cost a third more than this.
    status, error, input_bytes, output_bytes, width, height, fmt, path = outcome
    output_url = link(path) if path else None
    return ImageOutcome(status, output_url, error, input_bytes, output_bytes, width, height, fmt)


def write_outputs(
    job_id: str, output_csv: Path, report_csv: Path, link: Callable[[str], str]
) -> None:
    """Both CSVs, atomically: a crash leaves the old file or none, never half of one."""
    manifest = read_manifest(wired.layout.input_csv(job_id))
    write_files(manifest, outcomes(job_id, link), output_csv=output_csv, report=report_csv)


def job_ended(job: jobs.JobView) -> JobEnded:
    """The event, and the webhook's body: rebuilt from the job, identical on every retry."""
    done = job.status == JobStatus.COMPLETED
    kind = JobCompleted if done else JobFailed
    return kind(
        request_id=job.id,
        status=job.status,
        output_csv_url=wired.urls.output_csv(job.id) if done else None,
        report_url=wired.urls.report(job.id) if done else None,
        total_images=job.total_images,
        processed_images=job.processed_images,
        failed_images=job.failed_images,
        completed_at=job.completed_at.isoformat() + "Z" if job.completed_at else None,
    )


def announcement(job: jobs.JobView) -> Publication:
    """The job.completed|failed event, recorded by `jobs.end_job` in the job's last commit."""
    return events.publication(job_ended(job))


def _end(job_id: str, status: JobStatus, error: str | None = None) -> None:
    """End the job once; the event committed with it is sent now (or by the relay later)."""
    staged = jobs.end_job(job_id, status, announcement, error)
    if staged is None:
        return
    metrics.JOBS.labels(status).inc()
    events.send(staged)
    wired.counter.forget(job_id)
    wired.window.forget(job_id)
    crash_point("job.ended")


def fail_job(job_id: str, error: str) -> None:
    """End a job that cannot be done (its CSV vanished, storage broke), with the reason."""
    _end(job_id, JobStatus.FAILED, error)


def recover_pending(job_id: str, pending: Pending) -> None:
    """Images the count forgot (Redis lost it): count them again and send them again,
    through a window started over.

    A message that was not lost after all finds its image settled and only counts.
    """
    if wired.counter.restart(job_id, pending_indexes(job_id)) == 0:
        finish_job.send(job_id)
    open_window(job_id, pending.last_index, reset=True)


@dramatiq.actor(
    broker=wired.broker,
    queue_name="default",
    max_retries=5,
    min_backoff=1_000,
    time_limit=_TIME_LIMIT_S * 1000,
    on_retry_exhausted="finish_gave_up",
)
def finish_job(job_id: str) -> None:
    # No lock: two finishers at once (a duplicate, a redelivery) both write the same CSVs
    # atomically, and `jobs.end_job` lets one of them end the job. A lock held by a finisher
    # that was killed would only hold up its redelivery.
    job = jobs.get_job(job_id)
    if job is None or job.status != JobStatus.PROCESSING:  # not split yet, or ended already
        return
    if not all_created(job_id, job.total_images):  # the split is still at it: it sends this
        return
    pending = pending_of(job_id)
    if pending.count:  # the count said zero, the rows say otherwise: the rows decide
        recover_pending(job_id, pending)
        return
    try:
        write_outputs(
            job_id,
            wired.layout.output_csv(job_id),
            wired.layout.report_csv(job_id),
            wired.urls.image,
        )
    except (OSError, ManifestError) as error:
        _end(job_id, JobStatus.FAILED, f"the output could not be written: {error}")
        return
    crash_point("job.finishing")
    _end(job_id, JobStatus.COMPLETED)


@dramatiq.actor(
    broker=wired.broker, queue_name="default", max_retries=10, min_backoff=1_000, time_limit=60_000
)
def finish_gave_up(message_data: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """An unexpected error outlasted every retry of finish_job: the job ends failed."""
    [job_id] = message_data["args"]
    fail_job(job_id, "the output CSV and report could not be written")
