"""Accept a validated upload: check its CSV, honour Idempotency-Key, open the job."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from actors.intake import open_job, summarise
from actors.manifest.summary import ManifestSummary
from storage import idempotency
from storage.files import PublicUrls
from storage.vocabulary import JobStatus
from svc.errors import ApiError
from svc.upload import Upload

# What a request_id can look like: secrets.token_urlsafe's alphabet. Anything else names no
# job, and is answered without asking the database (Pony strips a str key: "%09" becomes "").
REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")


def new_request_id() -> str:
    return secrets.token_urlsafe(16)  # unguessable, not a counter


@dataclass(frozen=True)
class Accepted:
    status: int  # 202 for a new job, 200 for a repeated Idempotency-Key
    body: dict[str, Any]


class Submissions:
    def __init__(self, urls: PublicUrls) -> None:
        self._urls = urls

    def _response(self, job_id: str) -> dict[str, Any]:
        status_url = self._urls.status(job_id)
        return {"request_id": job_id, "status": JobStatus.PENDING, "status_url": status_url}

    def _replay(self, key: str, fingerprint: str, job_id: str) -> Accepted | None:
        """The first response for a known key; None when `key` is ours now."""
        first = idempotency.remember(key, fingerprint, job_id, self._response(job_id))
        if first.fingerprint != fingerprint:
            raise ApiError(
                422,
                "Idempotency-Key reused",
                "this Idempotency-Key was used with a different file or different fields",
            )
        return None if first.job_id == job_id else Accepted(200, first.response)

    def accept(self, upload: Upload, idempotency_key: str | None) -> Accepted:
        try:
            summary = summarise(upload.csv_path)  # streamed: the file is never held in memory
            job_id = new_request_id()
            if idempotency_key and (
                replay := self._replay(idempotency_key, upload.fingerprint, job_id)
            ):
                upload.discard()
                return replay
            self._open(job_id, upload, summary, idempotency_key)
        except BaseException:
            upload.discard()
            raise
        return Accepted(202, self._response(job_id))

    def _open(self, job_id: str, upload: Upload, summary: ManifestSummary, key: str | None) -> None:
        try:
            open_job(job_id, upload.csv_path, summary, upload.options, upload.webhook_url)
        except BaseException:
            if key:
                idempotency.forget(key)  # the key must not name a job that never opened
            raise
