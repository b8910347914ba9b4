"""The JSON shapes the API answers with."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.files import PublicUrls
from storage.jobs import JobView
from storage.vocabulary import JobStatus


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() + "Z" if moment else None


def progress(job: JobView) -> float:
    if job.total_images == 0:
        return 1.0 if job.status == JobStatus.COMPLETED else 0.0
    return round((job.processed_images + job.failed_images) / job.total_images, 4)


def _webhook(job: JobView) -> dict[str, Any] | None:
    if job.webhook is None:
        return None
    hook = job.webhook
    return {
        "url": hook.url,
        "state": hook.state,
        "attempts": hook.attempts,
        "last_status_code": hook.last_status_code,
    }


def status_body(job: JobView, urls: PublicUrls) -> dict[str, Any]:
    done = job.status == JobStatus.COMPLETED
    return {
        "request_id": job.id,
        "status": job.status,
        "total_images": job.total_images,
        "processed_images": job.processed_images,
        "failed_images": job.failed_images,
        "progress": progress(job),
        "skipped_rows": [{"row": r["row"], "reason": r["reason"]} for r in job.skipped_rows],
        "output_csv_url": urls.output_csv(job.id) if done else None,
        "report_url": urls.report(job.id) if done else None,
        "webhook": _webhook(job),
        "created_at": iso(job.created_at),
        "completed_at": iso(job.completed_at),
        "error": job.error,
    }
