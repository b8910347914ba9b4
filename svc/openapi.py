"""The OpenAPI 3.1 document of every endpoint, the webhook and the event payloads
(svc/openapi_events.py); a test checks it against the app's routes."""

from __future__ import annotations

from typing import Any

from actors.formats import AUTO_FORMATS, DEFAULT_ACCEPT, REQUESTABLE_FORMATS
from actors.option_fields import MAX_DIMENSION
from ops.config import Config
from storage.vocabulary import JobStatus, WebhookState
from svc import openapi_events
from svc.upload import MAX_FIELD_BYTES

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): _json(_ERROR, "error, with a precise description") for code in codes}


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


# A blank field (empty, or only whitespace) is taken as left out, as a browser's form sends it.
_BLANK = {"type": "string", "pattern": r"^\s*$"}


def _or_blank(schema: dict[str, Any], **outer: Any) -> dict[str, Any]:
    return {"anyOf": [schema, _BLANK], **outer}


def _accept_pattern() -> str:
    """Comma-separated names (any case, blanks around them, empty items ignored), at least one:
    what `accept` takes. Spelled letter by letter: JSON Schema's regexes have no (?i)."""
    names = "|".join("".join(f"[{c.lower()}{c.upper()}]" for c in name) for name in AUTO_FORMATS)
    item = rf"\s*({names})\s*"
    return rf"^(\s*,)*{item}(,({item}|\s*))*$"


def _upload_form(config: Config) -> dict[str, Any]:
    dimension = {"type": "integer", "minimum": 1, "maximum": MAX_DIMENSION}
    return {
        "type": "object",
        "required": ["file"],
        "description": (
            f"A blank field is the same as a field left out. Every field but `file` holds at "
            f"most {MAX_FIELD_BYTES} bytes (413 past that); surrounding whitespace is ignored."
        ),
        "properties": {
            "file": {
                "type": "string",
                "format": "binary",
                "description": f"the CSV: UTF-8, at most {config.max_csv_bytes} bytes",
            },
            "webhook_url": _or_blank(
                {"type": "string", "format": "uri"},
                description="absolute http(s) URL, without a user name or password",
            ),
            "format": _or_blank(
                {"type": "string", "enum": list(REQUESTABLE_FORMATS)},
                default="original",
                description=(
                    "case-insensitive; the report's `format` column names the output's. "
                    "`original`: JPEG, PNG, WebP and AVIF keep their format, and an image neither "
                    "resized nor turned is never larger than the download (its own bytes, minus "
                    "metadata, when re-encoding would not shrink them); GIF, BMP, TIFF and PPM "
                    "become the smaller of PNG and, for an opaque photograph (no transparency, "
                    "more than 256 colours or 16 grey levels), JPEG at `quality`, which may still "
                    "be larger than the download when no smaller faithful output exists (a tiny "
                    "GIF); an animated GIF gives its first frame. `auto`: the smallest of the "
                    "formats in `accept`, each at the quality that meets the perceptual target "
                    "(`quality` must then be `auto` or left out)"
                ),
            ),
            "quality": _or_blank(
                {
                    "anyOf": [
                        {"type": "integer", "minimum": 1, "maximum": 100},
                        {"type": "string", "enum": ["auto"]},
                    ]
                },
                default=config.default_quality,
                description=(
                    "1-100 on each format's own scale, or `auto` (case-insensitive): per image, "
                    "the lowest quality whose output still scores SSIMULACRA2 "
                    f"{config.auto_target:g} or more against the decoded input, as Pillow's "
                    "JPEG at quality 50 does on typical photos. Default: `auto` with "
                    f"`format=auto`, else {config.default_quality}. PNG is lossless and ignores it"
                ),
            ),
            "max_width": _or_blank(dimension),
            "max_height": _or_blank(dimension),
            "accept": _or_blank(
                {
                    "type": "string",
                    "pattern": _accept_pattern(),
                    "examples": ["avif,webp,jpeg", "webp,jpeg"],
                },
                default=",".join(DEFAULT_ACCEPT),
                description=(
                    "comma-separated formats that `format=auto` may choose from, among "
                    f"{', '.join(AUTO_FORMATS)} (case-insensitive, any order). Allowed without "
                    "`format=auto`, but then it has no effect"
                ),
            ),
        },
        "additionalProperties": False,
        "examples": [
            {
                "file": "S. No, Product Name, Input URLs\n1,SKU1,https://example.com/a.jpg\n",
                "format": "webp",
                "quality": 70,
            }
        ],
    }


