"""The OpenAPI 3 document of every endpoint; a test checks it against the app's routes."""

from __future__ import annotations

from typing import Any

from ops.config import Config
from svc.upload import FORMATS, MAX_DIMENSION

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): _json(_ERROR, "error, with a precise description") for code in codes}


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


def _upload_form(config: Config) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary", "description": "the CSV"},
            "webhook_url": {"type": "string", "format": "uri"},
            "format": {"type": "string", "enum": list(FORMATS), "default": "original"},
            "quality": {
                "type": "integer",
                "minimum": 1,
                "maximum": 100,
                "default": config.default_quality,
            },
            "max_width": {"type": "integer", "minimum": 1, "maximum": MAX_DIMENSION},
            "max_height": {"type": "integer", "minimum": 1, "maximum": MAX_DIMENSION},
        },
        "additionalProperties": False,
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
                **_errors(400, 413, 415, 422),
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
                **_errors(404),
            },
        }
    }


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
            "state": {"type": "string", "enum": ["pending", "delivered", "failed"]},
            "attempts": {"type": "integer", "minimum": 0},
            "last_status_code": _nullable("integer"),
        },
    }
    status_props: dict[str, Any] = {
        "request_id": {"type": "string"},
        "status": {"type": "string", "enum": ["pending", "processing", "completed", "failed"]},
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
            "required": ["title"],
            "properties": {"title": {"type": "string"}, "description": {"type": "string"}},
        },
        "Accepted": {
            "type": "object",
            "required": ["request_id", "status", "status_url"],
            "properties": {
                "request_id": {"type": "string"},
                "status": {"type": "string", "enum": ["pending"]},
                "status_url": {"type": "string", "format": "uri"},
            },
        },
        "Status": {"type": "object", "required": list(status_props), "properties": status_props},
    }


def document(config: Config) -> dict[str, Any]:
    upload = _upload(config)
    ready = _plain("Redis and the database answer", "application/json", 503)
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
            "/healthz": _plain("The process is up", "application/json"),
            "/readyz": ready,
            "/metrics": _plain("Prometheus metrics", "text/plain"),
            "/openapi.json": _plain("This document", "application/json"),
            "/output_csv/{file}": _file("An output CSV", "text/csv", "file"),
            "/reports/{file}": _file("A report CSV", "text/csv", "file"),
            "/output_images/{path}": _file("An output image", "image/*", "path"),
        },
        "components": {"schemas": _schemas()},
    }
