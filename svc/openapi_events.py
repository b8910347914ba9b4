"""The parts of the OpenAPI document that describe what imgpress sends rather than answers: the
webhook POST (OpenAPI 3.1 `webhooks`) and the event payloads subscribers receive (contract §6,
§10), one component schema per subject, named by its `x-subject`.

Written to match actors/happenings.py (the fields), storage/outbox.py `stage` (the envelope)
and actors/deliver_webhook.py (the POST); tests/svc/test_openapi_events.py checks real
payloads and webhook bodies against it.
"""

from __future__ import annotations

from typing import Any

from actors.formats import FORMAT_EXTENSIONS
from ops.config import Config
from storage.vocabulary import FailureReason

SCHEMAS = "#/components/schemas/"
# What `stage` writes: "evt_" + secrets.token_hex(12), and a naive UTC datetime's isoformat()
# + "Z", which leaves out the fraction when the microseconds are zero.
EVENT_ID_PATTERN = r"^evt_[0-9a-f]{24}$"
UTC_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?Z$"
_UTC_TEXT = "RFC 3339 in UTC (`Z`), with microseconds unless they are zero"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": SCHEMAS + name}


def _object(description: str, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Every property is always sent, so every one is required."""
    return {
        "type": "object",
        "description": description,
        "required": list(properties),
        "properties": properties,
        **extra,
    }


def _count(description: str, minimum: int = 0) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "description": description}


_REQUEST_ID = {"type": "string", "description": "the job, as `POST /upload` named it"}
_UTC = {"type": "string", "format": "date-time", "pattern": UTC_PATTERN}


def _envelope() -> dict[str, Any]:
    return _object(
        "What every event payload carries besides its own fields (contract §10). Delivery is "
        "at least once (a relay resends what a crashed process committed but did not send): "
        "de-duplicate on `event_id`.",
        {
            "event_id": {
                "type": "string",
                "pattern": EVENT_ID_PATTERN,
                "description": (
                    "`evt_` and 24 lowercase hex digits: the same on every delivery of this "
                    "event, different for every other event"
                ),
            },
            "occurred_at": {
                **_UTC,
                "description": f"when the state change it reports was committed; {_UTC_TEXT}",
            },
        },
    )


def _event(subject: str, body: dict[str, Any]) -> dict[str, Any]:
    """A payload as `stage` builds it: the body's fields and the envelope's, side by side."""
    return {"allOf": [_ref("EventEnvelope"), body], "x-subject": subject}


def _job_ended(done: bool) -> dict[str, Any]:
    url = {"type": "string", "format": "uri"} if done else {"type": "null"}
    which = "output CSV" if done else "output CSV (none: the job failed)"
    return _object(
        (
            "The job completed: its output CSV and report are written; images that could not "
            "be fetched or decoded count in `failed_images`."
            if done
            else "The job as a whole could not be done (its CSV could not be read or split, "
            "its outputs could not be written). `GET /status/{request_id}` says why in `error`."
        ),
        {
            "type": {"type": "string", "const": "job.completed" if done else "job.failed"},
            "request_id": _REQUEST_ID,
            "status": {"type": "string", "const": "completed" if done else "failed"},
            "output_csv_url": {**url, "description": f"the {which}"},
            "report_url": {**url, "description": "the report" if done else "none"},
            "total_images": _count("URL slots of the CSV, a repeated URL counted each time"),
            "processed_images": _count("slots whose image was compressed"),
            "failed_images": _count("slots whose image failed"),
            "completed_at": {**_UTC, "description": f"when the job ended; {_UTC_TEXT}"},
        },
    )


def _image_fields() -> dict[str, Any]:
    return {
        "request_id": _REQUEST_ID,
        "image_id": {
            "type": "integer",
            "description": "one per distinct URL of the job: every slot naming it shares it",
        },
        "input_url": {"type": "string", "description": "the URL as the CSV gave it"},
    }


def _image_compressed() -> dict[str, Any]:
    return _object(
        "A distinct URL of the job was fetched, compressed and stored.",
        {
            **_image_fields(),
            "output_url": {"type": "string", "format": "uri", "description": "the stored image"},
            "input_bytes": _count("bytes downloaded"),
            "output_bytes": _count("bytes stored"),
            "format": {"type": "string", "enum": list(FORMAT_EXTENSIONS)},
        },
    )


def _image_failed() -> dict[str, Any]:
    return _object(
        "A distinct URL of the job failed; the job goes on. Sent by compress_image, by the split "
        "for a URL that is not absolute http(s), and by the watchdog for an image that made no "
        "progress within IMGPRESS_JOB_DEADLINE.",
        {
            **_image_fields(),
            "reason": {"type": "string", "enum": sorted(FailureReason)},
            "error": {
                "type": "string",
                "description": "a short human message; the report shows `<reason>: <error>`",
            },
        },
    )


def _webhook_fields() -> dict[str, Any]:
    return {
        "request_id": _REQUEST_ID,
        "url": {"type": "string", "description": "the job's `webhook_url`"},
        "attempts": _count("the attempt this outcome came from, counting from 1", minimum=1),
    }


def _webhook_delivered() -> dict[str, Any]:
    return _object(
        "The job's webhook was answered with a 2xx.",
        {
            **_webhook_fields(),
            "status_code": {"type": "integer", "minimum": 200, "maximum": 299},
        },
    )


def _webhook_failed() -> dict[str, Any]:
    return _object(
        "The job's webhook will not be attempted again: a 410, an error another attempt cannot "
        "fix, or the last attempt of IMGPRESS_WEBHOOK_RETRY_DELAYS failed.",
        {
            **_webhook_fields(),
            "status_code": {
                "type": ["integer", "null"],
                "description": "the last answer's status; null when there was no answer",
            },
            "error": {
                "type": "string",
                "description": (
                    "why: `the receiver answered <status>`, or a reason and a short message "
                    "(`timeout: ...`, `blocked_address: ...`)"
                ),
            },
        },
    )


def _csv_received() -> dict[str, Any]:
    return _object(
        "The API (or `imgpress process`) accepted a CSV and opened the job; the split starts "
        "on this event.",
        {"request_id": _REQUEST_ID},
    )


def schemas() -> dict[str, Any]:
    """Component schemas: the envelope, the webhook's two bodies, and one per event subject."""
    return {
        "EventEnvelope": _envelope(),
        "JobCompletedWebhook": _job_ended(done=True),
        "JobFailedWebhook": _job_ended(done=False),
        "JobEndedWebhook": {"oneOf": [_ref("JobCompletedWebhook"), _ref("JobFailedWebhook")]},
        "CsvReceivedEvent": _event("csv.received", _csv_received()),
        "ImageCompressedEvent": _event("image.compressed", _image_compressed()),
        "ImageFailedEvent": _event("image.failed", _image_failed()),
        # The job's events are its webhook's body with the envelope (actors/happenings.JobEnded).
        "JobCompletedEvent": _event("job.completed", _ref("JobCompletedWebhook")),
        "JobFailedEvent": _event("job.failed", _ref("JobFailedWebhook")),
        "WebhookDeliveredEvent": _event("webhook.delivered", _webhook_delivered()),
        "WebhookFailedEvent": _event("webhook.failed", _webhook_failed()),
    }


def _header(name: str, required: bool, description: str, pattern: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string", "pattern": pattern},
    }


def _signing_headers() -> list[dict[str, Any]]:
    return [
        _header(
            "webhook-id",
            True,
            "`msg_` and the request_id: the same on every attempt, so drop repeats on it",
            r"^msg_[A-Za-z0-9_-]+$",
        ),
        _header("webhook-timestamp", True, "unix seconds of this attempt", r"^[0-9]+$"),
        _header(
            "webhook-signature",
            False,
            "`v1,` and base64(HMAC-SHA256(key, `{webhook-id}.{webhook-timestamp}.{body}`)) with "
            "the key of IMGPRESS_WEBHOOK_SECRET (`whsec_<base64 key>`); sent when it is set "
            "(Standard Webhooks)",
            r"^v1,[A-Za-z0-9+/]+={0,2}$",
        ),
    ]


def webhooks(config: Config) -> dict[str, Any]:
    """The POST a job's `webhook_url` receives when the job ends (contract §5)."""
    attempts = 1 + len(config.webhook_retry_delays)
    delays = ", ".join(f"{delay:g}" for delay in config.webhook_retry_delays) or "none"
    body = {"schema": _ref("JobEndedWebhook")}
    return {
        "jobEnded": {
            "post": {
                "summary": "A job ended: completed or failed",
                "description": (
                    "One POST per attempt when a job that has a `webhook_url` ends; the body is "
                    "its job.completed or job.failed event without `event_id` and "
                    "`occurred_at`. Redirects are not followed. It never delays or fails the "
                    "job; `GET /status/{request_id}` shows the delivery in `webhook`."
                ),
                "parameters": _signing_headers(),
                "requestBody": {"required": True, "content": {"application/json": body}},
                "responses": {
                    "2XX": {"description": "delivered: no further attempt"},
                    "410": {"description": "gone: no further attempt"},
                    "default": {
                        "description": (
                            f"any other answer, no answer within {config.webhook_timeout:g} s or "
                            f"a refused connection: attempted again after each delay of "
                            f"IMGPRESS_WEBHOOK_RETRY_DELAYS (here {delays} s), {attempts} "
                            f"attempts in all. A host that resolves to a blocked address, a "
                            f"name that does not resolve or an invalid TLS certificate stop "
                            f"at once"
                        )
                    },
                },
            }
        }
    }
