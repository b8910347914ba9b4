"""The words a job's state is told in: statuses, outcomes and failure reasons, defined once.

Here, in the lowest layer that writes them down (the database's columns hold them), so that
`storage`, `actors`, `svc` and `ops` all name the same members. They are `StrEnum`s: each member
is the very string the database, the API, events, webhooks, metrics labels and the report
carry, so nothing outside changes when code names them instead of spelling them.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """Where a job is: pending → processing → completed | failed."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


FINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED})  # never left once reached


class ImageStatus(StrEnum):
    """Where an image is (pending → ok | failed); its outcome once settled."""

    PENDING = "pending"
    OK = "ok"
    FAILED = "failed"


class WebhookState(StrEnum):
    """Where a job's webhook delivery is: pending until delivered or failed for good."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class ReportStatus(StrEnum):
    """The report's `status` column: an image's outcome, or a CSV row that was skipped."""

    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


class FailureReason(StrEnum):
    """Why an image failed: an image.failed event's `reason`, the `reason` label of
    imgpress_image_failures_total, and what the report's `error` starts with."""

    INVALID_URL = "invalid_url"
    BLOCKED_ADDRESS = "blocked_address"
    NOT_FOUND = "not_found"
    UPSTREAM_ERROR = "upstream_error"
    TIMEOUT = "timeout"
    TOO_LARGE = "too_large"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    NOT_AN_IMAGE = "not_an_image"
    TOO_MANY_PIXELS = "too_many_pixels"
    INTERNAL_ERROR = "internal_error"
