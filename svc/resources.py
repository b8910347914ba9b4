"""Thin responders: they receive their collaborators and hold no SQL, Redis or Pillow."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import falcon

from ops import metrics
from ops.config import Config
from storage import jobs
from storage.files import PublicUrls
from svc.errors import ApiError
from svc.submission import REQUEST_ID, Submissions
from svc.upload import read_upload
from svc.views import status_body

log = logging.getLogger("imgpress.api")


class UploadResource:
    def __init__(self, config: Config, inputs: Path, submissions: Submissions) -> None:
        self._config = config
        self._inputs = inputs
        self._submissions = submissions

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        upload = read_upload(req, self._config, self._inputs)
        accepted = self._submissions.accept(upload, req.get_header("Idempotency-Key"))
        resp.status = accepted.status
        resp.media = accepted.body
        resp.location = accepted.body["status_url"]


class StatusResource:
    def __init__(self, urls: PublicUrls) -> None:
        self._urls = urls

    def on_get(self, req: falcon.Request, resp: falcon.Response, request_id: str) -> None:
        job = jobs.get_job(request_id) if REQUEST_ID.fullmatch(request_id) else None
        if job is None:
            raise ApiError(404, "Not found", f"no job has the request_id {request_id!r}")
        resp.media = status_body(job, self._urls)


class HealthResource:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


class ReadyResource:
    """Says which dependency does not answer, never why: the error text of a backend (hosts,
    ports, user names) is for the operator's log, and anyone may ask /readyz."""

    def __init__(self, checks: Mapping[str, Callable[[], None]]) -> None:
        self._checks = checks

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        down = [name for name, check in self._checks.items() if not _answers(name, check)]
        if not down:
            resp.media = {"status": "ready", "failures": {}}
            return
        resp.status = 503
        resp.media = {
            "title": "Service unavailable",
            "description": f"not ready: {' and '.join(down)} not answering; the log says why",
            "status": "unavailable",
            "failures": dict.fromkeys(down, "not answering"),
        }


def _answers(name: str, check: Callable[[], None]) -> bool:
    try:
        check()
    except Exception:  # any failure means not ready
        log.warning("readiness: %s is not answering", name, exc_info=True)
        return False
    return True


class MetricsResource:
    def __init__(self, read_depths: Callable[[], Mapping[str, int]]) -> None:
        self._read_depths = read_depths

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = metrics.CONTENT_TYPE
        resp.data = metrics.render(self._read_depths)


class OpenApiResource:
    def __init__(self, document: dict[str, Any]) -> None:
        self._document = document

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._document