def _upload(config: Config) -> dict[str, Any]:
    accepted = {"$ref": "#/components/schemas/Accepted"}
    return {
        "post": {
            "summary": "Upload a CSV of products and image URLs",
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                },
            ],
            "requestBody": {
                "required": True,
                "content": {"multipart/form-data": {"schema": _upload_form(config)}},
            },
            "responses": {
                "202": {
                    **_json(accepted, "job created"),
                    "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
                },
                "200": _json(accepted, "the same Idempotency-Key again: the first response"),
                **_errors(400, 413, 415, 422, 503),
            },
        }
    }


def _status() -> dict[str, Any]:
    return {
        "get": {
            "summary": "A job's status and progress",
            "parameters": [
                {
                    "name": "request_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                },
            ],
            "responses": {
                "200": _json({"$ref": "#/components/schemas/Status"}, "the job"),
                **_errors(404, 503),
            },
        }
    }


def _json_get(summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"summary": summary, "responses": responses}}


def _readiness() -> dict[str, Any]:
    ready = {"$ref": "#/components/schemas/Readiness"}
    return _json_get(
        "Redis and the database answer",
        {
            "200": _json(ready, "both answer"),
            "503": _json(ready, "one does not; `failures` says which (the log says why)"),
        },
    )


def _plain(summary: str, content_type: str, *codes: int) -> dict[str, Any]:
    response = {"description": summary, "content": {content_type: {"schema": {"type": "string"}}}}
    return {"get": {"summary": summary, "responses": {"200": response, **_errors(*codes)}}}


def _file(summary: str, content_type: str, name: str) -> dict[str, Any]:
    operation = _plain(summary, content_type, 404)
    operation["get"]["parameters"] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
    ]
    return operation


def _schemas() -> dict[str, Any]:
    webhook = {
        "type": ["object", "null"],
        "required": ["url", "state", "attempts", "last_status_code"],
        "properties": {
            "url": {"type": "string"},
            "state": {"type": "string", "enum": list(WebhookState)},
            "attempts": {"type": "integer", "minimum": 0},
            "last_status_code": _nullable("integer"),
        },
    }
    status_props: dict[str, Any] = {
        "request_id": {"type": "string"},
        "status": {"type": "string", "enum": list(JobStatus)},
        "total_images": {"type": "integer"},
        "processed_images": {"type": "integer"},
        "failed_images": {"type": "integer"},
        "progress": {"type": "number", "minimum": 0, "maximum": 1},
        "skipped_rows": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"row": {"type": "integer"}, "reason": {"type": "string"}},
            },
        },
        "output_csv_url": _nullable("string"),
        "report_url": _nullable("string"),
        "webhook": webhook,
        "created_at": {"type": "string", "format": "date-time"},
        "completed_at": _nullable("string"),
        "error": _nullable("string"),
    }
    return {
        "Error": {
            "type": "object",
            "required": ["title", "description"],
            "properties": {"title": {"type": "string"}, "description": {"type": "string"}},
        },
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string", "enum": ["ok"]}},
        },
        "Readiness": {
            "type": "object",
            "required": ["status", "failures"],
            "properties": {
                "status": {"type": "string", "enum": ["ready", "unavailable"]},
                "failures": {
                    "type": "object",
                    "description": "what does not answer (redis, database); never its error",
                    "additionalProperties": {"type": "string"},
                },
                "title": {"type": "string", "description": "when unavailable"},
                "description": {"type": "string", "description": "when unavailable"},
            },
        },
        "Accepted": {
            "type": "object",
            "required": ["request_id", "status", "status_url"],
            "properties": {
                "request_id": {"type": "string"},
                "status": {"type": "string", "enum": [JobStatus.PENDING]},
                "status_url": {"type": "string", "format": "uri"},
            },
        },
        "Status": {"type": "object", "required": list(status_props), "properties": status_props},
    }


def document(config: Config) -> dict[str, Any]:
    upload = _upload(config)
    health = {"$ref": "#/components/schemas/Health"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "imgpress",
            "version": "1.0.0",
            "description": "Bulk product-image compression: CSV in, images and a report out.",
        },
        "servers": [{"url": config.public_base_url}],
        "paths": {
            "/upload": upload,
            "/upload/": upload,
            "/status/{request_id}": _status(),
            "/healthz": _json_get("The process is up", {"200": _json(health, "it is")}),
            "/readyz": _readiness(),
            "/metrics": _plain("Prometheus metrics", "text/plain"),
            "/openapi.json": _json_get(
                "This document", {"200": _json({"type": "object"}, "an OpenAPI 3.1 document")}
            ),
            "/output_csv/{file}": _file("An output CSV", "text/csv", "file"),
            "/reports/{file}": _file("A report CSV", "text/csv", "file"),
            "/output_images/{path}": _file("An output image", "image/*", "path"),
        },
        "webhooks": openapi_events.webhooks(config),
        "components": {"schemas": {**_schemas(), **openapi_events.schemas()}},
    }
