"""The events the pipeline publishes: frozen dataclasses named in the past tense.

Each carries its subject; `payload()` is the JSON a subscriber receives. `request_id` names the
job in every one of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    subject: ClassVar[str]
    request_id: str

    def payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CsvReceived(Event):
    subject: ClassVar[str] = "csv.received"


@dataclass(frozen=True)
class ImageCompressed(Event):
    subject: ClassVar[str] = "image.compressed"
    image_id: int
    input_url: str
    output_url: str
    input_bytes: int
    output_bytes: int
    format: str


@dataclass(frozen=True)
class ImageFailed(Event):
    subject: ClassVar[str] = "image.failed"
    image_id: int
    input_url: str
    reason: str
    error: str


@dataclass(frozen=True)
class JobEnded(Event):
    """The webhook's body too: the same fields, so subscribers and receivers agree."""

    status: str
    output_csv_url: str | None
    report_url: str | None
    total_images: int
    processed_images: int
    failed_images: int
    completed_at: str | None

    def payload(self) -> dict[str, Any]:
        return {"type": self.subject, **asdict(self)}


@dataclass(frozen=True)
class JobCompleted(JobEnded):
    subject: ClassVar[str] = "job.completed"


@dataclass(frozen=True)
class JobFailed(JobEnded):
    subject: ClassVar[str] = "job.failed"


@dataclass(frozen=True)
class WebhookDelivered(Event):
    subject: ClassVar[str] = "webhook.delivered"
    url: str
    attempts: int
    status_code: int


@dataclass(frozen=True)
class WebhookFailed(Event):
    subject: ClassVar[str] = "webhook.failed"
    url: str
    attempts: int
    status_code: int | None
    error: str
