"""finish_job: write the output CSV and the report, end the job, announce it once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import dramatiq

from actors import events
from actors.happenings import JobCompleted, JobEnded, JobFailed
from actors.intake import read_manifest
from actors.manifest.errors import ManifestError
from actors.report import ImageOutcome, write_output_csv, write_report
from actors.runtime import counter, layout, urls
from ops import metrics
from storage import images, jobs

_TIME_LIMIT_S = 600


def outcomes(job_id: str, link: Callable[[str], str]) -> dict[str, ImageOutcome]:
    """Each distinct URL's result; `link` turns a stored image's path into what the CSVs show."""
    return {image.url: _report_entry(image.outcome, link) for image in images.images_of(job_id)}


def _report_entry(outcome: images.Outcome, link: Callable[[str], str]) -> ImageOutcome:
    facts = asdict(outcome)
    path = facts.pop("output_path")
    return ImageOutcome(output_url=link(path) if path else None, **facts)


def write_outputs(
    job_id: str, output_csv: Path, report_csv: Path, link: Callable[[str], str]
) -> None:
    """Both CSVs, atomically: a crash leaves the old file or none, never half of one."""
    manifest = read_manifest(layout.input_csv(job_id))
    results = outcomes(job_id, link)
    write_output_csv(manifest, results, output_csv)
    write_report(manifest, results, report_csv)


def job_ended(job: jobs.JobView) -> JobEnded:
    """The event, and the webhook's body: rebuilt from the job, identical on every retry."""
    done = job.status == "completed"
    kind = JobCompleted if done else JobFailed
    return kind(
        request_id=job.id,
        status=job.status,
        output_csv_url=urls.output_csv(job.id) if done else None,
        report_url=urls.report(job.id) if done else None,
        total_images=job.total_images,
        processed_images=job.processed_images,
        failed_images=job.failed_images,
        completed_at=job.completed_at.isoformat() + "Z" if job.completed_at else None,
    )


def announce(job_id: str) -> None:
    """Publish job.completed|failed unless it went out already (at least once, once normally)."""
    job = jobs.get_job(job_id)
    if job is None or job.announced or job.status not in jobs.FINAL_STATUSES:
        return
    events.publish(job_ended(job))
    jobs.mark_announced(job_id)
    counter.forget(job_id)


def fail_job(job_id: str, error: str) -> None:
    """End a job that cannot be done (its CSV vanished, storage broke), with the reason."""
    with counter.finishing(job_id, hold_seconds=_TIME_LIMIT_S):
        _fail(job_id, error)


def _fail(job_id: str, error: str) -> None:
    if jobs.end_job(job_id, "failed", error):
        metrics.JOBS.labels("failed").inc()
    announce(job_id)


@dramatiq.actor(
    queue_name="default", max_retries=5, min_backoff=1_000, time_limit=_TIME_LIMIT_S * 1000
)
def finish_job(job_id: str) -> None:
    with counter.finishing(job_id, hold_seconds=_TIME_LIMIT_S):
        _finish(job_id)


def _finish(job_id: str) -> None:
    job = jobs.get_job(job_id)
    if job is None:
        return
    if job.status not in jobs.FINAL_STATUSES:
        try:
            write_outputs(job_id, layout.output_csv(job_id), layout.report_csv(job_id), urls.image)
        except (OSError, ManifestError) as error:
            _fail(job_id, f"the output could not be written: {error}")
            return
        if jobs.end_job(job_id, "completed"):
            metrics.JOBS.labels("completed").inc()
    announce(job_id)
