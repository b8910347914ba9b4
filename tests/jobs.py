"""Submit jobs in-process and wait for them, the way the API and `imgpress process` do."""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import Any

from actors.runtime import current
from tests.receiver import poll

DEFAULT_OPTIONS = {"format": "original", "quality": 50, "max_width": None, "max_height": None}


def submit(csv_text: str, webhook_url: str | None = None, **options: Any) -> str:
    from actors.intake import open_job, summarise
    from actors.options import JobOptions

    layout = current().layout

    layout.inputs.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=layout.inputs, suffix=".part")
    with open(handle, "w", encoding="utf-8") as written:
        written.write(csv_text)
    job_id = secrets.token_urlsafe(12)
    summary = summarise(Path(name))
    chosen = JobOptions.from_json({**DEFAULT_OPTIONS, **options})
    open_job(job_id, Path(name), summary, chosen, webhook_url)
    return job_id


def wait_until_announced(job_id: str, timeout: float = 60.0) -> Any:
    """The job's final view, once its job.completed|failed event has gone out."""
    from storage import jobs

    def announced() -> Any:
        job = jobs.get_job(job_id)
        return job if job is not None and job.announced else None

    return poll(announced, timeout)
