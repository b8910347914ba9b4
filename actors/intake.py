"""Open a job from a CSV that passed its checks: the API and `imgpress process` share this."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import redis

from actors import events, runtime
from actors.happenings import CsvReceived
from actors.manifest.reader import ManifestReader, open_manifest
from actors.manifest.summary import ManifestSummary, summarise_file
from actors.options import JobOptions
from storage import jobs

_log = logging.getLogger(__name__)


def read_manifest(csv_path: Path) -> ManifestReader:
    """The stored CSV under this service's limits, its rows read on demand. Raises
    ManifestError (400/413) for a CSV the contract refuses: at once for its bytes or header,
    from `rows()` for a row or a limit."""
    config = runtime.current().config
    return open_manifest(csv_path, max_rows=config.max_rows, max_images=config.max_images)


def summarise(csv_path: Path) -> ManifestSummary:
    """What `open_job` needs, every row read once. Raises ManifestError (400/413) for a CSV
    the contract refuses, so a job is only opened for a CSV that passed every check."""
    config = runtime.current().config
    return summarise_file(csv_path, max_rows=config.max_rows, max_images=config.max_images)


def _skipped(manifest: ManifestSummary) -> list[dict[str, Any]]:
    return [{"row": number, "reason": reason} for number, reason in manifest.skipped_rows()]


def open_job(
    job_id: str,
    csv_path: Path,
    manifest: ManifestSummary,
    options: JobOptions,
    webhook_url: str | None,
) -> None:
    """Move the CSV into place, record the job with its csv.received event, send that."""
    layout = runtime.current().layout
    layout.inputs.mkdir(parents=True, exist_ok=True)
    csv_path.replace(layout.input_csv(job_id))
    received = events.publication(CsvReceived(job_id))
    staged = jobs.create_job(
        job_id, options.to_json(), manifest.total_slots, _skipped(manifest), webhook_url, received
    )
    assert staged is not None
    try:
        events.send(staged)
    except redis.RedisError:
        # The job and its event are committed: the relay sends it once Redis answers again.
        _log.warning("csv.received for job %s left to the relay: Redis did not answer", job_id)
